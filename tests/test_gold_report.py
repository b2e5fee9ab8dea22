"""Gold and the report: totals against silver computed independently, the overlap matrix on a
hand-built case, the promotion lock, the JSON schema, CSV formula injection and a real browser."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from lakectl import gold, runner
from lakectl.cli import app
from lakectl.config import load_settings
from lakectl.lake import Lake
from lakectl.pipeline import ingest_file
from lakectl.promote import promote_all, promote_gold, read_silver
from lakectl.render_report import html_page, safe_cell, to_csv
from lakectl.report import build_report

from .conftest import load_examples_module

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def lake_settings(tmp_path: Path):
    return load_settings(landing_zone=tmp_path / "landing_zone", lake_root=tmp_path / "lake",
                         reader={"isolate": False}, silver={"customer_salt": "t", "salt_file": tmp_path / "salt"})  # fmt: skip


def env_for(settings) -> dict[str, str]:
    return {"LAKECTL_LAKE_ROOT": str(settings.lake_root), "LAKECTL_LANDING_ZONE": str(settings.landing_zone),
            "LAKECTL_SILVER__CUSTOMER_SALT": "t", "LAKECTL_READER__ISOLATE": "false"}  # fmt: skip


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("gold")
    settings = lake_settings(tmp_path)
    load_examples_module().generate(settings.landing_zone)
    runner.ingest_paths(runner.plan([settings.landing_zone], None, settings), settings)
    result = promote_all(settings)
    assert result["gold"]["status"] == "promoted"
    return settings


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
    assert set(report) == {"schema_version", "generated_at", "lakectl_version", "as_of", "timezone", "clusters", "lake",
                           "revenue", "revenue_by_day", "top_products", "refund_rates", "cluster_overlap",
                           "cross_sell", "gold_built"}  # fmt: skip
    assert report["schema_version"] == 1 and report["as_of"] == "2026-10-31"
    assert set(report["lake"]) == {"tables", "files", "rejects", "schema_changes"}
    assert report["lake"]["files"] == {"ingested": 21, "skipped": 0, "rejected": 1, "quarantined": 0}
    assert {t["table"] for t in report["lake"]["tables"]} >= {
        "bronze/diabetes",
        "silver/diabetes",
        "gold/customers",
    }
    revenue = report["revenue"][0]
    assert set(revenue) == {
        "cluster",
        "currency",
        "last_30_days",
        "previous_30_days",
        "all_time",
        "orders_all_time",
        "change",
    }
    assert re.fullmatch(r"\d+\.\d{2}", revenue["all_time"])  # money as exact decimal text
    assert {r["currency"] for r in report["revenue"]} == {"BRL", "USD", "EUR"}
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
    products = {r[4]: r for r in rows if r[0] == "top_products" and r[5] == "revenue"}
    assert set(products) == {"'" + n for n in names}
    assert all(re.fullmatch(r"\d+\.\d{2}", r[6]) for r in products.values())  # numbers untouched


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")
def test_html_report_renders_its_charts_in_a_real_browser(lake, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(html_page(build_report(lake)), encoding="utf-8")
    assert "cdn" not in page.read_text().lower().split("<body>")[1][:2000]
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    charts = re.findall(r'<section class="chart" id="([^"]+)"', result.stdout)
    assert len(charts) >= 6  # revenue per currency (3), top products per currency (3), overlap, refunds
    rendered = result.stdout.count('class="main-svg"')
    assert rendered >= 2 * len(charts), "a chart did not render"
    assert "Uncaught" not in result.stderr and "CONSOLE" not in result.stderr.replace("INFO:CONSOLE", ""), (
        result.stderr
    )
