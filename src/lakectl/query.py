"""SQL over the lake, read-only, with DuckDB.

Every table is handed to DuckDB as the Arrow dataset of its current Delta version (read through
lakectl.lake, so the Delta log decides which files count: DuckDB's own delta extension downloads itself,
which fails offline, and a raw Parquet glob would read files the log has removed). Tables are
exposed as ``bronze.<cluster>``, ``silver.<cluster>``, ``silver._rejects``, ``gold.<table>``,
``lakectl.ingest_log`` and ``lakectl.runs``.

Read-only twice over: only SELECT-like statements (SELECT, WITH, FROM, VALUES, DESCRIBE,
SUMMARIZE, EXPLAIN) are accepted, and file-system access is switched off (and locked) before the
user's SQL runs, so neither COPY nor read_csv('/etc/…') nor an extension install can happen.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from lakectl.config import Settings
from lakectl.errors import ConfigError, LakectlError
from lakectl.lake import Lake, Table

GOLD_TABLES = ("daily_sales", "product_performance", "customers", "cluster_overlap", "refund_rates")


class QueryError(LakectlError):
    """The SQL could not run: a syntax error, an unknown table or column, or a write."""

    exit_code = 2


@dataclass(frozen=True)
class LakeTable:
    schema: str  # bronze | silver | gold | lakectl
    name: str
    table: Table

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


def lake_tables(settings: Settings) -> list[LakeTable]:
    """Every table the lake holds now, under its SQL name (tables not written yet are left out)."""
    lake = Lake.from_settings(settings)
    wanted = [LakeTable("bronze", c, lake.bronze(c)) for c in settings.clusters]
    wanted += [LakeTable("silver", c, lake.silver(c)) for c in settings.clusters]
    wanted.append(LakeTable("silver", "_rejects", lake.rejects()))
    wanted += [LakeTable("gold", t, lake.gold(t)) for t in GOLD_TABLES]
    wanted += [
        LakeTable("lakectl", "ingest_log", lake.ingest_log()),
        LakeTable("lakectl", "runs", lake.runs()),
    ]
    return [t for t in wanted if t.table.exists()]


def describe_tables(settings: Settings) -> list[dict[str, Any]]:
    """Name, version and columns (name: type) of every queryable table."""
    described = []
    for table in lake_tables(settings):
        dataset = table.table.dataset()
        if dataset is None:
            continue
        described.append({"table": table.qualified, "version": table.table.version(),
                          "columns": [f"{f.name}: {f.type}" for f in dataset.schema]})  # fmt: skip
    return described


READ_ONLY = ("SELECT", "EXPLAIN")


def run_query(settings: Settings, sql: str) -> pa.Table:
    """The result of one read-only SQL statement over the lake's tables."""
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(f"SQL syntax: {_first_line(exc)}", hint="see 'lakectl query --tables'") from None
    if len(statements) != 1:
        raise QueryError(f"give exactly one SQL statement (got {len(statements)})")
    kind = statements[0].type.name
    if kind not in READ_ONLY:
        raise QueryError(
            f"{kind} statements are refused: 'lakectl query' is read-only",
            hint="ask with SELECT; the lake is written only by ingest and promote",
        )
    for table in lake_tables(settings):
        dataset = table.table.dataset()
        if dataset is None:
            continue
        alias = f"_{table.schema}__{table.name}"
        con.register(alias, dataset)
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{table.schema}"')
        con.execute(f'CREATE VIEW "{table.schema}"."{table.name}" AS SELECT * FROM "{alias}"')
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    try:
        return con.sql(sql).to_arrow_table()
    except duckdb.CatalogException as exc:
        raise QueryError(
            _first_line(exc), hint="list the tables and their columns with 'lakectl query --tables'"
        ) from None
    except duckdb.Error as exc:
        raise QueryError(_first_line(exc)) from None
    finally:
        con.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def write_result(result: pa.Table, fmt: str, out: Path | None) -> str | None:
    """The result as CSV or JSON text (or written to ``out``); Parquet needs ``out``.

    Decimals stay exact (CSV and JSON carry them as text), timestamps are ISO-8601.
    """
    import polars as pl

    frame = pl.DataFrame(result)
    if fmt == "parquet":
        if out is None:
            raise ConfigError("--format parquet needs --out FILE", hint="e.g. -o result.parquet")
        frame.write_parquet(out)
        return None
    if fmt == "csv":
        text = frame.write_csv()
    elif fmt == "json":
        text = _json_rows(frame)
    else:
        raise ConfigError(f"unknown format {fmt!r}", hint="use table, csv, json or parquet")
    if out is not None:
        out.write_text(text, encoding="utf-8")
        return None
    return text


def _json_rows(frame: Any) -> str:
    """An array of row objects; decimals as exact text, dates and times as ISO-8601."""
    import json

    import polars as pl

    exact = frame.with_columns(
        [pl.col(c).cast(pl.String) for c, t in frame.schema.items() if isinstance(t, pl.Decimal)]
    )
    return json.dumps(exact.to_dicts(), ensure_ascii=False, default=_iso, indent=1) + "\n"


def _iso(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
