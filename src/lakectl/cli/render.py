"""Results -> terminal tables or JSON. No decisions about what to do, only how to show it."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from lakectl.models import IngestResult

STATUS_STYLE = {"ingested": "green", "skipped": "yellow", "rejected": "red", "would ingest": "cyan"}
# Identifiers and numbers are never broken ("emagrecime/nto"); the free-text column folds instead.
WHOLE: dict[str, Any] = {"no_wrap": True, "overflow": "fold"}
NUMBER: dict[str, Any] = {**WHOLE, "justify": "right"}
FOLDED: dict[str, Any] = {"overflow": "fold", "ratio": 1, "min_width": 12}


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
    """One section per cluster (its name heads it), so the file column keeps the width it needs."""
    table = _table("lakectl ingest" + (" (dry run: nothing written)" if dry_run else ""))
    for name, kw in (("file", WHOLE), ("status", WHOLE), ("rows", NUMBER), ("detail", FOLDED)):
        table.add_column(name, **kw)
    by_cluster: dict[str, list[IngestResult]] = {}
    for r in results:
        by_cluster.setdefault(r.cluster or "(no cluster)", []).append(r)
    for cluster, group in by_cluster.items():
        table.add_row(f"[bold]{cluster}[/bold]")
        for r in group:
            style = STATUS_STYLE[r.status]
            table.add_row(r.file, f"[{style}]{r.status}[/{style}]", f"{r.rows:,}", _ingest_detail(r, dry_run))
        table.add_section()
    console.print(table)
    counts = Counter(r.status for r in results)
    ingested = f"{counts['would ingest']} would ingest" if dry_run else f"{counts['ingested']} ingested"
    console.print(
        f"{len(results)} file(s): [green]{ingested}[/green], "
        f"[yellow]{counts['skipped']} skipped[/yellow], [red]{counts['rejected']} rejected[/red]; "
        f"{sum(r.rows for r in results if r.status in ('ingested', 'would ingest')):,} rows"
    )
    # the watcher quarantines; a one-off ingest leaves files in place and records why in the ingest log
    if counts["rejected"] and not dry_run:
        console.print("rejected files stay in place; why: [bold]lakectl log --status rejected[/bold]")
    if any(s.dropped for r in results for s in r.sheets):
        console.print("rows left out of a file: [bold]lakectl log --rows-left-out FILE[/bold]")


def _ingest_detail(r: IngestResult, dry_run: bool) -> str:
    detail = (r.reason or "").removeprefix(f"{r.file}: ")  # the file column already names it
    if r.status == "rejected" and r.hint:
        detail += f"\n[dim]hint: {r.hint}[/dim]"
    if dry_run and r.sheets:
        return "\n".join(_sheet_plan(s) for s in r.sheets) + (
            f"\n{r.reason}" if r.status == "skipped" else ""
        )
    if r.status != "ingested":
        return detail
    dropped = sum(len(s.dropped) for s in r.sheets)
    new = sorted({c for s in r.sheets for c in s.new_columns})
    parts = [f"bronze v{r.bronze_version}" if r.bronze_version is not None else "no data rows"]
    if len(r.sheets) > 1:
        parts.append(f"{len(r.sheets)} sheets")
    if new:
        parts.append(f"new columns: {', '.join(new)}")
    if dropped:
        parts.append(f"{dropped} non-data row(s) left out")
    return "; ".join(parts)


def _table(title: str) -> Table:
    # no vertical rules: every column's width goes to its text, so identifiers fit at 80 columns
    return Table(
        title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, collapse_padding=True
    )


def _sheet_plan(sheet: Any) -> str:
    header = f"header at row {sheet.header_row}" if sheet.header_row else "no header row"
    new = [c for c in sheet.columns if c in sheet.new_columns]
    cols = ", ".join(f"[bold]{c}[/bold] (new)" if c in new else c for c in sheet.columns[:12])
    more = f" (+{len(sheet.columns) - 12} more)" if len(sheet.columns) > 12 else ""
    return f"{sheet.sheet}: {header}, {sheet.rows:,} rows; columns: {cols}{more}"


def promotion_table(console: Console, results: list[Any]) -> None:
    """The counts in a table; the notes (free text, often long) below it, one line per note."""
    table = _table("lakectl promote silver")
    for name in ("cluster", "status", "bronze"):
        table.add_column(name, **WHOLE)
    for name in ("rows in", "inserted", "updated", "rejected"):
        table.add_column(name, **NUMBER)
    notes = []
    for r in results:
        report = r.report
        rejected = report.get("rejected", {})
        notes += [f"[bold]{r.cluster}[/bold]: {note}" for note in _promotion_notes(report)]
        bronze = f"v{r.bronze_from + 1}..v{r.bronze_to}" if r.bronze_to >= 0 else "-"
        table.add_row(r.cluster, r.status, bronze, f"{report.get('rows_in', 0):,}", f"{r.inserted:,}",
                      f"{r.updated:,}", f"{sum(rejected.values()):,}")  # fmt: skip
    console.print(table)
    for note in notes:
        console.print(note, highlight=False)


def _promotion_notes(report: dict[str, Any]) -> list[str]:
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
        notes.append(f"[yellow]{file}[/yellow]: no recognisable platform, {rows} row(s) kept as 'unknown'")
    if report.get("skipped"):
        notes.append(f"{report['skipped']} row(s) of summary sheets skipped (totals, not sales)")
    return notes
