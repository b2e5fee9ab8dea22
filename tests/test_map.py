"""Hand-kept workbooks (a summary sheet skipped, per-platform sheets), `lakectl map` (--toml, --save),
and rows rejected for their layout read again once a mapping fixes it."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import polars as pl
import xlsxwriter
from typer.testing import CliRunner

from lakectl.cli import app
from lakectl.cli.render_report import Fmt, html_page, markdown, sections, to_csv
from lakectl.config import load_settings
from lakectl.lake import Lake
from lakectl.mapping import last_decisions
from lakectl.pipeline import ingest_file
from lakectl.promote import promote_silver
from lakectl.report import build_report

from .test_silver import drop, lake_settings


def hand_kept_workbook(path):
    book = xlsxwriter.Workbook(str(path))
    summary = book.add_worksheet("Resumo")
    summary.write_row(0, 0, ["Plataforma", "Qtd. vendas", "Receita total (R$)"])
    summary.write_row(1, 0, ["Hotmart", 2, 294.0])
    summary.write_row(2, 0, ["Kiwify", 1, 37.0])
    dates = book.add_format({"num_format": "dd/mm/yyyy"})
    header = ["Data", "Cód.", "Cliente", "Vlr. (R$)", "Situação", "Zap"]
    sales = {"Hotmart": [("HP100", 97.0, "Aprovada"), ("HP101", 197.0, "Bloqueada")],
             "Kiwify": [("KW7", 37.0, "Pago"), ("KW8", 12.5, "Xyzzy")]}  # fmt: skip
    for name, rows in sales.items():
        sheet = book.add_worksheet(name)
        sheet.write_row(0, 0, header)
        for r, (code, value, status) in enumerate(rows, start=1):
            sheet.write_datetime(r, 0, datetime(2026, 10, r), dates)
            sheet.write_row(r, 1, [code, "Ana Lima", value, status, "(11) 98765-4321"])
    book.close()


def promoted_workbook(tmp_path):
    """The hand-kept workbook ingested into diabetes and promoted: (settings, promotion report)."""
    settings = lake_settings(tmp_path)
    path = settings.landing_zone / "diabetes" / "controle_vendas.xlsx"
    path.parent.mkdir(parents=True)
    hand_kept_workbook(path)
    ingest_file(path, "diabetes", settings)
    return settings, promote_silver(settings, ["diabetes"])[0].report


def test_a_hand_kept_workbook_skips_its_summary_and_takes_platforms_from_sheet_names(tmp_path):
    settings, report = promoted_workbook(tmp_path)
    assert report["skipped"] == 2 and report["rejected"] == {}
    assert report["rows_in"] == report["transactions"] + report["skipped"]
    silver = pl.read_delta(Lake.from_settings(settings).silver("diabetes").uri).sort("transaction_id")
    assert silver.select("platform", "transaction_id", "status", "status_raw", "gross_amount", "currency").rows() == [
        ("hotmart", "HP100", "approved", "Aprovada", Decimal("97.00"), "BRL"),
        ("hotmart", "HP101", "blocked", "Bloqueada", Decimal("197.00"), "BRL"),  # visible, out of revenue
        ("kiwify", "KW7", "approved", "Pago", Decimal("37.00"), "BRL"),
        ("kiwify", "KW8", None, "Xyzzy", Decimal("12.50"), "BRL"),  # unknown: kept, counted, named
    ]  # fmt: skip
    assert set(silver["_source_priority"].to_list()) == {0}  # hand-kept: never above a platform export
    assert silver["customer_phone"].to_list() == ["+5511987654321"] * 4
    assert report["unknown_statuses"] == {"Xyzzy": 1}
    # the decisions are kept in the run log, with their evidence, for the report
    decisions = last_decisions(settings, "diabetes")
    kinds = sorted(d["kind"] for d in decisions)
    assert kinds == ["sales", "summary"]
    sales = next(d for d in decisions if d["kind"] == "sales")
    assert sales["fields"]["gross_amount"]["column"] == "vlr_r"
    assert "money" in sales["fields"]["gross_amount"]["evidence"]


def test_the_report_shows_how_each_layout_was_understood_and_the_command_that_changes_it(tmp_path):
    settings, _ = promoted_workbook(tmp_path)
    report = build_report(settings)
    assert report["schema_version"] == 3
    layouts = report["health"]["layouts"]
    assert sorted((r["kind"], r["sheets"]) for r in layouts) == [
        ("sales", ["Hotmart", "Kiwify"]),
        ("summary", ["Resumo"]),
    ]
    sales = next(r for r in layouts if r["kind"] == "sales")
    assert sales["cluster"] == "diabetes" and sales["files"] == ["controle_vendas.xlsx"]
    amount = sales["fields"]["gross_amount"]
    assert amount["column"] == "vlr_r" and 0 < amount["score"] <= 1 and "money 100%" in amount["evidence"]
    assert sales["fields"]["customer_phone"]["column"] == "zap"
    assert sales["unmapped"] == [] and sales["missing"] == []
    assert "lakectl map --cluster diabetes --toml" in sales["fix"]
    # the same decisions in every view of the data-health part
    shown = {s.key: s for s in sections(report, Fmt("en"))}
    rows = shown["decisions"].rows
    assert rows[0][:4] == ["diabetes", "controle_vendas.xlsx [Hotmart, Kiwify]", "transaction_id", "cod"]
    assert ["", "", "gross_amount", "vlr_r"] in [row[:4] for row in rows]
    assert any("totals, not sales" in row[-1] for row in shown["layout_fixes"].rows)
    assert "vlr_r" in markdown(report, "en") and "How each column was understood" in markdown(report, "en")
    assert "Como cada coluna foi entendida" in html_page(report)
    assert (
        'layout_fields,diabetes,"controle_vendas.xlsx [Hotmart, Kiwify]",,gross_amount,column,vlr_r'
        in to_csv(report)
    )


def cli(settings, config, *args):
    env = {"LAKECTL_LAKE_ROOT": str(settings.lake_root), "LAKECTL_LANDING_ZONE": str(settings.landing_zone),
           "LAKECTL_SILVER__CUSTOMER_SALT": "s"}  # fmt: skip
    return CliRunner().invoke(app, ["--config", str(config), *args], env=env)


def test_map_explains_a_file_and_save_makes_the_next_promotion_take_it(tmp_path):
    settings = lake_settings(tmp_path)
    config = tmp_path / "lakectl.toml"
    config.write_text(f'[silver]\ncustomer_salt = "test-salt"\nsalt_file = "{tmp_path / "salt"}"\n')
    path = drop(settings, "diabetes", "vendas_loja.csv",
                "Nº Pedido;Dt. Compra;Total (US$);Comprador;Estado del pago\n"
                "A-1;13/10/2026;1.234,50;Ana;Pagado\nA-2;14/10/2026;20,00;Bia;Rechazado\n")  # fmt: skip
    shown = cli(settings, config, "map", str(path))
    assert shown.exit_code == 0, shown.output
    assert "transaction_id" in shown.output and "no_pedido" in shown.output and "unknown" in shown.output
    as_json = json.loads(cli(settings, config, "map", str(path), "--json").stdout)
    assert as_json[0]["fields"]["gross_amount"]["column"] == "total_us"
    saved = cli(settings, config, "map", str(path), "--cluster", "diabetes", "--save")
    assert saved.exit_code == 0, saved.output
    profiles = load_settings(config).silver.profiles["diabetes"]
    assert profiles["vendas_loja"].columns["purchased_at"] == "dt_compra"
    again = cli(settings, config, "map", str(path), "--cluster", "diabetes", "--save")
    assert again.exit_code == 3 and "already has" in again.output
    taken = load_settings(config, lake_root=settings.lake_root, landing_zone=settings.landing_zone)
    result = promote_silver(taken, ["diabetes"])[0]
    assert result.report["profiles"] == {"vendas_loja": 2}
    in_bronze = json.loads(cli(settings, config, "map", "--cluster", "diabetes", "--json").stdout)
    assert [(r["profile"], r["files"]) for r in in_bronze] == [("vendas_loja", ["vendas_loja.csv"])]
    silver = pl.read_delta(Lake.from_settings(settings).silver("diabetes").uri).sort("transaction_id")
    assert silver.select("transaction_id", "status", "gross_amount", "currency").rows() == [
        ("A-1", "approved", Decimal("1234.50"), "USD"), ("A-2", "refused", Decimal("20.00"), "USD")]  # fmt: skip


def test_fixing_a_mapping_recovers_the_rows_rejected_for_their_layout_without_full(tmp_path):
    settings = lake_settings(tmp_path)
    drop(
        settings,
        "diabetes",
        "estranho.csv",
        "Ref Venda;Quanto;Quando\nA1;10,00;01/10/2026\nA2;5,00;02/10/2026\n",
    )
    first = promote_silver(settings, ["diabetes"])[0]
    assert first.report["rejected"] == {"column_found": 2}
    fixed = lake_settings(tmp_path, profiles={"diabetes": {"estranho": {
        "match": ["ref_venda", "quanto"], "columns": {"transaction_id": "ref_venda", "gross_amount": "quanto",
                                                       "purchased_at": "quando"}}}})  # fmt: skip
    second = promote_silver(fixed, ["diabetes"])[0]  # no new bronze, no --full
    assert second.status == "promoted" and second.report["rejected"] == {}
    silver = pl.read_delta(Lake.from_settings(settings).silver("diabetes").uri).sort("transaction_id")
    assert silver.select("transaction_id", "gross_amount").rows() == [
        ("A1", Decimal("10.00")),
        ("A2", Decimal("5.00")),
    ]
    assert (
        pl.read_delta(Lake.from_settings(settings).rejects().uri).height == 0
    )  # the old rejects are replaced
    assert promote_silver(fixed, ["diabetes"])[0].status == "up_to_date"
