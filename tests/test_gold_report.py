"""Gold and the report: totals against silver computed independently, the overlap matrix on a
hand-built case, the promotion lock, the JSON schema, CSV formula injection and a real browser."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

import polars as pl
import pytest
from typer.testing import CliRunner

from lakectl.cli import app
from lakectl.cli.render_report import safe_cell, to_csv
from lakectl.lake import Lake
from lakectl.pipeline import ingest_file
from lakectl.promote import GOLD_INPUTS, promote_all, promote_gold, read_silver
from lakectl.report import build_report
from lakectl.transform import gold

from .conftest import env_for, lake_settings


@pytest.fixture()
def lake(demo_lake):
    return demo_lake


def test_gold_totals_equal_silver_aggregates_computed_independently(lake):
    silver = read_silver(lake).to_dicts()
    expected_revenue: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    expected_orders: dict[tuple[str, str], int] = defaultdict(int)
    expected_refunds: dict[str, int] = defaultdict(int)
    for row in silver:
        if row["status"] == "approved":
            expected_revenue[(row["cluster"], row["currency"])] += row["gross_amount"]
            expected_orders[(row["cluster"], row["currency"])] += 1
        if row["status"] == "refunded":
            expected_refunds[row["cluster"]] += 1
    daily = pl.read_delta(Lake.from_settings(lake).gold("daily_sales").uri)
    by_key = daily.group_by("cluster", "currency").agg(pl.sum("gross_revenue"), pl.sum("orders"))
    assert {(c, cur): Decimal(str(v)) for c, cur, v, _ in by_key.iter_rows()} == dict(expected_revenue)
    assert {(c, cur): o for c, cur, _, o in by_key.iter_rows()} == dict(expected_orders)
    refunds = daily.group_by("cluster").agg(pl.sum("refunded_orders"))
    assert {c: n for c, n in refunds.iter_rows() if n} == dict(expected_refunds)
    products = pl.read_delta(Lake.from_settings(lake).gold("product_performance").uri)
    per_product = products.group_by("cluster", "currency").agg(pl.sum("revenue"))  # never across currencies
    assert {(c, cur): Decimal(str(v)) for c, cur, v in per_product.iter_rows() if v} == dict(expected_revenue)
    customers = pl.read_delta(Lake.from_settings(lake).gold("customers").uri)
    assert customers.height == len({r["customer_key"] for r in silver if r["customer_key"]})
    assert not {"customer_email", "customer_phone", "customer_document"} & set(customers.columns)
    for row in customers.filter(pl.col("cluster_count") > 1).head(3).iter_rows(named=True):
        keys = [r for r in silver if r["customer_key"] == row["customer_key"]]
        assert sorted({r["cluster"] for r in keys}) == row["clusters"]
        value = defaultdict(Decimal)
        for r in keys:
            if r["status"] == "approved":
                value[r["currency"]] += r["gross_amount"]
        assert {v["currency"]: Decimal(str(v["amount"])) for v in row["lifetime_value"] or []} == dict(value)


def test_cluster_overlap_on_a_hand_built_case():
    when = datetime(2026, 10, 1, tzinfo=UTC)
    rows = [("ana", "diabetes"), ("ana", "emagrecimento"), ("bia", "diabetes"), ("caio", "emagrecimento"),
            ("caio", "renda_extra"), ("caio", "diabetes"), ("duda", "renda_extra")]  # fmt: skip
    silver = pl.DataFrame(
        {"customer_key": [k for k, _ in rows], "cluster": [c for _, c in rows], "purchased_at": [when] * len(rows),
         "status": ["approved"] * len(rows), "currency": ["BRL"] * len(rows), "gross_amount": [Decimal("1.00")] * len(rows)},
        schema_overrides={"gross_amount": pl.Decimal(18, 2)},
    )  # fmt: skip
    clusters = ["diabetes", "emagrecimento", "renda_extra"]
    overlap = gold.cluster_overlap(gold.customers(silver), clusters)
    pairs = {(a, b): n for a, b, n in overlap.select("cluster", "other", "customers").iter_rows()}
    assert pairs[("diabetes", "emagrecimento")] == pairs[("emagrecimento", "diabetes")] == 2  # ana, caio
    assert pairs[("diabetes", "renda_extra")] == 1 and pairs[("emagrecimento", "renda_extra")] == 1  # caio
    assert pairs[("diabetes", "diabetes")] == 3 and pairs[("renda_extra", "renda_extra")] == 2
    share = dict(
        overlap.filter(pl.col("cluster") == pl.col("other"))
        .select("cluster", "share_also_elsewhere")
        .iter_rows()
    )
    assert share == {"diabetes": pytest.approx(2 / 3, abs=1e-4), "emagrecimento": 1.0, "renda_extra": 0.5}


def test_gold_rebuilds_only_when_silver_changed(lake):
    assert promote_gold(lake)["status"] == "up_to_date"
    assert promote_gold(lake, full=True)["status"] == "promoted"


def test_gold_rebuilds_exactly_the_tables_not_built_from_the_current_silver(lake, tmp_path):
    """Each gold table records the silver versions it was built from: one left stale (a run killed
    between tables) is rebuilt alone, and equals what a full rebuild writes."""
    shutil.copytree(lake.lake_root, tmp_path / "lake")
    copy = lake_settings(tmp_path)
    table = Lake.from_settings(copy).gold("customers")
    expected = pl.read_delta(table.uri)
    table.replace(expected.head(1).to_arrow(), {GOLD_INPUTS: json.dumps({"diabetes": -1})})
    result = promote_gold(copy)
    assert result["status"] == "promoted" and list(result["tables"]) == ["customers"]
    assert pl.read_delta(table.uri).equals(expected)
    assert promote_gold(copy)["status"] == "up_to_date"


def test_a_second_promotion_exits_at_once_with_already_running(lake):
    with Lake.from_settings(lake).lock("promote"):
        result = CliRunner().invoke(app, ["promote", "gold"], env=env_for(lake))
    assert result.exit_code == 75
    assert "already running" in result.output


def test_report_json_has_the_documented_schema(lake):
    result = CliRunner().invoke(
        app, ["report", "--format", "json", "--as-of", "2026-10-31"], env=env_for(lake)
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == {"schema_version", "generated_at", "lakectl_version", "locale", "timezone", "as_of",
                           "window", "clusters", "gold_built", "summary", "revenue", "products", "revenue_by_day", "revenue_by_week",
                           "refund_rate_by_month", "refund_rates", "cluster_overlap", "cross_sell", "health",
                           "lake"}  # fmt: skip
    assert report["schema_version"] == 3 and report["as_of"] == "2026-10-31" and report["locale"] == "pt-BR"
    assert report["window"]["ends_at"] == "as_of" and report["window"]["start"] == "2026-10-02"
    assert set(report["health"]) == {
        "files",
        "rejected_files",
        "rejects",
        "unknown_layouts",
        "unknown_statuses",
        "layouts",
    }
    assert set(report["lake"]) == {"tables", "schema_changes"}
    assert report["health"]["files"] == {"ingested": 21, "skipped": 0, "rejected": 1, "quarantined": 0}
    assert [f["file_name"] for f in report["health"]["rejected_files"]] == [
        "relatorio_upload_incompleto.xlsx"
    ]
    assert {t["table"] for t in report["lake"]["tables"]} >= {
        "bronze/diabetes",
        "silver/diabetes",
        "gold/customers",
    }
    summary = report["summary"][0]
    assert set(summary) == {f"{p}{m}" for m in ("revenue", "sales", "average_ticket", "refund_rate", "chargeback_rate")
                            for p in ("", "previous_")} | {f"{m}_change" for m in (
                            "revenue", "sales", "average_ticket", "refund_rate", "chargeback_rate")} | {"currency"}  # fmt: skip
    assert re.fullmatch(r"\d+\.\d{2}", summary["revenue"])  # money as exact decimal text
    assert {r["currency"] for r in report["summary"]} == {"BRL", "USD", "EUR"}
    assert any(change["new_columns"] == ["cupom"] for change in report["lake"]["schema_changes"])


@pytest.mark.parametrize("value", ['=HYPERLINK("http://x")', "+1+2", "-2+3", "@SUM(1)", "\tx", "\rx"])
def test_safe_cell_escapes_formulas_and_leaves_numbers(value):
    assert safe_cell(value) == "'" + value
    assert safe_cell(-5) == -5 and safe_cell("-5.00") == "-5.00" and safe_cell("Chá Detox") == "Chá Detox"


def test_report_csv_escapes_injected_product_names_end_to_end(tmp_path):
    settings = lake_settings(tmp_path)
    header = (
        "Código da transação;Status da transação;Data da transação;Produto;Valor de compra com impostos\n"
    )
    names = ['=HYPERLINK("http://evil")', "+cmd", "@SUM(1)", "-2+3"]
    body = "".join(f"HP{i};Aprovado;01/10/2026 10:00:00;{name};{10 + i},00\n" for i, name in enumerate(names))
    path = settings.landing_zone / "diabetes" / "evil.csv"
    path.parent.mkdir(parents=True)
    path.write_text(header + body)
    ingest_file(path, "diabetes", settings)
    promote_all(settings)
    rows = list(csv.reader(io.StringIO(to_csv(build_report(settings)))))
    products = {r[4]: r for r in rows if r[0] == "products" and r[5] == "revenue"}
    assert set(products) == {"'" + n for n in names}
    assert all(re.fullmatch(r"\d+\.\d{2}", r[6]) for r in products.values())  # numbers untouched
