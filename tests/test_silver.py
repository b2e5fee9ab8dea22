"""Silver: parsers (property tests), the example exports end to end against the generator's own
records, incremental vs full, expectations and rejects, priorities, user profiles."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from typer.testing import CliRunner

from lakectl.cli import app
from lakectl.config import load_settings
from lakectl.errors import SchemaContractError
from lakectl.lake import Lake
from lakectl.pipeline import ingest_file
from lakectl.promote import promote_silver
from lakectl.transform import parse

from .conftest import load_examples_module

CLUSTERS = ["diabetes", "emagrecimento", "rejuvenescimento", "relacionamento", "renda_extra"]
money = st.decimals(min_value=Decimal("0"), max_value=Decimal("9999999999.99"), places=2, allow_nan=False)


@given(money)
def test_brazilian_amounts_round_trip(value):
    assert parse.parse_amount(parse.format_br(value), decimal_comma=True) == value
    assert parse.parse_amount("R$ " + parse.format_br(value), decimal_comma=True) == value


@given(money)
def test_us_amounts_round_trip(value):
    assert parse.parse_amount(f"{value:,.2f}", decimal_comma=False) == value
    assert parse.parse_amount(f"US$ {value:,.2f}", decimal_comma=False) == value


@given(money)
def test_machine_amounts_parse_in_any_locale(value):
    for comma in (True, False):
        assert parse.parse_amount(f"{value:.2f}", decimal_comma=comma) == value


@hsettings(max_examples=60)
@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2035, 12, 31)).map(
        lambda d: d.replace(microsecond=0, fold=0)  # text has no fold: a repeated hour reads as its first
    )
)
@example(datetime(2010, 2, 20, 23, 30))  # the hour São Paulo repeated when summer time ended
@example(datetime(2010, 10, 17, 0, 30))  # the hour it skipped when summer time began
def test_dates_round_trip_in_both_forms(local):
    expected = local.replace(tzinfo=ZoneInfo("America/Sao_Paulo")).astimezone(UTC)
    for text in (local.strftime("%d/%m/%Y %H:%M:%S"), local.strftime("%Y-%m-%dT%H:%M:%S")):
        got = pl.select(parse.timestamp(pl.lit(text), "America/Sao_Paulo")).item()
        assert got == expected, text


def test_excel_serial_dates_and_offsets():
    frame = pl.DataFrame({"t": ["46000", "2026-10-05T14:03:00Z", "2026-10-05T14:03:00-03:00", "31/02/2026"]})
    got = frame.select(parse.timestamp(pl.col("t"), "America/Sao_Paulo"))["t"].to_list()
    assert got[0] == datetime(2025, 12, 9, 3, 0, tzinfo=UTC)  # serial 46000 = 2025-12-09 local midnight
    assert got[1] == datetime(2026, 10, 5, 14, 3, tzinfo=UTC)
    assert got[2] == datetime(2026, 10, 5, 17, 3, tzinfo=UTC)
    assert got[3] is None


@pytest.mark.parametrize(
    "document,valid", [("529.982.247-25", True), ("52998224726", False), ("111.111.111-11", False),
                       ("11.222.333/0001-81", True), ("11222333000182", False), ("123", False)],
)  # fmt: skip
def test_cpf_cnpj_check_digits(document, valid):
    assert parse.is_valid_document(document) is valid


def lake_settings(tmp_path: Path, **extra):
    return load_settings(
        landing_zone=tmp_path / "landing_zone",
        lake_root=tmp_path / "lake",
        reader={"isolate": False},
        silver={"customer_salt": "test-salt", "salt_file": tmp_path / "salt", **extra},
    )


def silver_frame(settings) -> pl.DataFrame:
    frames = [pl.read_delta(Lake.from_settings(settings).silver(c).uri) for c in CLUSTERS
              if Lake.from_settings(settings).silver(c).exists()]  # fmt: skip
    return pl.concat(frames, how="diagonal_relaxed")


@pytest.fixture(scope="module")
def examples(demo):
    """The 22 example exports ingested and promoted once (the session's demo lake), with the
    generator's truth and the silver results."""
    return demo.settings, demo.truth, demo.promoted["silver"]


def test_examples_end_to_end_match_the_generator(examples):
    settings, truth, results = examples
    silver = silver_frame(settings)
    # distinct transactions per cluster
    per_cluster = defaultdict(int)
    for sale in truth:
        per_cluster[sale.cluster] += 1
    assert dict(silver.group_by("cluster").len().iter_rows()) == per_cluster
    assert silver.select(pl.struct("platform", "transaction_id").is_unique().all()).item()
    # statuses after the status changes (pending -> approved re-exports, refunds, chargebacks)
    expected = {(s.platform, s.transaction_id): s.status for s in truth}
    got = {(p, t): s for p, t, s in silver.select("platform", "transaction_id", "status").iter_rows()}
    assert got == expected
    # revenue per cluster and currency, approved sales only, computed independently from the records
    revenue = defaultdict(Decimal)
    for sale in truth:
        if sale.status == "approved":
            revenue[(sale.cluster, sale.currency)] += sale.amount
    approved = (
        silver.filter(pl.col("status") == "approved")
        .group_by("cluster", "currency")
        .agg(pl.sum("gross_amount"))
    )
    assert {(c, cur): Decimal(str(v)) for c, cur, v in approved.iter_rows()} == revenue
    # nothing rejected in clean exports, and the rows add up
    for result in results:
        report = result["report"]
        assert report["rejected"] == {}
        assert report["rows_in"] == report["transactions"] + report["status_updates"] + report["folded"] + report[
            "ignored_events"]  # fmt: skip


def test_silver_columns_are_typed_and_customers_keyed(examples):
    settings, truth, _ = examples
    silver = silver_frame(settings)
    schema = silver.schema
    assert schema["gross_amount"] == pl.Decimal(18, 2)
    assert schema["purchased_at"] == pl.Datetime("us", "UTC")
    row = silver.filter(pl.col("platform") == "hotmart").row(0, named=True)
    sale = next(s for s in truth if s.transaction_id == row["transaction_id"])
    assert row["customer_email"] == sale.email.lower()
    assert row["customer_document"] == "".join(ch for ch in sale.document if ch.isdigit())
    assert row["customer_document_valid"] is True
    assert row["customer_phone"].startswith("+5511")
    assert row["purchased_at"] == sale.purchased_at.replace(tzinfo=ZoneInfo("America/Sao_Paulo")).astimezone(
        UTC
    )
    assert len(row["customer_key"]) == 32 and sale.email not in (row["extras"] or "")
    assert json.loads(row["extras"])  # unmapped source columns are kept
    # the same e-mail gets the same key in every cluster
    keys = silver.group_by("customer_email").agg(pl.col("customer_key").n_unique())
    assert keys["customer_key"].max() == 1


def test_incremental_promotions_equal_a_full_rebuild(tmp_path):
    settings = lake_settings(tmp_path)
    load_examples_module().generate(settings.landing_zone)
    files = sorted(p for p in (settings.landing_zone / "diabetes").glob("*") if p.is_file())
    files += sorted(p for p in (settings.landing_zone / "renda_extra").glob("*") if p.is_file())
    for path in files:  # one file at a time, promoting after each
        ingest_file(path, path.parent.name, settings)
        promote_silver(settings, [path.parent.name])
    key = ["cluster", "platform", "transaction_id"]
    incremental = silver_frame(settings).sort(key)
    again = promote_silver(settings, ["diabetes"])
    assert again[0].status == "up_to_date"
    promote_silver(settings, ["diabetes", "renda_extra"], full=True)
    full = silver_frame(settings).sort(key)
    assert incremental.equals(full)


@pytest.mark.parametrize("then", ["compacted", "log_cleaned_up"])
def test_bronze_compacted_or_its_log_cleaned_after_the_watermark_is_read_once(tmp_path, then):
    """Incremental promotion reads the files the commits after the watermark added: after a
    compaction those hold older rows too, and once the log entries are gone it scans instead.
    Either way each bronze row is read once and silver equals a full rebuild."""
    settings = lake_settings(tmp_path)
    load_examples_module().generate(settings.landing_zone)
    files = sorted(p for p in (settings.landing_zone / "diabetes").glob("*") if p.is_file())
    for path in files[: len(files) // 2]:
        ingest_file(path, "diabetes", settings)
    promote_silver(settings, ["diabetes"])
    for path in files[len(files) // 2 :]:
        ingest_file(path, "diabetes", settings)
    bronze = Lake.from_settings(settings).bronze("diabetes")
    assert bronze.maintain(retention_hours=0, log_retention_days=30)["files_removed"] > 1
    log_folder = Path(bronze.uri) / "_delta_log"
    if then == "log_cleaned_up":  # what log retention does: entries before the checkpoint go
        checkpoint = json.loads((log_folder / "_last_checkpoint").read_text())["version"]
        for entry in log_folder.glob("*.json"):
            if int(entry.stem) < checkpoint:
                entry.unlink()
    promote_silver(settings, ["diabetes"])
    runs = pl.read_delta(Lake.from_settings(settings).runs().uri).filter(pl.col("cluster") == "diabetes")
    assert runs["rows_in"].sum() == pl.read_delta(bronze.uri).height
    key = ["platform", "transaction_id"]
    incremental = pl.read_delta(Lake.from_settings(settings).silver("diabetes").uri).sort(key)
    promote_silver(settings, ["diabetes"], full=True)
    assert incremental.equals(pl.read_delta(Lake.from_settings(settings).silver("diabetes").uri).sort(key))


def drop(settings, cluster, name, text):
    path = settings.landing_zone / cluster / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    ingest_file(path, cluster, settings)
    return path


HOTMART = "Código da transação;Status da transação;Data da transação;Valor de compra com impostos;Moeda de compra;Email do(a) Comprador(a)\n"


def test_expectations_send_bad_rows_to_rejects_with_the_raw_value(tmp_path):
    settings = lake_settings(tmp_path)
    future = (datetime.now() + timedelta(days=30)).strftime("%d/%m/%Y %H:%M:%S")
    drop(settings, "diabetes", "v.csv", HOTMART + "\n".join([
        "HP1;Aprovado;01/10/2026 10:00:00;1.234,56;BRL;a@x.com",
        ";Aprovado;01/10/2026 10:00:00;10,00;BRL;b@x.com",
        "HP3;Aprovado;01/10/2026 10:00:00;dez reais;BRL;c@x.com",
        "HP4;Aprovado;01/10/2026 10:00:00;-5,00;BRL;d@x.com",
        f"HP5;Aprovado;{future};5,00;BRL;e@x.com",
        "HP6;Aprovado;01/10/2026 10:00:00;5,00;XXX;f@x.com",
        "HP7;Esquisito;01/10/2026 10:00:00;5,00;BRL;sem-arroba",
    ]) + "\n")  # fmt: skip
    result = promote_silver(settings, ["diabetes"])[0]
    report = result.report
    assert report["rejected"] == {"key_present": 1, "amount_parses": 1, "amount_not_negative": 1,
                                  "date_not_future": 1, "currency_known": 1}  # fmt: skip
    assert report["warnings"] == {"status_known": 1, "email_valid": 1}
    assert report["unknown_statuses"] == {"Esquisito": 1}
    silver = pl.read_delta(Lake.from_settings(settings).silver("diabetes").uri)
    assert sorted(silver["transaction_id"]) == ["HP1", "HP7"]
    assert silver.filter(pl.col("transaction_id") == "HP7")["status"].to_list() == [None]
    rejects = pl.read_delta(Lake.from_settings(settings).rejects().uri).sort("_row")
    assert rejects.select("rule", "column", "raw_value", "_row").rows() == [
        ("key_present", "transaction_id", None, 3), ("amount_parses", "gross_amount", "dez reais", 4),
        ("amount_not_negative", "gross_amount", "-5,00", 5), ("date_not_future", "purchased_at", future, 6),
        ("currency_known", "currency", "XXX", 7)]  # fmt: skip
    assert report["rows_in"] == report["transactions"] + sum(report["rejected"].values())
    runs = pl.read_delta(Lake.from_settings(settings).runs().uri)
    assert runs.height == 1 and json.loads(runs["rejected"][0])["key_present"] == 1


def test_a_fail_rule_stops_the_promotion_and_writes_nothing(tmp_path):
    settings = lake_settings(tmp_path, expectations={"amount_parses": "fail"})
    drop(settings, "diabetes", "v.csv", HOTMART + "HP3;Aprovado;01/10/2026 10:00:00;dez reais;BRL;c@x.com\n")
    with pytest.raises(SchemaContractError, match="amount_parses"):
        promote_silver(settings, ["diabetes"])
    assert not Lake.from_settings(settings).silver("diabetes").exists()


def test_a_status_change_in_a_later_export_updates_the_row(tmp_path):
    settings = lake_settings(tmp_path)
    drop(
        settings,
        "diabetes",
        "set.csv",
        HOTMART + "HP1;Aguardando pagamento;01/09/2026 10:00:00;97,00;BRL;a@x.com\n",
    )
    promote_silver(settings, ["diabetes"])
    drop(settings, "diabetes", "out.csv", HOTMART + "HP1;Aprovado;01/09/2026 10:00:00;97,00;BRL;a@x.com\n")
    result = promote_silver(settings, ["diabetes"])[0]
    assert result.updated == 1 and result.inserted == 0
    silver = pl.read_delta(Lake.from_settings(settings).silver("diabetes").uri)
    assert silver.select("transaction_id", "status").rows() == [("HP1", "approved")]


def test_a_hand_kept_sheet_never_overrides_a_platform_export(tmp_path):
    settings = lake_settings(tmp_path)
    drop(
        settings, "diabetes", "hotmart.csv", HOTMART + "HP1;Aprovado;01/09/2026 10:00:00;97,00;BRL;a@x.com\n"
    )
    promote_silver(settings, ["diabetes"])
    drop(settings, "diabetes", "planilha.csv", "Data;Plataforma;Pedido;Valor;Situação\n02/09/2026;Hotmart;HP1;50,00;Cancelado\n"
         "02/09/2026;Hotmart;HP2;30,00;Aprovado\n")  # fmt: skip
    promote_silver(settings, ["diabetes"])
    silver = pl.read_delta(Lake.from_settings(settings).silver("diabetes").uri).sort("transaction_id")
    assert silver.select("transaction_id", "status", "gross_amount", "_profile").rows() == [
        ("HP1", "approved", Decimal("97.00"), "hotmart"), ("HP2", "approved", Decimal("30.00"), "generic")]  # fmt: skip


def test_a_refund_event_in_a_later_export_changes_the_status_only(tmp_path):
    settings = lake_settings(tmp_path)
    header = "Receipt,Transaction Type,Transaction Time,Item,Product Title,Amount,Currency,Customer Email\n"
    drop(
        settings,
        "diabetes",
        "cb1.csv",
        header + 'CB1,SALE,2026-10-01T10:00:00,1,Sugar,"1,234.50",USD,a@x.com\n',
    )
    promote_silver(settings, ["diabetes"])
    drop(settings, "diabetes", "cb2.csv", header + "CB1,RFND,2026-10-09T10:00:00,1,Sugar,-1234.50,USD,a@x.com\n"
         "CB9,CGBK,2026-10-09T10:00:00,1,Sugar,-10.00,USD,z@x.com\n")  # fmt: skip
    result = promote_silver(settings, ["diabetes"])[0]
    silver = pl.read_delta(Lake.from_settings(settings).silver("diabetes").uri)
    assert silver.select("transaction_id", "status", "gross_amount").rows() == [
        ("CB1", "refunded", Decimal("1234.50"))
    ]
    assert result.report["rejected"] == {"sale_exists": 1}  # CB9's sale is nowhere: reported, not lost


def test_a_missing_column_is_a_layout_problem_and_user_profiles_map_it(tmp_path):
    settings = lake_settings(tmp_path)
    drop(settings, "diabetes", "estranho.csv", "Ref Venda;Quanto;Quando\nA1;10,00;01/10/2026\n")
    drop(settings, "diabetes", "outra.csv", "Foo;Bar\nx;y\n")
    report = promote_silver(settings, ["diabetes"])[0].report
    # an id and a date were understood, an amount was not: said once for the file, under column_found
    (missing,) = report["missing_columns"]
    assert missing["file"] == "estranho.csv" and missing["missing"] == ["gross_amount"]
    assert "ref_venda, quanto, quando" in missing["detail"]
    (layout,) = report["unknown_layouts"]  # nothing sales-like at all: layout_known
    assert layout["files"] == ["outra.csv"] and layout["columns"] == ["foo", "bar"]
    assert report["rejected"] == {"column_found": 1, "layout_known": 1}
    rejects = pl.read_delta(Lake.from_settings(settings).rejects().uri)
    assert sorted(rejects.select("rule", "column").rows()) == [
        ("column_found", "gross_amount"),
        ("layout_known", "_schema_id"),
    ]
    mapped = lake_settings(tmp_path, profiles={"diabetes": {"minha_planilha": {
        "platform": "kiwify", "columns": {"transaction_id": "ref_venda", "gross_amount": "quanto", "purchased_at": "quando"},
        "statuses": {}}}})  # fmt: skip
    result = promote_silver(mapped, ["diabetes"], full=True)[0]
    assert result.report["rejected"] == {"layout_known": 1} and result.report["profiles"] == {
        "minha_planilha": 1
    }
    silver = pl.read_delta(Lake.from_settings(settings).silver("diabetes").uri)
    assert silver.select("platform", "transaction_id", "gross_amount").rows() == [
        ("kiwify", "A1", Decimal("10.00"))
    ]
    # the rebuild replaced the rejects
    assert pl.read_delta(Lake.from_settings(settings).rejects().uri)["rule"].to_list() == ["layout_known"]


def test_cli_promote_silver_json_and_up_to_date(tmp_path):
    settings = lake_settings(tmp_path)
    drop(settings, "diabetes", "v.csv", HOTMART + "HP1;Aprovado;01/10/2026 10:00:00;10,00;BRL;a@x.com\n")
    env = {"LAKECTL_LAKE_ROOT": str(settings.lake_root), "LAKECTL_LANDING_ZONE": str(settings.landing_zone),
           "LAKECTL_SILVER__CUSTOMER_SALT": "s"}  # fmt: skip
    first = CliRunner().invoke(app, ["promote", "silver", "--cluster", "diabetes", "--json"], env=env)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)[0]["inserted"] == 1
    second = CliRunner().invoke(app, ["promote", "silver", "--json"], env=env)
    statuses = {r["cluster"]: r["status"] for r in json.loads(second.stdout)}
    assert statuses["diabetes"] == "up_to_date" and statuses["renda_extra"] == "no_bronze"
