"""Asking the lake: `lakectl query` (SQL, read-only) and `lakectl log` (the ingest log)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from lakectl.cli import app, err, escape, fail, out, state
from lakectl.errors import LakectlError

TERMINAL_ROWS = 200  # a terminal table past this is unreadable: use csv/json/parquet


@app.command()
def query(
    sql: Annotated[str | None, typer.Argument(help="one SELECT over the lake's tables")] = None,
    format_: Annotated[str, typer.Option("--format", "-f", help="table | csv | json | parquet")] = "table",
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", help="write the result to this file")
    ] = None,
    tables: Annotated[bool, typer.Option("--tables", help="list the tables and their columns")] = False,
) -> None:
    """SQL over every table (bronze.<cluster>, silver.<cluster>, silver._rejects, gold.<table>,
    lakectl.ingest_log, lakectl.runs); read-only: a statement that writes is refused."""
    from rich.table import Table

    from lakectl.query import describe_tables, run_query, write_result

    if format_ not in ("table", "csv", "json", "parquet"):
        raise typer.BadParameter("use table, csv, json or parquet", param_hint="--format")
    try:
        if tables:
            described = describe_tables(state.settings())
            if format_ == "json":
                sys.stdout.write(json.dumps(described, indent=1) + "\n")
                return
            grid = Table(title="tables you can query", title_justify="left")
            for name in ("table", "version", "columns"):
                grid.add_column(name, overflow="fold")
            for entry in described:
                grid.add_row(entry["table"], str(entry["version"]), ", ".join(entry["columns"]))
            out.print(grid)
            return
        if not sql:
            raise typer.BadParameter("give the SQL, or --tables to see what can be queried")
        result = run_query(state.settings(), sql)
        if format_ == "table":
            _print_table(result.to_pylist(), result.column_names)
            return
        text = write_result(result, format_, out_file)
    except LakectlError as exc:
        raise fail(exc) from None
    if text is None:
        err.print(f"{result.num_rows} row(s) written to {out_file}")
    else:
        sys.stdout.write(text)


def _print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    from rich.table import Table

    grid = Table(title_justify="left")
    for name in columns:
        grid.add_column(name, overflow="fold")
    for row in rows[:TERMINAL_ROWS]:
        grid.add_row(*["" if row[c] is None else str(row[c]) for c in columns])
    out.print(grid)
    more = (
        f"; showing {TERMINAL_ROWS}: use --format csv|json|parquet for all"
        if len(rows) > TERMINAL_ROWS
        else ""
    )
    err.print(f"{len(rows)} row(s){more}")


@app.command("log")
def log_(
    status: Annotated[str | None, typer.Option("--status", help="ingested | skipped | rejected")] = None,
    cluster: Annotated[str | None, typer.Option("--cluster", "-C", help="only this cluster")] = None,
    since: Annotated[str | None, typer.Option("--since", help="7d, 12h, 2026-10-01 or an ISO time")] = None,
    file: Annotated[str | None, typer.Option("--file", help="a file name, part of one, or a glob")] = None,
    rows_left_out: Annotated[
        str | None, typer.Option("--rows-left-out", help="show the title/total/footer rows cut from FILE")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="newest entries to show")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """The ingest log: one line per file event (ingested, skipped, rejected), newest first."""
    from lakectl.lake import ingestlog

    try:
        settings = state.settings()
        if rows_left_out is not None:
            found = ingestlog.rows_left_out(settings, rows_left_out)
            if as_json:
                sys.stdout.write(json.dumps(found, default=str, ensure_ascii=False, indent=1) + "\n")
                return
            for entry in found:
                out.print(f"[bold]{entry['file']}[/bold] ({entry['cluster']}, ingested "
                          f"{entry['ingested_at']:%Y-%m-%d %H:%M} UTC, {entry['rows']} rows)", highlight=False)  # fmt: skip
                for sheet in entry["sheets"]:
                    out.print(
                        f"  sheet {sheet['sheet']}: header: {' | '.join(sheet['header'])}", highlight=False
                    )
                    cut = sheet["left_out"] or ["(no rows were left out)"]
                    for line in cut:
                        out.print(f"    {line}", highlight=False, markup=False)
            return
        frame = ingestlog.entries(
            settings, status, cluster, ingestlog.parse_since(since) if since else None, file
        )
    except LakectlError as exc:
        raise fail(exc) from None
    shown = frame.head(limit)
    columns = [
        "finished_at",
        "cluster",
        "file_name",
        "status",
        "rows",
        "reason",
        "hint",
        "duplicate_of",
        "sha256",
    ]
    if as_json:
        sys.stdout.write(
            json.dumps(shown.select(columns).to_dicts(), default=str, ensure_ascii=False, indent=1) + "\n"
        )
        return
    if frame.is_empty():
        err.print("no entries match")
        return
    from rich.table import Table

    grid = Table(title="ingest log (newest first)", title_justify="left")
    for name in ("time (UTC)", "cluster", "file", "status", "rows", "detail"):
        grid.add_column(name, overflow="fold", no_wrap=name == "time (UTC)")
    for row in shown.iter_rows(named=True):
        detail = escape(row["reason"] or "")
        if row["duplicate_of"]:
            detail = escape(f"duplicate of {row['duplicate_of']}")
        if row["hint"]:
            detail += f"\n[dim]hint: {escape(row['hint'])}[/dim]"
        when = row["finished_at"]
        grid.add_row(f"{when:%Y-%m-%d %H:%M}" if when else "", row["cluster"] or "", escape(row["file_name"]),
                     row["status"], str(row["rows"] or 0), detail)  # fmt: skip
    out.print(grid)
    if frame.height > limit:
        err.print(f"{frame.height} entries; showing the newest {limit} (--limit)")
