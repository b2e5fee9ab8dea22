"""The report dict (report.py) -> terminal tables, Markdown, CSV or one self-contained HTML page."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from rich.console import Console
from rich.table import Table

# Text cells a spreadsheet would run as a formula (OWASP "CSV injection"); numbers are left alone.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0")
NUMBER = re.compile(r"^-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$")


def safe_cell(value: Any) -> Any:
    """A value for a CSV cell: text that starts like a formula gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    text = str(value)
    if NUMBER.match(text):
        return text  # a decimal rendered as text: a number, not a formula
    return "'" + text if text.startswith(FORMULA_START) else text


def _pct(value: Any) -> str:
    return "-" if value is None else f"{float(value):.1%}"


def _money(value: Any) -> str:
    if value is None:
        return "-"
    return f"{float(value):,.2f}"


# --------------------------------------------------------------------------------------- sections


def sections(report: dict[str, Any]) -> Iterator[tuple[str, list[str], list[list[Any]]]]:
    """(title, headers, rows) of every section, shared by the terminal, Markdown and HTML views."""
    lake = report["lake"]
    yield (
        "Lake tables",
        ["table", "version", "rows", "last write (UTC)", "operation"],
        [[t["table"], t["version"], t["rows"], t["last_write"], t["last_operation"]] for t in lake["tables"]],
    )
    files = lake["files"]
    yield (
        "Files",
        ["ingested", "skipped", "rejected", "quarantined"],
        [
            [
                files.get("ingested", 0),
                files.get("skipped", 0),
                files.get("rejected", 0),
                files.get("quarantined", 0),
            ]
        ],
    )
    yield (
        "Silver rejects by rule",
        ["cluster", "rule", "rows"],
        [[r["cluster"], r["rule"], r["rows"]] for r in lake["rejects"]],
    )
    yield (
        "Source layouts seen",
        ["cluster", "first seen", "first file", "new columns"],
        [
            [c["cluster"], c["first_seen"], c["first_file"], ", ".join(c["new_columns"][:12])]
            for c in lake["schema_changes"]
        ],
    )
    yield f"Revenue (approved), last 30 days to {report['as_of']} vs the 30 before", [
        "cluster", "currency", "last 30 days", "previous 30", "change", "all time", "orders"
    ], [
        [r["cluster"], r["currency"], _money(r["last_30_days"]), _money(r["previous_30_days"]), _pct(r["change"]),
         _money(r["all_time"]), r["orders_all_time"]]
        for r in report["revenue"]
    ]  # fmt: skip
    yield "Top products by revenue", ["currency", "cluster", "product", "orders", "revenue", "avg ticket", "refunds"], [
        [r["currency"], r["cluster"], r["product_name"], r["orders"], _money(r["revenue"]), _money(r["average_ticket"]),
         _pct(r["refund_rate"])]
        for r in report["top_products"]
    ]  # fmt: skip
    yield "Refund and chargeback rates", ["cluster", "platform", "paid orders", "refunds", "chargebacks", "refund rate",
                                          "chargeback rate"], [
        [r["cluster"], r["platform"], r["paid_orders"], r["refunded_orders"], r["chargebacks"], _pct(r["refund_rate"]),
         _pct(r["chargeback_rate"])]
        for r in report["refund_rates"]
    ]  # fmt: skip
    yield (
        "Cross-sell: customers who also buy in another cluster",
        ["cluster", "customers", "also elsewhere", "share"],
        [[r["cluster"], r["customers"], r["also_elsewhere"], _pct(r["share"])] for r in report["cross_sell"]],
    )


def overlap_matrix(report: dict[str, Any]) -> tuple[list[str], list[list[int]]]:
    clusters = report["clusters"]
    counts = {(r["cluster"], r["other"]): r["customers"] for r in report["cluster_overlap"]}
    return clusters, [[counts.get((a, b), 0) for b in clusters] for a in clusters]


# ----------------------------------------------------------------------------------------- views


def terminal(console: Console, report: dict[str, Any]) -> None:
    if not report["gold_built"]:
        console.print("[yellow]gold is not built yet: run 'lakectl promote all'[/yellow]")
    for title, headers, rows in sections(report):
        table = Table(title=title, title_justify="left")
        for header in headers:
            table.add_column(header, overflow="fold")
        for row in rows:
            table.add_row(*[str(cell) for cell in row])
        if rows:
            console.print(table)
    clusters, matrix = overlap_matrix(report)
    if report["cluster_overlap"]:
        table = Table(title="Cluster overlap (customers who bought in both)", title_justify="left")
        table.add_column("")
        for cluster in clusters:
            table.add_column(cluster, justify="right")
        for cluster, row in zip(clusters, matrix, strict=True):
            table.add_row(cluster, *[str(v) for v in row])
        console.print(table)


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# lakectl report ({report['as_of']})", "", f"Generated {report['generated_at']} by lakectl "
             f"{report['lakectl_version']}. Money is per currency; dates in {report['timezone']}.", ""]  # fmt: skip
    for title, headers, rows in sections(report):
        lines += [f"## {title}", ""]
        if not rows:
            lines += ["(none)", ""]
            continue
        lines.append("| " + " | ".join(headers) + " |")
        lines.append("|" + "---|" * len(headers))
        for row in rows:
            lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |")
        lines.append("")
    return "\n".join(lines)


def to_csv(report: dict[str, Any]) -> str:
    """One long table (section, cluster, other, currency, item, metric, value), injection-safe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "cluster", "other", "currency", "item", "metric", "value"])

    def emit(section: str, row: dict[str, Any], keys: dict[str, str], metrics: list[str]) -> None:
        base = [
            row.get(keys.get(k, ""), "") if k in keys else ""
            for k in ("cluster", "other", "currency", "item")
        ]
        for metric in metrics:
            writer.writerow([safe_cell(v) for v in [section, *base, metric, row.get(metric)]])

    for row in report["revenue"]:
        emit("revenue", row, {"cluster": "cluster", "currency": "currency"},
             ["last_30_days", "previous_30_days", "change", "all_time", "orders_all_time"])  # fmt: skip
    for row in report["revenue_by_day"]:
        emit("revenue_by_day", row, {"cluster": "cluster", "currency": "currency", "item": "sale_date"},
             ["gross_revenue", "orders"])  # fmt: skip
    for row in report["top_products"]:
        emit("top_products", row, {"cluster": "cluster", "currency": "currency", "item": "product_name"},
             ["orders", "revenue", "average_ticket", "refund_rate"])  # fmt: skip
    for row in report["refund_rates"]:
        emit("refund_rates", row, {"cluster": "cluster", "other": "platform"},
             ["paid_orders", "refunded_orders", "chargebacks", "refund_rate", "chargeback_rate"])  # fmt: skip
    for row in report["cluster_overlap"]:
        emit("cluster_overlap", row, {"cluster": "cluster", "other": "other"}, ["customers"])
    for row in report["lake"]["rejects"]:
        emit("rejects", row, {"cluster": "cluster", "item": "rule"}, ["rows"])
    for row in report["lake"]["tables"]:
        emit("lake_tables", row, {"item": "table"}, ["version", "rows"])
    for status, count in report["lake"]["files"].items():
        emit("files", {"status": status, "count": count}, {"item": "status"}, ["count"])
    return out.getvalue()


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False, default=str)


# ------------------------------------------------------------------------------------------ html


def html_page(report: dict[str, Any]) -> str:
    """One file, no network: the plotting library's JavaScript is inlined."""
    import plotly.graph_objects as go
    from plotly.offline import get_plotlyjs

    figures: list[tuple[str, Any]] = []
    # weekly totals (weeks start on Monday): daily figures of a small business are too spiky to read
    weekly: dict[str, dict[str, dict[str, float]]] = {}
    for row in report["revenue_by_day"]:
        day = date.fromisoformat(row["sale_date"])
        week = (day - timedelta(days=day.weekday())).isoformat()
        per_week = weekly.setdefault(row["currency"], {}).setdefault(row["cluster"], {})
        per_week[week] = per_week.get(week, 0.0) + float(row["gross_revenue"])
    by_currency = {
        currency: {
            cluster: (sorted(weeks), [weeks[w] for w in sorted(weeks)]) for cluster, weeks in clusters.items()
        }
        for currency, clusters in weekly.items()
    }
    for currency, per_cluster in sorted(by_currency.items()):
        fig = go.Figure(
            [go.Scatter(x=x, y=y, mode="lines+markers", name=c) for c, (x, y) in sorted(per_cluster.items())]
        )
        fig.update_layout(title=f"Approved revenue per week ({currency})", yaxis_title=currency, height=380)
        figures.append((f"revenue-{currency}", fig))
    for currency in sorted({r["currency"] for r in report["top_products"]}):
        rows = [r for r in report["top_products"] if r["currency"] == currency][::-1]
        labels = [f"{r['product_name']} ({r['cluster']})" for r in rows]
        fig = go.Figure(go.Bar(x=[float(r["revenue"]) for r in rows], y=labels, orientation="h"))
        fig.update_layout(
            title=f"Top products by revenue ({currency})",
            height=max(240, 120 + 32 * len(rows)),
            margin={"l": 260},
        )
        figures.append((f"products-{currency}", fig))
    if report["cluster_overlap"]:
        clusters, matrix = overlap_matrix(report)
        fig = go.Figure(go.Heatmap(z=matrix, x=clusters, y=clusters, colorscale="Blues", text=matrix,
                                   texttemplate="%{text}"))  # fmt: skip
        fig.update_layout(title="Cluster overlap: customers who bought in both", height=460)
        figures.append(("overlap", fig))
    if report["refund_rates"]:
        rows = report["refund_rates"]
        labels = [f"{r['cluster']} / {r['platform']}" for r in rows]
        fig = go.Figure([
            go.Bar(name="refund rate", x=labels, y=[r["refund_rate"] or 0 for r in rows]),
            go.Bar(name="chargeback rate", x=labels, y=[r["chargeback_rate"] or 0 for r in rows]),
        ])  # fmt: skip
        fig.update_layout(
            title="Refund and chargeback rates", barmode="group", yaxis_tickformat=".0%", height=420
        )
        figures.append(("refunds", fig))
    charts = "\n".join(
        f'<section class="chart" id="{name}">{fig.to_html(full_html=False, include_plotlyjs=False, div_id=name + "-plot")}</section>'
        for name, fig in figures
    )
    tables = "\n".join(_html_table(title, headers, rows) for title, headers, rows in sections(report))
    missing = (
        ""
        if report["gold_built"]
        else "<p class=warn>Gold is not built yet: run <code>lakectl promote all</code>.</p>"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>lakectl report {html.escape(report["as_of"])}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; color: #222; }}
h1 {{ margin-bottom: .2rem; }} .meta {{ color: #666; margin-top: 0; }}
table {{ border-collapse: collapse; margin: .5rem 0 1.5rem; font-size: .9rem; }}
th, td {{ border-bottom: 1px solid #ddd; padding: .3rem .6rem; text-align: left; }}
th {{ background: #f5f5f5; }} .warn {{ color: #a60; }} section.chart {{ margin: 1rem 0 2rem; }}
</style>
<script>{get_plotlyjs()}</script>
</head><body>
<h1>lakectl report</h1>
<p class="meta">As of {html.escape(report["as_of"])}, generated {html.escape(report["generated_at"])} by lakectl
{html.escape(report["lakectl_version"])}. Money is never added across currencies; dates are {html.escape(report["timezone"])}.</p>
{missing}
{charts}
<h2>Tables</h2>
{tables}
</body></html>
"""


def _html_table(title: str, headers: list[str], rows: list[list[Any]]) -> str:
    if not rows:
        return f"<h3>{html.escape(title)}</h3><p>(none)</p>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<h3>{html.escape(title)}</h3><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
