"""What the lake holds and what it says, as one plain dict (the JSON report, schema_version 1).

Renderers (terminal, Markdown, CSV, HTML) live in render.py; this module only reads the lake.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl

from lakectl import __version__
from lakectl.config import Settings
from lakectl.gold import BUSINESS_TZ
from lakectl.lake import Lake
from lakectl.watch import quarantined

SCHEMA_VERSION = 1
GOLD_TABLES = ("daily_sales", "product_performance", "customers", "cluster_overlap", "refund_rates")
TOP_PRODUCTS = 10


def _rows(frame: pl.DataFrame | None) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (decimals and dates as text: exact and stable)."""
    if frame is None or frame.is_empty():
        return []
    out = frame.with_columns(
        [
            pl.col(c).cast(pl.String)
            for c, t in frame.schema.items()
            if isinstance(t, pl.Decimal | pl.Date | pl.Datetime)
        ]
    )
    return out.to_dicts()


def table_status(settings: Settings) -> list[dict[str, Any]]:
    lake = Lake.from_settings(settings)
    names = [f"bronze/{c}" for c in settings.clusters] + [f"silver/{c}" for c in settings.clusters]
    names += ["silver/_rejects", *(f"gold/{t}" for t in GOLD_TABLES), "_lakectl/ingest_log", "_lakectl/runs"]
    tables = []
    for name in names:
        table = lake.table(name)
        version = table.version()
        if version < 0:
            continue
        last = table.history(1)[0]
        rows = table.scan().select(pl.len()).collect().item()
        written = datetime.fromtimestamp(last["timestamp"] / 1000, UTC).isoformat(timespec="seconds")
        tables.append({"table": name, "version": version, "rows": rows, "last_write": written,
                       "last_operation": last.get("operation")})  # fmt: skip
    return tables


def file_counts(settings: Settings) -> dict[str, int]:
    log = Lake.from_settings(settings).ingest_log().read()
    counts = dict.fromkeys(("ingested", "skipped", "rejected"), 0)
    if log is not None:
        counts.update(dict(log.group_by("status").len().iter_rows()))
    counts["quarantined"] = len(quarantined(settings))
    return counts


def schema_changes(settings: Settings) -> list[dict[str, Any]]:
    """Per cluster, each source layout in the order it first appeared, with the columns it added."""
    log = Lake.from_settings(settings).ingest_log().read()
    if log is None or log.is_empty():
        return []
    ingested = log.filter(pl.col("status") == "ingested").sort("finished_at")
    changes = []
    for cluster in settings.clusters:
        seen_columns: set[str] = set()
        seen_layouts: set[str] = set()
        for row in ingested.filter(pl.col("cluster") == cluster).iter_rows(named=True):
            ids = json.loads(row["schema_ids"] or "{}")
            columns = json.loads(row["headers_normalised"] or "{}")
            for sheet, schema_id in ids.items():
                if schema_id in seen_layouts:
                    continue
                seen_layouts.add(schema_id)
                added = [c for c in columns.get(sheet, []) if c not in seen_columns]
                seen_columns.update(columns.get(sheet, []))
                changes.append({"cluster": cluster, "schema_id": schema_id, "first_file": row["file_name"],
                                "first_seen": row["finished_at"].isoformat(timespec="seconds"),
                                "new_columns": added})  # fmt: skip
    return changes


def rejects_by_rule(settings: Settings) -> list[dict[str, Any]]:
    rejects = Lake.from_settings(settings).rejects().read()
    if rejects is None:
        return []
    return _rows(rejects.group_by("cluster", "rule").agg(pl.len().alias("rows")).sort("cluster", "rule"))


def revenue_windows(daily: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """Approved revenue per cluster and currency: the last 30 days up to ``as_of`` vs the 30 before."""
    last_start, previous_start = as_of - timedelta(days=29), as_of - timedelta(days=59)
    window = pl.col("sale_date")
    return (
        daily.group_by("cluster", "currency")
        .agg(
            pl.col("gross_revenue").filter(window.is_between(last_start, as_of)).sum().alias("last_30_days"),
            pl.col("gross_revenue")
            .filter(window.is_between(previous_start, last_start - timedelta(days=1)))
            .sum()
            .alias("previous_30_days"),
            pl.col("gross_revenue").sum().alias("all_time"),
            pl.col("orders").sum().alias("orders_all_time"),
        )
        .with_columns(
            pl.when(pl.col("previous_30_days") > 0)
            .then(
                (
                    (pl.col("last_30_days").cast(pl.Float64) - pl.col("previous_30_days").cast(pl.Float64))
                    / pl.col("previous_30_days").cast(pl.Float64)
                ).round(4)
            )
            .alias("change")
        )
        .sort("cluster", "currency")
    )


def build_report(settings: Settings, as_of: date | None = None) -> dict[str, Any]:
    """The whole report as a dict; every money figure keeps its currency."""
    lake = Lake.from_settings(settings)
    as_of = as_of or datetime.now(UTC).astimezone().date()
    gold = {name: lake.gold(name).read() for name in GOLD_TABLES}
    daily = gold["daily_sales"]
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "lakectl_version": __version__,
        "as_of": as_of.isoformat(),
        "timezone": BUSINESS_TZ,
        "clusters": list(settings.clusters),
        "lake": {
            "tables": table_status(settings),
            "files": file_counts(settings),
            "rejects": rejects_by_rule(settings),
            "schema_changes": schema_changes(settings),
        },
        "revenue": [],
        "revenue_by_day": [],
        "top_products": [],
        "refund_rates": [],
        "cluster_overlap": [],
        "cross_sell": [],
        "gold_built": daily is not None,
    }
    if daily is None:
        return report
    report["revenue"] = _rows(revenue_windows(daily, as_of))
    report["revenue_by_day"] = _rows(
        daily.group_by("sale_date", "cluster", "currency")
        .agg(pl.col("gross_revenue").sum(), pl.col("orders").sum())
        .sort("sale_date", "cluster", "currency")
    )
    products = gold["product_performance"]
    if products is not None:
        top = (
            products.sort("revenue", descending=True)
            .group_by("currency", maintain_order=True)
            .head(TOP_PRODUCTS)
        )
        report["top_products"] = _rows(
            top.select(
                "currency", "cluster", "product_name", "orders", "revenue", "average_ticket", "refund_rate"
            )
        )
    rates = gold["refund_rates"]
    if rates is not None:
        report["refund_rates"] = _rows(
            rates.group_by("cluster", "platform")
            .agg(pl.sum("paid_orders"), pl.sum("refunded_orders"), pl.sum("chargebacks"))
            .with_columns(
                (pl.col("refunded_orders") / pl.col("paid_orders")).round(4).alias("refund_rate"),
                (pl.col("chargebacks") / pl.col("paid_orders")).round(4).alias("chargeback_rate"),
            )
            .sort("cluster", "platform")
        )
    overlap = gold["cluster_overlap"]
    if overlap is not None:
        report["cluster_overlap"] = _rows(overlap.select("cluster", "other", "customers"))
        report["cross_sell"] = _rows(
            overlap.filter(pl.col("cluster") == pl.col("other")).select(
                "cluster",
                pl.col("cluster_customers").alias("customers"),
                "also_elsewhere",
                pl.col("share_also_elsewhere").alias("share"),
            )
        )
    return report
