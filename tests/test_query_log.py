"""`lakectl query` (SQL over the real demo lake, read-only) and `lakectl log` (the ingest log)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import polars as pl
import pytest
from typer.testing import CliRunner

from lakectl.cli import app
from lakectl.lake import Lake
from lakectl.lake.ingestlog import parse_since
from lakectl.promote import read_silver

from .conftest import env_for


@pytest.fixture()
def lake(demo_lake):
    return demo_lake


def invoke(lake, *args: str):
    return CliRunner().invoke(app, list(args), env=env_for(lake))


JOIN = """
select s.cluster, s.currency, count(*) as sales, sum(s.gross_amount) as revenue, max(p.refund_rate) as worst_refund_rate
from silver.diabetes s
join gold.product_performance p using (cluster, product_name, currency)
where s.status = 'approved'
group by all order by all
"""


def test_query_joins_silver_and_gold_and_agrees_with_polars(lake):
    result = invoke(lake, "query", JOIN, "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    silver = read_silver(lake).filter((pl.col("cluster") == "diabetes") & (pl.col("status") == "approved"))
    products = pl.read_delta(Lake.from_settings(lake).gold("product_performance").uri)
    expected = (
        silver.join(products, on=["cluster", "product_name", "currency"])
        .group_by("cluster", "currency")
        .agg(pl.len().alias("sales"), pl.sum("gross_amount").alias("revenue"), pl.max("refund_rate"))
        .sort("cluster", "currency")
    )
    assert [(r["cluster"], r["currency"], r["sales"], Decimal(r["revenue"])) for r in rows] == [
        (c, cur, n, Decimal(str(rev))) for c, cur, n, rev, _ in expected.iter_rows()
    ]
    assert rows and all(isinstance(r["revenue"], str) for r in rows)  # money stays exact text


def test_query_lists_every_table_with_columns(lake):
    result = invoke(lake, "query", "--tables", "--format", "json")
    assert result.exit_code == 0, result.output
    tables = {t["table"]: t["columns"] for t in json.loads(result.stdout)}
    assert {"bronze.diabetes", "silver.diabetes", "gold.daily_sales", "gold.customers",
            "lakectl.ingest_log", "lakectl.runs"} <= set(tables)  # fmt: skip
    assert "gross_amount: decimal128(18, 2)" in tables["silver.diabetes"]
    count = invoke(
        lake, "query", "select count(*) as n from lakectl.ingest_log where status = 'rejected'", "-f", "csv"
    )
    assert count.stdout.splitlines() == ["n", "1"]


@pytest.mark.parametrize(
    "sql",
    [
        "copy (select * from silver.diabetes) to 'stolen.csv'",
        "create table gold.x as select 1",
        "insert into gold.daily_sales select * from gold.daily_sales",
        "delete from silver.diabetes",
        "attach 'other.db'",
        "set enable_external_access = true",
        "install delta",
        "pragma version",
    ],
)
def test_query_refuses_statements_that_write_or_reconfigure(lake, sql, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke(lake, "query", sql)
    assert result.exit_code == 2
    assert "read-only" in result.output
    assert list(tmp_path.iterdir()) == []


def test_query_cannot_read_or_write_files_from_inside_a_select(lake, tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    result = invoke(lake, "query", f"select * from read_csv('{secret}')")
    assert result.exit_code == 2 and "disabled" in result.output


def test_query_names_an_unknown_table_and_points_at_tables(lake):
    result = invoke(lake, "query", "select * from gold.nope")
    assert result.exit_code == 2
    assert "nope" in result.output and "lakectl query --tables" in result.output


def test_query_writes_csv_and_parquet_files(lake, tmp_path):
    sql = "select cluster, currency, sum(gross_revenue) as revenue from gold.daily_sales group by all order by all"
    parquet = tmp_path / "out.parquet"
    assert invoke(lake, "query", sql, "-f", "parquet", "-o", str(parquet)).exit_code == 0
    csv_file = tmp_path / "out.csv"
    assert invoke(lake, "query", sql, "-f", "csv", "-o", str(csv_file)).exit_code == 0
    from_parquet = pl.read_parquet(parquet)
    assert from_parquet.schema["revenue"] == pl.Decimal(38, 2)
    from_csv = pl.read_csv(csv_file, schema_overrides={"revenue": pl.String})
    assert [str(v) for v in from_parquet["revenue"]] == from_csv["revenue"].to_list()
    assert invoke(lake, "query", sql, "-f", "parquet").exit_code == 3  # needs -o


def test_log_status_rejected_shows_the_file_and_why(lake):
    result = invoke(lake, "log", "--status", "rejected", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["file_name"] for r in rows] == ["relatorio_upload_incompleto.xlsx"]
    assert "zip" in rows[0]["reason"] and rows[0]["hint"]
    table = CliRunner().invoke(app, ["log", "--status", "rejected"], env={**env_for(lake), "COLUMNS": "250"})
    assert "relatorio_upload_incompleto.xlsx" in table.stdout and "hint: re-export" in table.stdout


def test_log_filters_by_cluster_file_and_since(lake):
    def names(*args: str) -> list[str]:
        result = invoke(lake, "log", "--json", "-n", "100", *args)
        assert result.exit_code == 0, result.output
        return sorted(r["file_name"] for r in json.loads(result.stdout))

    assert names("--cluster", "diabetes") == ["clickbank_sugar_defender_2026-10.csv", "hotmart_vendas_2026-09.csv",
                                               "hotmart_vendas_2026-10.csv"]  # fmt: skip
    assert names("--cluster", "renda_extra", "--file", "HOTMART_*.csv") == [
        f"hotmart_vendas_2026-{m:02d}.csv" for m in range(5, 11)
    ]
    assert names("--file", "kiwify") == ["kiwify_vendas_2026-09.xlsx", "kiwify_vendas_2026-10.xlsx",
                                         "kiwify_vendas_2026-10.xlsx"]  # fmt: skip
    assert len(names("--since", "1d")) == 22
    assert names("--since", (datetime.now(UTC) + timedelta(hours=1)).isoformat()) == []
    assert invoke(lake, "log", "--status", "gone").exit_code == 3
    assert invoke(lake, "log", "--since", "yesterday").exit_code == 3


def test_log_rows_left_out_shows_titles_and_totals_cut_from_a_file(lake):
    result = invoke(lake, "log", "--rows-left-out", "braip_relatorio_2026-10.xlsx", "--json")
    assert result.exit_code == 0, result.output
    [entry] = json.loads(result.stdout)
    [sheet] = entry["sheets"]
    assert sheet["left_out"][0].startswith("row 1 (above header): Braip")
    assert any(line.endswith("Total | 3877.1") for line in sheet["left_out"])
    assert "Código da Venda" in sheet["header"]
    assert invoke(lake, "log", "--rows-left-out", "no_such_file.csv").exit_code == 3


def test_parse_since_accepts_relative_and_absolute_times():
    now = datetime(2026, 10, 10, 12, tzinfo=UTC)
    assert parse_since("7d", now) == now - timedelta(days=7)
    assert parse_since("90m", now) == now - timedelta(minutes=90)
    assert parse_since("2026-10-01", now) == datetime(2026, 10, 1, tzinfo=UTC)
    assert parse_since("2026-10-01T08:00:00-03:00", now) == datetime(2026, 10, 1, 11, tzinfo=UTC)
