"""Results -> terminal tables or JSON. No decisions about what to do, only how to show it."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from rich.console import Console
from rich.table import Table

from lakectl.models import IngestResult

STATUS_STYLE = {"ingested": "green", "skipped": "yellow", "rejected": "red", "would ingest": "cyan"}


def ingest_json(results: list[IngestResult]) -> str:
    rows: list[dict[str, Any]] = []
    for r in results:
        rows.append(
            {
                "file": r.path,
                "cluster": r.cluster,
                "sha256": r.sha256,
                "status": r.status,
                "rows": r.rows,
                "sheets": [
                    {
                        "sheet": s.sheet,
                        "header_row": s.header_row,
                        "rows": s.rows,
                        "columns": s.columns,
                        "new_columns": s.new_columns,
                        "dropped_rows": s.dropped,
                    }
                    for s in r.sheets
                ],
                "reason": r.reason,
                "hint": r.hint,
                "duplicate_of": r.duplicate_of,
                "bronze_version": r.bronze_version,
                "duration_s": r.duration_s,
            }
        )
    counts: Counter[str] = Counter(r.status for r in results)
    shown = [k for k in STATUS_STYLE if k != "would ingest" or counts[k]]  # the last: dry runs only
    return json.dumps(
        {"files": rows, "summary": {k: counts[k] for k in shown}},
        indent=2,
        ensure_ascii=False,
    )


def ingest_table(console: Console, results: list[IngestResult], dry_run: bool) -> None:
    table = Table(
        title="lakectl ingest" + (" (dry run: nothing written)" if dry_run else ""), title_justify="left"
    )
    for name, kw in (
        ("file", {"overflow": "fold"}),
        ("cluster", {}),
        ("status", {}),
        ("rows", {"justify": "right"}),
        ("sheets", {"justify": "right"}),
        ("detail", {"overflow": "fold"}),
    ):
        table.add_column(name, **kw)  # type: ignore[arg-type]
    for r in results:
        style = STATUS_STYLE[r.status]
        detail = r.reason or ""
        if r.status == "rejected" and r.hint:
            detail += f"\n[dim]hint: {r.hint}[/dim]"
        if dry_run and r.sheets:
            detail = "\n".join(_sheet_plan(s) for s in r.sheets) + (
                f"\n{r.reason}" if r.status == "skipped" else ""
            )
        elif r.status == "ingested":
            dropped = sum(len(s.dropped) for s in r.sheets)
            new = sorted({c for s in r.sheets for c in s.new_columns})
            parts = [f"bronze v{r.bronze_version}" if r.bronze_version is not None else "no data rows"]
            if new:
                parts.append(f"new columns: {', '.join(new)}")
            if dropped:
                parts.append(f"{dropped} non-data row(s) left out (see ingest log)")
            detail = "; ".join(parts)
        table.add_row(
            r.file,
            r.cluster or "-",
            f"[{style}]{r.status}[/{style}]",
            f"{r.rows:,}",
            str(len(r.sheets)),
            detail,
        )
    console.print(table)
    counts = Counter(r.status for r in results)
    ingested = f"{counts['would ingest']} would ingest" if dry_run else f"{counts['ingested']} ingested"
    console.print(
        f"{len(results)} file(s): [green]{ingested}[/green], "
        f"[yellow]{counts['skipped']} skipped[/yellow], [red]{counts['rejected']} rejected[/red]; "
        f"{sum(r.rows for r in results if r.status in ('ingested', 'would ingest')):,} rows"
    )


def _sheet_plan(sheet: Any) -> str:
    header = f"header at row {sheet.header_row}" if sheet.header_row else "no header row"
    new = [c for c in sheet.columns if c in sheet.new_columns]
    cols = ", ".join(f"[bold]{c}[/bold] (new)" if c in new else c for c in sheet.columns[:12])
    more = f" (+{len(sheet.columns) - 12} more)" if len(sheet.columns) > 12 else ""
    return f"{sheet.sheet}: {header}, {sheet.rows:,} rows; columns: {cols}{more}"


def promotion_table(console: Console, results: list[Any]) -> None:
    table = Table(title="lakectl promote silver", title_justify="left")
    for name in (
        "cluster",
        "status",
        "bronze",
        "rows in",
        "transactions",
        "inserted",
        "updated",
        "rejected",
        "notes",
    ):
        table.add_column(name, overflow="fold", justify="right" if name in ("rows in", "transactions", "inserted",
                                                                             "updated", "rejected") else "left")  # fmt: skip
    for r in results:
        report = r.report
        rejected = report.get("rejected", {})
        notes = []
        if report.get("status_updates"):
            notes.append(f"{report['status_updates']} status change(s) from refunds/chargebacks")
        if report.get("folded"):
            notes.append(f"{report['folded']} row(s) merged into the same transaction")
        if rejected:
            notes.append("rejected: " + ", ".join(f"{k} {v}" for k, v in sorted(rejected.items())))
        if report.get("warnings"):
            notes.append("warnings: " + ", ".join(f"{k} {v}" for k, v in sorted(report["warnings"].items())))
        if report.get("unknown_statuses"):
            notes.append("[yellow]unknown statuses: " + ", ".join(report["unknown_statuses"]) + "[/yellow]")
        for layout in report.get("unknown_layouts", []):
            notes.append(
                f"[yellow]unknown layout in {', '.join(layout['files'][:3])}[/yellow]: columns "
                f"{', '.join(layout['columns'][:8])}; suggested mapping {layout['suggested_mapping']}"
            )
        for missing in report.get("missing_columns", []):
            notes.append(
                f"[yellow]{missing['file']}[/yellow]: {missing['detail']} (lakectl map {missing['file']})"
            )
        for file, rows in report.get("unknown_platform", {}).items():
            notes.append(
                f"[yellow]{file}[/yellow]: no recognisable platform, {rows} row(s) kept as 'unknown'"
            )
        if report.get("skipped"):
            notes.append(f"{report['skipped']} row(s) of summary sheets skipped (totals, not sales)")
        bronze = f"v{r.bronze_from + 1}..v{r.bronze_to}" if r.bronze_to >= 0 else "-"
        table.add_row(r.cluster, r.status, bronze, f"{report.get('rows_in', 0):,}", f"{report.get('transactions', 0):,}",
                      f"{r.inserted:,}", f"{r.updated:,}", f"{sum(rejected.values()):,}", "\n".join(notes))  # fmt: skip
    console.print(table)
