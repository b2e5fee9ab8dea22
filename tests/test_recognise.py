"""Recognition by meaning and values, on layouts no profile knows: the header-variation generator's
accuracy, and a test for each mistake a matcher can make."""

from __future__ import annotations

import random
from datetime import datetime

import polars as pl
import pytest

from lakectl.transform import parse
from lakectl.transform.profiles import BUILT_IN
from lakectl.transform.recognise import classify_status, tokens, understand
from lakectl.transform.silver import status_lookup

from .variations import STATUS_WORDS, accuracy, variation


def bronze(columns: dict[str, list[str]], file: str = "export.csv", sheet: str = "export") -> pl.DataFrame:
    rows = len(next(iter(columns.values())))
    return pl.DataFrame(columns).with_columns(
        pl.lit(file).alias("_source_file"),
        pl.lit(sheet).alias("_sheet"),
        pl.int_range(1, rows + 1).alias("_row"),
    )


def test_generated_layouts_are_mapped_without_any_profile():
    result = accuracy(count=40, seed=5)
    assert result["fields"] >= 0.97, result
    assert result["layouts"] >= 0.85, result


@pytest.mark.parametrize("platform", ["hotmart", "clickbank", "hand-kept"])
def test_each_platform_shape_keeps_its_required_fields(platform):
    case = variation(random.Random(3), platform)
    layout, _ = understand(case.frame)
    for name in ("transaction_id", "gross_amount", "purchased_at"):
        assert layout.mapping.get(name) == case.truth[name], (name, case.headers, layout.to_dict())


def test_labels_fold_units_stop_words_and_abbreviations():
    assert tokens("Vlr. Total (R$)") == ["valor", "total", "r"]
    assert tokens("Nº do Pedido") == ["numero", "pedido"]
    assert tokens("E-mail do(a) Comprador(a)") == ["email", "comprador"]
    assert tokens("orderDate") == ["order", "date"]


DATES = ["01/10/2026 10:00", "02/10/2026 11:30", "03/10/2026 09:15"]


def test_a_date_column_is_never_an_id():
    # "Transação em" holds dates and names a transaction; the id is the plain reference
    layout, _ = understand(bronze({"transacao_em": DATES, "referencia": ["A17", "B22", "C93"],
                                   "valor": ["10,00", "20,00", "30,00"]}))  # fmt: skip
    assert layout.mapping["transaction_id"] == "referencia"
    assert layout.mapping["purchased_at"] == "transacao_em"


def test_gross_beats_net_and_the_paid_with_interest_total():
    layout, _ = understand(bronze({"pedido": ["1", "2", "3"], "data": DATES, "valor_liquido": ["9,00", "18,00", "27,00"],
                                   "valor_pago": ["11,20", "22,40", "33,60"], "valor_da_venda": ["10,00", "20,00", "30,00"]}))  # fmt: skip
    assert layout.mapping["gross_amount"] == "valor_da_venda"
    assert layout.mapping["net_amount"] == "valor_liquido"
    assert "header AMOUNT+SALE" in layout.fields["gross_amount"].evidence


def test_a_column_that_parses_as_money_beats_one_that_only_says_valor():
    layout, _ = understand(bronze({"pedido": ["1", "2", "3"], "data": DATES, "valor_observacao": ["ok", "ver", "pago"],
                                   "total": ["10,00", "20,00", "30,00"]}))  # fmt: skip
    assert layout.mapping["gross_amount"] == "total"


def test_a_notes_column_is_not_a_status():
    notes = [
        "cliente ligou pedindo boleto novo",
        "entregue por email dia 3",
        "sem resposta ainda",
        "pediu nota",
    ]
    layout, _ = understand(bronze({"pedido": ["1", "2", "3", "4"], "data": DATES + DATES[:1],
                                   "valor": ["1,00", "2,00", "3,00", "4,00"], "observacoes": notes}))  # fmt: skip
    assert "status" not in layout.mapping
    with_status = bronze({"pedido": ["1", "2"], "data": DATES[:2], "valor": ["1,00", "2,00"],
                          "obs": ["ligar amanhã cedo", "pago via pix, confirmar"], "situacao": ["Pago", "Pendente"]})  # fmt: skip
    assert understand(with_status)[0].mapping["status"] == "situacao"


def test_values_alone_find_an_email_and_a_cpf_column():
    layout, _ = understand(bronze({"pedido": ["1", "2"], "data": DATES[:2], "valor": ["1,00", "2,00"],
                                   "contato": ["a@x.com", "b@y.org"], "ident": ["529.982.247-25", "111.444.777-35"]}))  # fmt: skip
    assert layout.mapping["customer_email"] == "contato"
    assert layout.mapping["customer_document"] == "ident"


@pytest.mark.parametrize("status", sorted(STATUS_WORDS))
def test_statuses_by_vocabulary_in_four_languages(status):
    for label in STATUS_WORDS[status]:
        assert classify_status(label) == status, label


def test_an_unclassifiable_status_is_unknown_not_guessed():
    assert classify_status("Xyzzy") is None
    assert classify_status("") is None


def test_a_sales_layout_with_no_platform_is_unknown_and_a_sheet_name_gives_one():
    frame = bronze(
        {"pedido": ["1", "2"], "data": DATES[:2], "valor": ["1,00", "2,00"]},
        file="controle.xlsx",
        sheet="Vendas",
    )
    layout, profile = understand(frame)
    assert layout.kind == "sales" and layout.platform is None and profile.priority == 0
    assert "unknown" in layout.platform_evidence[0]
    per_sheet = bronze(
        {"pedido": ["1", "2"], "data": DATES[:2], "valor": ["1,00", "2,00"]},
        file="controle.xlsx",
        sheet="Kiwify",
    )
    assert "Kiwify -> kiwify" in understand(per_sheet)[0].platform_evidence[0]
    named = bronze(
        {"pedido": ["1", "2"], "data": DATES[:2], "valor": ["1,00", "2,00"]}, file="braip_vendas_out.csv"
    )
    layout, profile = understand(named)
    assert layout.platform == "braip" and profile.priority == 1 and "file name" in layout.platform_evidence[0]


def test_a_summary_sheet_is_recognised_as_not_sales():
    frame = bronze({"plataforma": ["Hotmart", "Kiwify"], "qtd_vendas": ["12", "7"], "receita_total": ["1.200,00", "700,00"]},
                   file="controle.xlsx", sheet="Resumo")  # fmt: skip
    layout, _ = understand(frame)
    assert layout.kind == "summary" and "Resumo" in layout.notes[0]


def test_a_totals_sheet_whose_counts_look_like_ids_is_still_a_summary():
    frame = bronze({"plataforma": ["Hotmart", "Kiwify"], "vendas": ["12", "7"], "receita_r": ["1.200,00", "700,00"]},
                   file="controle.xlsx", sheet="Consolidado")  # fmt: skip
    assert understand(frame)[0].kind == "summary"
    sales = bronze({"plataforma": ["Hotmart", "Kiwify"], "no_venda": ["12", "7"], "valor_total": ["1.200,00", "700,00"]},
                   file="controle.xlsx", sheet="Vendas")  # fmt: skip
    assert understand(sales)[0].kind == "sales"


@pytest.mark.parametrize(
    "label,status",
    [("PROTESTED", "refund_pending"), ("BILLET_PRINTED", "pending"), ("UNDER_ANALISYS", "blocked"),
     ("NO_FUNDS", "refused"), ("Em dia", "approved"), ("Pagamento atrasado", "pending"),
     ("pending_refund", "refund_pending"), ("chargedback", "chargeback"), ("Reembolso pendente", "refund_pending")],
)  # fmt: skip
def test_platform_api_status_codes(label, status):
    assert classify_status(label) == status


def test_under_review_is_blocked_for_every_platform_too():
    for profile in BUILT_IN:
        assert status_lookup(["em analise"], profile) == {"em analise": "blocked"}, profile.name


@pytest.mark.parametrize(
    "text,when",
    [("26.08.2026 21:30", datetime(2026, 8, 26, 21, 30)), ("26.08.2026, 21:30", datetime(2026, 8, 26, 21, 30)),
     ("01/10/2026 às 14:03", datetime(2026, 10, 1, 14, 3)), ("13-10-2026 08:00:05", datetime(2026, 10, 13, 8, 0, 5)),
     ("05/10/26", datetime(2026, 10, 5)), ("5.10.2026", datetime(2026, 10, 5)), ("2026-10-05", datetime(2026, 10, 5))],
)  # fmt: skip
def test_dates_with_dots_dashes_a_word_before_the_time_or_two_digit_years(text, when):
    parsed = pl.select(parse.timestamp(pl.lit(text), "UTC", True)).item()
    assert parsed is not None and parsed.replace(tzinfo=None) == when


def test_a_german_compound_is_read_by_its_parts():
    # "Bestellungs|typ": the kind of row of an event list; "Kunden|nummer" is a customer's, not a sale's
    layout, _ = understand(bronze({"bestellungstyp": ["Zahlung", "Zahlung", "Rückerstattung"],
                                   "kundennummer": ["K1", "K2", "K1"], "auftrag": ["A1", "A2", "A1"],
                                   "datum": DATES, "summe": ["10,00", "20,00", "-10,00"]}))  # fmt: skip
    assert layout.mapping["event"] == "bestellungstyp"
    assert layout.mapping["transaction_id"] == "auftrag"


def test_between_money_columns_the_header_cannot_tell_apart_the_gross_is_the_largest():
    layout, _ = understand(bronze({"pedido": ["1", "2", "3"], "data": DATES, "importe": ["8,50", "17,00", "25,50"],
                                   "montante": ["10,00", "20,00", "30,00"]}))  # fmt: skip
    assert layout.mapping["gross_amount"] == "montante"


def test_the_sellers_own_share_is_net_not_gross():
    layout, _ = understand(bronze({"pedido": ["1", "2", "3"], "data": DATES, "valor": ["10,00", "20,00", "30,00"],
                                   "minha_receita": ["8,00", "16,00", "24,00"]}))  # fmt: skip
    assert layout.mapping["gross_amount"] == "valor"
    assert layout.mapping["net_amount"] == "minha_receita"


def test_a_file_named_after_a_platform_outweighs_one_tracking_word_in_the_headers():
    columns = {"pedido": ["1", "2"], "data": DATES[:2], "valor": ["1,00", "2,00"], "src": ["ig", "fb"]}
    layout, _ = understand(bronze(columns, file="relatorio braip janeiro.csv"))
    assert layout.platform == "braip", layout.platform_evidence


@pytest.mark.parametrize(
    ("label", "status"),
    [("Disputa aberta", "chargeback"), ("Devolução em análise", "refund_pending"),
     ("Refund under review", "refund_pending"), ("Erstattung in Bearbeitung", "refund_pending"),
     ("Kauf", "approved"), ("Valor recebido", "approved"), ("Pagamento não autorizado", "refused"),
     ("Not paid", "refused"), ("Liberada", "approved"), ("Quitado", "approved"), ("Assinatura ativa", "approved"),
     ("Inactive", "cancelled"), ("Succeeded", "approved"), ("Carrinho abandonado", "cancelled"),
     ("Em atraso", "pending"), ("Past due", "pending"), ("Renovação", "approved"), ("Frustrada", "refused"),
     ("Charge back", "chargeback"), ("Verkauf abgeschlossen", "approved"), ("Ticket generado", "pending"),
     ("Noch nicht bezahlt", "pending"), ("Cliente desistiu", "cancelled"), ("A receber", "pending"),
     ("Refund processed", "refunded"), ("Estorno em processamento", "refund_pending"),
     ("Chargeback being reviewed", "chargeback"), ("Rückzahlung erfolgt", "refunded"), ("Faltando pagar", "pending")],
)  # fmt: skip
def test_disputes_refunds_in_progress_negations_subscriptions_and_event_rows(label, status):
    assert classify_status(label) == status


def test_a_description_is_what_was_sold_and_a_bare_name_is_the_buyer():
    layout, _ = understand(bronze({"protocolo": ["P1", "P2", "P3"], "data": DATES, "descricao": ["Curso A", "Curso B", "Curso A"],
                                   "nome": ["Ana Lima", "Rui Costa", "Ana Lima"], "valor": ["1,00", "2,00", "1,00"]}))  # fmt: skip
    assert layout.mapping["product_name"] == "descricao"
    assert layout.mapping["customer_name"] == "nome"
    assert layout.mapping["transaction_id"] == "protocolo"


def test_in_an_event_list_the_key_is_the_orders_id_not_the_payments():
    layout, _ = understand(bronze({"id_do_pagamento": ["90001", "90002", "90003"], "numero_do_pedido": ["A1", "A2", "A1"],
                                   "tipo": ["Pagamento", "Pagamento", "Estorno"], "data": DATES,
                                   "valor": ["10,00", "20,00", "-10,00"]}))  # fmt: skip
    assert layout.mapping["transaction_id"] == "numero_do_pedido"


def test_a_first_and_last_name_together_are_the_whole_name():
    names = ["Ana Lima", "Rui Costa", "Eva Souza"]
    layout, _ = understand(bronze({"pedido": ["1", "2", "3"], "data": DATES, "valor": ["1,00", "2,00", "3,00"],
                                   "nome_e_sobrenome": names}))  # fmt: skip
    assert layout.mapping["customer_name"] == "nome_e_sobrenome"
    split, _ = understand(bronze({"pedido": ["1", "2", "3"], "data": DATES, "valor": ["1,00", "2,00", "3,00"],
                                  "first_name": ["Ana", "Rui", "Eva"], "last_name": ["Lima", "Costa", "Souza"]}))  # fmt: skip
    assert split.mapping["customer_first_name"] == "first_name"
    assert split.mapping["customer_last_name"] == "last_name"


def test_a_completion_date_is_when_it_was_paid_and_the_purchase_date_is_the_purchase():
    layout, _ = understand(bronze({"ref": ["1", "2", "3"], "finished_date": DATES, "bought_on": DATES,
                                   "valor": ["1,00", "2,00", "3,00"]}))  # fmt: skip
    assert layout.mapping["purchased_at"] == "bought_on"
    assert layout.mapping["approved_at"] == "finished_date"


def test_an_affiliates_share_is_a_commission_and_a_count_of_installments_is_not_money():
    layout, _ = understand(bronze({"pedido": ["1", "2", "3"], "data": DATES, "valor": ["100,00", "200,00", "300,00"],
                                   "liquido_parceiro": ["30,00", "60,00", "90,00"], "minha_parte": ["60,00", "120,00", "180,00"],
                                   "total_de_prestacoes": ["1", "6", "12"], "valor_da_prestacao": ["100,00", "33,33", "25,00"],
                                   "sku_do_produto": ["ab-12", "cd-34", "ab-12"]}))  # fmt: skip
    assert layout.mapping["commission_amount"] == "liquido_parceiro"
    assert layout.mapping["net_amount"] == "minha_parte"
    assert layout.mapping["installments"] == "total_de_prestacoes"
    assert layout.mapping["product_id"] == "sku_do_produto"


def test_a_purchase_date_in_the_past_tense_is_the_purchase():
    for label in ("comprado_em", "gekauft_am"):
        layout, _ = understand(
            bronze({"pedido": ["1", "2", "3"], label: DATES, "valor": ["1,00", "2,00", "3,00"]})
        )
        assert layout.mapping.get("purchased_at") == label, label


def test_dates_with_the_months_name_in_four_languages():
    when = ["18 de ago. de 2026 17:58", "Aug 18, 2026 5:58 PM", "18. Aug. 2026 17:58"]
    got = pl.DataFrame({"v": when}).select(parse.timestamp(pl.col("v"), "UTC", True))["v"].to_list()
    assert [t.replace(tzinfo=None) for t in got] == [datetime(2026, 8, 18, 17, 58)] * 3


def test_the_platforms_id_of_a_sale_is_the_sales_id_and_a_platform_column_is_not():
    layout, _ = understand(bronze({"id_da_venda_na_plataforma": ["K1", "K2", "K3"], "plataforma": ["Kiwify", "Braip", "Kiwify"],
                                   "data": DATES, "valor": ["1,00", "2,00", "3,00"]}))  # fmt: skip
    assert layout.mapping["transaction_id"] == "id_da_venda_na_plataforma"
    assert layout.mapping["platform"] == "plataforma"
