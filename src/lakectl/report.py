"""What the lake says and what it holds, as one plain dict (the JSON report, schema_version 3).

Owner first: the money of the last 30 days against the 30 before (per currency, then per cluster
and product), customers and cross-sell, data health, lake internals last. The window ends at the
latest sale in the lake unless ``as_of`` is given, so a lake fed with last month's exports still
shows last month's money. Renderers (terminal, Markdown, CSV, HTML) live in render_report.py; this
module only reads the lake and computes. Money stays exact (Decimal) and next to its currency.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import polars as pl

from lakectl import __version__
from lakectl.config import Settings
from lakectl.lake import Lake, ledger
from lakectl.mapping import last_decisions
from lakectl.query import GOLD_TABLES, lake_tables
from lakectl.service.watch import quarantined
from lakectl.transform.gold import BUSINESS_TZ

SCHEMA_VERSION = 3  # 3: health.layouts (how each layout was understood)
WINDOW_DAYS = 30
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


# ------------------------------------------------------------------------------------ the money


def window(daily: pl.DataFrame | None, as_of: date | None) -> dict[str, Any]:
    """The 30-day window and the 30 days before it; it ends at ``as_of`` or at the latest sale."""
    latest: date | None = None
    if daily is not None and not daily.is_empty():
        value = daily["sale_date"].max()
        latest = value if isinstance(value, date) else None
    end: date = as_of or latest or datetime.now(UTC).date()
    start = end - timedelta(days=WINDOW_DAYS - 1)
    return {"days": WINDOW_DAYS, "start": start.isoformat(), "end": end.isoformat(),
            "previous_start": (start - timedelta(days=WINDOW_DAYS)).isoformat(),
            "previous_end": (start - timedelta(days=1)).isoformat(),
            "ends_at": "as_of" if as_of else ("latest_sale" if latest else "today"),
            "latest_sale": latest.isoformat() if latest else None}  # fmt: skip


def _period(w: dict[str, Any]) -> pl.Expr:
    """'current', 'previous' or null for each daily row."""
    day = pl.col("sale_date")
    current = day.is_between(date.fromisoformat(w["start"]), date.fromisoformat(w["end"]))
    previous = day.is_between(date.fromisoformat(w["previous_start"]), date.fromisoformat(w["previous_end"]))
    return pl.when(current).then(pl.lit("current")).when(previous).then(pl.lit("previous")).alias("period")


def _metrics() -> list[pl.Expr]:
    return [
        pl.col("gross_revenue").sum().alias("revenue"),
        pl.col("orders").sum().alias("sales"),
        pl.col("refunded_orders").sum().alias("refunds"),
        pl.col("chargebacks").sum().alias("chargebacks"),
    ]


def _compare(frame: pl.DataFrame, keys: list[str], w: dict[str, Any]) -> list[dict[str, Any]]:
    """Per key: revenue, approved sales, average ticket, refund and chargeback rate, for the window
    and for the period before it, with the relative change of each."""
    grouped = frame.with_columns(_period(w)).filter(pl.col("period").is_not_null())
    stats = {(tuple(r[k] for k in keys), r["period"]): r for r in
             grouped.group_by([*keys, "period"]).agg(_metrics()).iter_rows(named=True)}  # fmt: skip
    out = []
    for key in sorted({k for k, _ in stats}, key=lambda k: tuple(str(v) for v in k)):
        row: dict[str, Any] = dict(zip(keys, key, strict=True))
        for period in ("current", "previous"):
            s = stats.get((key, period), {"revenue": Decimal(0), "sales": 0, "refunds": 0, "chargebacks": 0})
            paid = s["sales"] + s["refunds"] + s["chargebacks"]
            prefix = "" if period == "current" else "previous_"
            row[prefix + "revenue"] = str(s["revenue"] or Decimal("0.00"))
            row[prefix + "sales"] = s["sales"]
            row[prefix + "average_ticket"] = str(_ticket(s["revenue"], s["sales"])) if s["sales"] else None
            row[prefix + "refund_rate"] = round(s["refunds"] / paid, 4) if paid else None
            row[prefix + "chargeback_rate"] = round(s["chargebacks"] / paid, 4) if paid else None
        for name in ("revenue", "sales", "average_ticket"):
            row[name + "_change"] = _change(row[name], row["previous_" + name])
        for name in ("refund_rate", "chargeback_rate"):  # rates move in points, not in percent of a rate
            now, before = row[name], row["previous_" + name]
            row[name + "_change"] = None if now is None or before is None else round(now - before, 4)
        out.append(row)
    return out


def _ticket(revenue: Decimal, sales: int) -> Decimal:
    return (Decimal(revenue) / sales).quantize(Decimal("0.01"))


def _change(now: Any, before: Any) -> float | None:
    if now is None or before is None or Decimal(str(before)) == 0:
        return None
    return round(float((Decimal(str(now)) - Decimal(str(before))) / Decimal(str(before))), 4)


def revenue_by_week(daily: pl.DataFrame) -> list[dict[str, Any]]:
    """Approved revenue per ISO week (starting Monday), cluster and currency: daily figures of a small
    business are too spiky to read."""
    weekly = (
        daily.with_columns(pl.col("sale_date").dt.truncate("1w").alias("week"))
        .group_by("week", "cluster", "currency")
        .agg(pl.col("gross_revenue").sum().alias("revenue"), pl.col("orders").sum().alias("sales"))
        .sort("week", "cluster", "currency")
    )
    return _rows(weekly)


def refund_rates_by(rates: pl.DataFrame, keys: list[str]) -> list[dict[str, Any]]:
    """Refund and chargeback rate per ``keys`` (e.g. cluster and month, all platforms together)."""
    return _rows(
        rates.group_by(keys)
        .agg(pl.sum("paid_orders"), pl.sum("refunded_orders"), pl.sum("chargebacks"))
        .with_columns(
            (pl.col("refunded_orders") / pl.col("paid_orders")).round(4).alias("refund_rate"),
            (pl.col("chargebacks") / pl.col("paid_orders")).round(4).alias("chargeback_rate"),
        )
        .sort(keys)
    )


def cluster_window(settings: Settings) -> list[dict[str, Any]]:
    """Per cluster and currency, the figures of the report's window (alerts judge rates on these)."""
    daily = Lake.from_settings(settings).gold("daily_sales").read()
    if daily is None or daily.is_empty():
        return []
    return _compare(daily, ["cluster", "currency"], window(daily, None))


# ----------------------------------------------------------------------------------- data health


def table_status(settings: Settings) -> list[dict[str, Any]]:
    tables = []
    for entry in lake_tables(settings):
        table = entry.table
        version = table.version()
        if version < 0:
            continue
        last = table.history(1)[0]
        rows = table.scan().select(pl.len()).collect().item()
        written = datetime.fromtimestamp(last["timestamp"] / 1000, UTC).isoformat(timespec="seconds")
        tables.append({"table": table.name, "version": version, "rows": rows, "last_write": written,
                       "last_operation": last.get("operation")})  # fmt: skip
    return tables


def file_counts(settings: Settings) -> dict[str, int]:
    log = ledger.read(Lake.from_settings(settings))
    counts = dict.fromkeys(("ingested", "skipped", "rejected"), 0)
    counts.update(dict(log.group_by("status").len().iter_rows()))
    counts["quarantined"] = len(quarantined(settings))
    return counts


def rejected_files(settings: Settings, limit: int = 10) -> list[dict[str, Any]]:
    """The newest files refused at ingest, with the reason and what to do."""
    log = ledger.read(Lake.from_settings(settings)).filter(pl.col("status") == "rejected")
    latest = log.sort("finished_at", descending=True).unique("file_name", keep="first", maintain_order=True)
    return _rows(latest.head(limit).select("cluster", "file_name", "reason", "hint", "finished_at"))


def schema_changes(settings: Settings) -> list[dict[str, Any]]:
    """Per cluster, each source layout in the order it first appeared, with the columns it added."""
    log = ledger.read(Lake.from_settings(settings))
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
    """Silver rejects per cluster and rule, with one example row each (file, row, raw value)."""
    rejects = Lake.from_settings(settings).rejects().read()
    if rejects is None or rejects.is_empty():
        return []
    return _rows(
        rejects.sort("_source_file", "_row")
        .group_by("cluster", "rule")
        .agg(
            pl.len().alias("rows"),
            pl.col("column").first(),
            pl.col("_source_file").first().alias("example_file"),
            pl.col("_row").first().alias("example_row"),
            pl.col("raw_value").first().alias("example_value"),
            pl.col("detail").first().alias("example_detail"),
        )
        .sort("cluster", "rule")
    )


def unknown_layouts(settings: Settings) -> list[dict[str, Any]]:
    """Layouts no profile recognised (their rows wait in rejects), per cluster, with the fix."""
    rejects = Lake.from_settings(settings).rejects().read()
    if rejects is None or rejects.is_empty():
        return []
    found = (
        rejects.filter(pl.col("rule") == "layout_known")
        .group_by("cluster", "detail")
        .agg(pl.len().alias("rows"), pl.col("_source_file").unique().sort().alias("files"))
        .sort("cluster", "detail")
    )
    return [{"cluster": r["cluster"], "rows": r["rows"], "files": r["files"],
             "columns": (r["detail"] or "").removeprefix("headers: "),
             "fix": f"map it in lakectl.toml under [silver.profiles.{r['cluster']}.<name>] "
                    f"(README: 'Mapping your own sheets'), then: lakectl promote silver --cluster {r['cluster']} --full"}
            for r in found.iter_rows(named=True)]  # fmt: skip


def unknown_statuses(settings: Settings) -> list[dict[str, Any]]:
    """Raw statuses nothing maps (the sales are in silver with no status), per cluster, with the fix."""
    found = []
    for cluster in settings.clusters:
        arrow = (
            Lake.from_settings(settings).silver(cluster).read_arrow(["status", "status_raw", "_source_file"])
        )
        if arrow is None:
            continue
        frame = pl.DataFrame(arrow)
        counted = (
            frame.filter(pl.col("status").is_null() & pl.col("status_raw").is_not_null())
            .group_by("status_raw")
            .agg(pl.len().alias("rows"), pl.col("_source_file").first().alias("example_file"))
            .sort("status_raw")
        )
        for row in counted.iter_rows(named=True):
            raw = row["status_raw"]
            found.append({"cluster": cluster, "status_raw": raw, "rows": row["rows"], "example_file": row["example_file"],
                          "fix": f'add statuses = {{ "{raw}" = "approved" }} (or refunded, cancelled…) to the profile '
                                 f"in lakectl.toml, then: lakectl promote silver --cluster {cluster} --full"})  # fmt: skip
    return found


def layout_decisions(settings: Settings) -> list[dict[str, Any]]:
    """How each layout was understood at its latest promotion: field -> column, score and evidence,
    the platform, what stayed unmapped or missing, and the commands that show and change it."""
    found = []
    for record in last_decisions(settings):
        cluster = record["cluster"]
        fix = (f"see every column: lakectl map --cluster {cluster}; to change one: lakectl map --cluster {cluster} "
               f"--toml, edit it into lakectl.toml (or --save), then: lakectl promote silver --cluster {cluster} --full")  # fmt: skip
        found.append({
            "cluster": cluster, "schema_id": record.get("schema_id", ""), "files": record.get("files", []),
            "sheets": record.get("sheets", []), "rows": record.get("rows", 0), "kind": record.get("kind"),
            "profile": record.get("profile"), "platform": record.get("platform"),
            "platform_evidence": record.get("platform_evidence", []), "fields": record.get("fields", {}),
            "unmapped": record.get("unmapped", []), "missing": record.get("missing", []),
            "notes": record.get("notes", []), "fix": fix,
        })  # fmt: skip
    return sorted(found, key=lambda r: (r["cluster"], r["files"], r["sheets"], r["schema_id"]))


# ---------------------------------------------------------------------------------------- report


def build_report(settings: Settings, as_of: date | None = None) -> dict[str, Any]:
    """The whole report as a dict; every money figure keeps its currency."""
    lake = Lake.from_settings(settings)
    gold = {name: lake.gold(name).read() for name in GOLD_TABLES}
    daily = gold["daily_sales"]
    w = window(daily, as_of)
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "lakectl_version": __version__,
        "locale": settings.report.locale,
        "timezone": BUSINESS_TZ,
        "as_of": w["end"],
        "window": w,
        "clusters": list(settings.clusters),
        "gold_built": daily is not None,
        "summary": [],
        "revenue": [],
        "products": [],
        "revenue_by_day": [],
        "revenue_by_week": [],
        "refund_rate_by_month": [],
        "refund_rates": [],
        "cluster_overlap": [],
        "cross_sell": [],
        "health": {
            "files": file_counts(settings),
            "rejected_files": rejected_files(settings),
            "rejects": rejects_by_rule(settings),
            "unknown_layouts": unknown_layouts(settings),
            "unknown_statuses": unknown_statuses(settings),
            "layouts": layout_decisions(settings),
        },
        "lake": {"tables": table_status(settings), "schema_changes": schema_changes(settings)},
    }
    if daily is None:
        return report
    report["summary"] = _compare(daily, ["currency"], w)
    report["revenue"] = _compare(daily, ["cluster", "currency"], w)
    products = _compare(daily, ["currency", "cluster", "product_name"], w)
    products.sort(key=lambda r: (r["currency"], -Decimal(r["revenue"]), r["product_name"] or ""))
    per_currency: dict[str, int] = {}
    for row in products:
        per_currency[row["currency"]] = per_currency.get(row["currency"], 0) + 1
        if per_currency[row["currency"]] <= TOP_PRODUCTS and (row["sales"] or row["previous_sales"]):
            report["products"].append(row)
    report["revenue_by_day"] = _rows(
        daily.group_by("sale_date", "cluster", "currency")
        .agg(pl.col("gross_revenue").sum(), pl.col("orders").sum())
        .sort("sale_date", "cluster", "currency")
    )
    report["revenue_by_week"] = revenue_by_week(daily)
    rates = gold["refund_rates"]
    if rates is not None:
        report["refund_rate_by_month"] = refund_rates_by(rates, ["cluster", "month"])
        report["refund_rates"] = refund_rates_by(rates, ["cluster", "platform"])
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
