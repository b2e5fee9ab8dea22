import re

from hypothesis import given
from hypothesis import strategies as st

from lakectl.read.schema import detect_header, footer_length, normalise_name, schema_id, unique_names

DELTA_SAFE = re.compile(r"^[a-z][a-z0-9_]*$")
headers = st.lists(st.one_of(st.none(), st.text(max_size=40)), max_size=30)


def test_normalise_portuguese_headers():
    assert normalise_name("Código da transação") == "codigo_da_transacao"
    assert normalise_name("Email do(a) Comprador(a)") == "email_do_a_comprador_a"
    assert normalise_name("  Valor (R$) ") == "valor_r"
    assert normalise_name("2024") == "c_2024"
    assert normalise_name("customerEmail") == "customer_email"


@given(headers)
def test_unique_names_are_unique_and_delta_safe(cells):
    names = unique_names(cells)
    assert len(names) == len(cells)
    assert len(set(names)) == len(names)
    assert all(DELTA_SAFE.match(n) and len(n) <= 128 for n in names)


@given(headers)
def test_unique_names_is_idempotent(cells):
    names = unique_names(cells)
    assert unique_names(names) == names


def test_duplicate_and_empty_headers():
    assert unique_names(["a", "A", "", None, "a"]) == ["a", "a_2", "column_3", "column_4", "a_3"]


def test_schema_id_depends_on_names_and_order():
    assert schema_id(["a", "b"]) == schema_id(["a", "b"])
    assert schema_id(["a", "b"]) != schema_id(["b", "a"])


def test_header_below_title_and_period_rows():
    rows = [
        ["Relatório de vendas", None, None, None],
        [None, None, None, None],
        ["Período: 01/10/2026 a 31/10/2026", None, None, None],
        ["Código", "Produto", "Valor", "Data"],
        ["HP1", "X", "1.234,56", "01/10/2026"],
    ]
    assert detect_header(rows).index == 3


def test_numeric_first_row_is_data_not_header():
    assert detect_header([["1", "2,5"], ["3", "4"]]).index is None


def test_footer_totals_and_notes_are_cut_but_sparse_data_is_not():
    rows = [
        ["HP1", "X", "10", "d"],
        ["Total", None, "10", None],
        ["Gerado em 01/11/2026 às 10:00", None, None, None],
    ]
    assert footer_length(rows, 4) == 2
    assert footer_length([["HP1", "X", "1", "d"], ["HP2", None, None, None]], 4) == 0
    assert footer_length([["HP1", "X", "1", "d"], ["TOTAL GERAL:", None, "1", None]], 4) == 1
    for label in ("Suma total", "Summe", "Gesamtsumme", "Somatório", "Totais"):
        assert footer_length([["HP1", "X", "1", "d"], [label, None, "1", None]], 4) == 1, label
