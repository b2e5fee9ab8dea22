"""Text that is not delimited data (issue 10, item 8): a PDF, an image, random bytes or a prose note
named .csv/.txt is refused with what it looks like, while every table shape we read stays accepted.

Property-style: the pure verdict (``safety.text_problem``) over generated tables in every separator,
encoding and with title lines, one-column lists, uniformly random bytes, known binary signatures and
generated prose; then the real path, ``lakectl ingest``, on files in a landing zone.
"""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from lakectl.cli import app
from lakectl.lake import Lake, ledger
from lakectl.read.safety import SIGNATURES, TEXT_HEAD_BYTES, text_problem

from .conftest import env_for, lake_settings

LABELS = ["Código da transação", "Status", "Data da venda", "Valor de compra com impostos", "Produto", "E-mail",
          "Nome do comprador", "Cód. Produto", "Vlr. Total", "Nº da parcela", "Observações", "CPF", "Telefone",
          "id", "sku", "Moeda", "Afiliado", "Data de confirmação do pagamento"]  # fmt: skip
NAMES = ["José", "Ana", "Maria", "da", "Silva", "Souza", "Conceição", "Müller", "O'Brien", "Lúcia"]
WORDS = ["venda", "aprovada", "cliente", "pediu", "reembolso", "porque", "curso", "chegou", "atrasado", "produto",
         "ótimo", "entrega", "rápida", "pagamento", "boleto", "cartão", "parcelado", "acesso", "liberado",
         "plataforma", "suporte", "respondeu", "ontem", "semana", "próxima", "depois", "resolver", "problema"]  # fmt: skip

ids = st.from_regex(r"(HP|K|TX)[0-9]{4,10}", fullmatch=True)
money = st.integers(0, 10**8).map(lambda c: f"{c // 100:,}".replace(",", ".") + f",{c % 100:02d}")
dates = st.dates().map(lambda d: d.strftime("%d/%m/%Y 10:00:00"))
names = st.lists(st.sampled_from(NAMES), min_size=1, max_size=3).map(" ".join)
emails = st.from_regex(r"[a-z]{1,8}[.]?[a-z0-9]{0,5}@[a-z]{2,8}\.(com|com\.br|org)", fullmatch=True)
sentence = st.lists(st.sampled_from(WORDS), min_size=4, max_size=14).map(
    lambda w: " ".join(w).capitalize() + "."
)
cells = st.one_of(
    ids, money, dates, names, emails, st.just(""), sentence, st.sampled_from(["Aprovado", "1", "-"])
)
encodings = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252"])
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def encoded(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="replace")


@st.composite
def tables(draw: st.DrawFn) -> tuple[str, str]:
    """A table as an export writes it: a header of labels, rows of values (some free text), any of the
    four separators, maybe title and blank lines above it; returns (text, separator)."""
    width = draw(st.integers(2, 10))
    header = draw(st.lists(st.sampled_from(LABELS), min_size=width, max_size=width))
    rows = draw(st.lists(st.lists(cells, min_size=width, max_size=width), max_size=40))
    sep = draw(st.sampled_from([",", ";", "\t", "|"]))
    out = io.StringIO()
    titles = draw(st.lists(st.sampled_from(["Relatório de vendas", "Período: 01/10/2026 a 31/10/2026", ""]),
                           max_size=3))  # fmt: skip
    for title in titles:
        out.write(title + "\n")
    csv.writer(out, delimiter=sep, lineterminator=draw(st.sampled_from(["\n", "\r\n"]))).writerows(
        [header, *rows]
    )
    return out.getvalue(), sep


@PROPERTY
@given(tables(), encodings)
def test_any_table_in_any_separator_and_encoding_is_delimited_text(table, encoding):
    text, _ = table
    assert text_problem(encoded(text, encoding)) is None


@PROPERTY
@given(tables())
def test_a_table_cut_at_the_head_size_is_still_judged_a_table(table):
    text, _ = table
    data = text.encode()
    big = data * (TEXT_HEAD_BYTES // max(len(data), 1) + 2)
    assert text_problem(big[:TEXT_HEAD_BYTES], complete=False) is None


@PROPERTY
@given(st.sampled_from(["email", "E-mail", "id", "Código", "SKU"]), st.one_of(emails, ids, money, names),
       st.lists(st.one_of(emails, ids, money, names), min_size=0, max_size=60), encodings)  # fmt: skip
def test_one_column_of_values_under_a_header_is_a_table(label, first, values, encoding):
    text = "\n".join([label, first, *values]) + "\n"
    assert text_problem(encoded(text, encoding)) is None


@PROPERTY
@given(st.integers(0, 2**64), st.integers(512, 20_000))
def test_uniformly_random_bytes_are_binary_data(seed, size):
    data = random.Random(seed).randbytes(size)
    problem = text_problem(data) or ""
    assert problem.startswith(("binary data", *(what for _, what in SIGNATURES))), problem


@PROPERTY
@given(st.sampled_from(SIGNATURES), st.binary(max_size=300))
def test_known_binary_formats_are_named(signature, tail):
    magic, what = signature
    assert text_problem(magic + tail) == what


@st.composite
def prose(draw: st.DrawFn) -> str:
    """Running text: lines of one to three sentences, each of clauses of six words or more."""

    def clause() -> str:
        return " ".join(draw(st.lists(st.sampled_from(WORDS), min_size=6, max_size=12)))

    lines = []
    for _ in range(draw(st.integers(1, 30))):
        sentences = [", ".join(clause() for _ in range(draw(st.integers(1, 3)))).capitalize() + "."
                     for _ in range(draw(st.integers(1, 3)))]  # fmt: skip
        lines.append(" ".join(sentences))
        if draw(st.booleans()):
            lines.append("")  # paragraphs
    return "\n".join(lines) + "\n"


@PROPERTY
@given(prose(), encodings)
def test_prose_is_running_text(text, encoding):
    assert (text_problem(encoded(text, encoding)) or "").startswith("running text")


def test_shapes_that_are_not_tables():
    assert text_problem(b'[{"id": 1, "valor": 10},\n {"id": 2, "valor": 20}]') == "a JSON document"
    assert text_problem(b"<!DOCTYPE html>\n<html><body>Entrar</body></html>") == "a web page (HTML)"
    code = b"def f(a, b):\n    return a + b\n\nprint(f(1, 2), f(3, 4, 5))\nx = [1, 2, 3, 4]\n"
    assert "no consistent separator" in (text_problem(code) or "")
    # a few NUL bytes and CR-only line ends are repaired by the reader, never called binary
    assert text_problem(b"a,b\r1,x\x00y\r2,z\r") is None
    assert text_problem(b"id;valor\n1;10\n" + b"\x00" * 5000) is None


# ------------------------------------------------------------------------ through lakectl ingest


def test_ingest_refuses_what_is_not_delimited_text_and_takes_the_rest(tmp_path):
    settings = lake_settings(tmp_path)
    folder = settings.landing_zone / "diabetes"
    folder.mkdir(parents=True)
    bad = {
        "relatorio.csv": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
        "sorteio.csv": random.Random(10).randbytes(4096),
        "leia-me.txt": (
            "Este arquivo explica como exportar as vendas da plataforma, passo a passo. Abra o "
            "painel, escolha o período e clique em exportar.\n\nDepois envie o arquivo para a "
            "pasta certa, sem mudar o nome.\n"
        ).encode(),
    }
    good = {
        "emails.csv": b"email\nana@loja.com.br\njose@exemplo.com\n",
        "utf16.txt": "id\tvalor\nK1\t10,00\nK2\t20,00\n".encode("utf-16"),
        "titulo.csv": "Relatório de vendas\n\nCód. venda;Valor\nHP1;1.234,56\n".encode("cp1252"),
    }
    for name, data in {**bad, **good}.items():
        (folder / name).write_bytes(data)
    result = CliRunner().invoke(app, ["ingest", str(folder), "--json"], env=env_for(settings))
    assert result.exit_code == 4, result.output  # some file was rejected
    files = {Path(f["file"]).name: f for f in json.loads(result.stdout)["files"]}
    assert {n for n, f in files.items() if f["status"] == "rejected"} == set(bad)
    assert files["relatorio.csv"]["reason"] == "relatorio.csv looks like a PDF document, not delimited text"
    assert files["sorteio.csv"]["reason"].startswith("sorteio.csv looks like binary data (")
    assert files["leia-me.txt"]["reason"].startswith("leia-me.txt looks like running text (")
    assert all("export the sheet" in files[name]["hint"] for name in bad)
    bronze = pl.read_delta(str(settings.lake_root / "bronze" / "diabetes"))
    assert dict(bronze.group_by("_source_file").len().iter_rows()) == {"emails.csv": 2, "utf16.txt": 2,
                                                                       "titulo.csv": 1}  # fmt: skip


def test_a_zip_that_is_no_workbook_named_csv_says_so(tmp_path):
    import zipfile

    settings = lake_settings(tmp_path)
    folder = settings.landing_zone / "diabetes"
    folder.mkdir(parents=True)
    with zipfile.ZipFile(folder / "vendas.csv", "w") as archive:
        archive.writestr("vendas.csv", "id;valor\n1;10\n")
    result = CliRunner().invoke(app, ["ingest", str(folder), "--json"], env=env_for(settings))
    (entry,) = json.loads(result.stdout)["files"]
    assert entry["status"] == "rejected" and entry["reason"].startswith("vendas.csv looks like a zip archive")
    assert "unzip it" in entry["hint"]


def test_a_copy_in_the_same_batch_is_rejected_like_the_original_and_recorded(tmp_path):
    settings = lake_settings(tmp_path)
    folder = settings.landing_zone / "diabetes"
    folder.mkdir(parents=True)
    pdf = b"%PDF-1.4\n1 0 obj\n<< >>\nendobj\n"
    for name, data in {
        "a.csv": pdf,
        "b_copia.csv": pdf,
        "c.csv": b"id;v\n1;2\n",
        "d_copia.csv": b"id;v\n1;2\n",
    }.items():
        (folder / name).write_bytes(data)
    result = CliRunner().invoke(app, ["ingest", str(folder), "--json"], env=env_for(settings))
    files = {Path(f["file"]).name: f for f in json.loads(result.stdout)["files"]}
    assert {n: f["status"] for n, f in files.items()} == {"a.csv": "rejected", "b_copia.csv": "rejected",
                                                          "c.csv": "ingested", "d_copia.csv": "skipped"}  # fmt: skip
    assert (
        files["b_copia.csv"]["reason"]
        == "b_copia.csv looks like a PDF document, not delimited text (same bytes as a.csv)"
    )
    assert files["b_copia.csv"]["hint"] == files["a.csv"]["hint"]
    assert files["d_copia.csv"]["reason"] == "duplicate of c.csv in the same batch (same bytes)"
    rejected = ledger.read(Lake.from_settings(settings)).filter(pl.col("status") == "rejected")
    assert sorted(rejected["file_name"].to_list()) == ["a.csv", "b_copia.csv"]  # each has its ledger row
