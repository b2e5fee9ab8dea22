"""Operations commands: maintenance, time travel and backups (registered on the main app)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from lakectl.cli import app, fail, out, state
from lakectl.errors import LakectlError


@app.command()
def maintain(
    cluster: Annotated[
        list[str] | None, typer.Option("--cluster", "-C", help="only these clusters' tables")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print results as JSON")] = False,
) -> None:
    """Compact small files, checkpoint, vacuum (orphans too) and trim old log entries."""
    from lakectl.lake.maintenance import maintain as run

    try:
        results = run(state.settings(), cluster)
    except LakectlError as exc:
        raise fail(exc) from None
    if as_json:
        out.print_json(json.dumps(results))
        return
    for name, result in results.items():
        out.print(f"{name}: v{result.get('version')}, compacted {result.get('files_removed', 0)} file(s) into "
                  f"{result.get('files_added', 0)}, vacuumed {result.get('vacuumed', 0)}")  # fmt: skip


@app.command()
def history(
    table: Annotated[str, typer.Argument(help="a table of the lake, e.g. silver/diabetes or gold/customers")],
    limit: Annotated[int, typer.Option("--limit", "-n", help="newest entries to show")] = 20,
) -> None:
    """The commits of a table, newest first."""
    from lakectl.lake.maintenance import history as run

    try:
        entries = run(state.settings(), table, limit)
    except LakectlError as exc:
        raise fail(exc) from None
    out.print_json(json.dumps(entries, default=str))


@app.command()
def restore(
    table: Annotated[str, typer.Argument(help="a table of the lake, e.g. silver/diabetes")],
    version: Annotated[int | None, typer.Option("--version", help="the version to go back to")] = None,
    timestamp: Annotated[str | None, typer.Option("--timestamp", help="or a time, ISO-8601 (UTC)")] = None,
) -> None:
    """Bring a table back to an earlier version (a new commit; the history is kept)."""
    from lakectl.lake.maintenance import restore as run

    try:
        result = run(state.settings(), table, version, timestamp)
    except LakectlError as exc:
        raise fail(exc) from None
    out.print(f"{table} restored; it is now at version {result['version']}")
    if result.get("forgotten"):
        out.print(f"no longer in bronze, so out of the ingest log (the next ingest takes them again): "
                  f"{', '.join(result['forgotten'])}")  # fmt: skip
    if result.get("back"):
        out.print(f"in bronze again, so back in the ingest log: {', '.join(result['back'])}")


@app.command()
def forget(
    target: Annotated[
        str, typer.Argument(help="the file (as ingested, or its name) or its SHA-256", metavar="FILE|SHA256")
    ],
    cluster: Annotated[
        str | None, typer.Option("--cluster", "-C", help="only its ingest into this cluster")
    ] = None,
) -> None:
    """Take an ingested file back out of bronze and the ingest log, so it can be ingested again
    (e.g. into the right cluster)."""
    from lakectl.lake.maintenance import forget as run

    try:
        result = run(state.settings(), target, cluster)
    except LakectlError as exc:
        raise fail(exc) from None
    for done in result["clusters"]:
        out.print(f"forgot {result['file']} in {done['cluster']}: {done['rows']:,} row(s) out of bronze"
                  + (f" (v{done['bronze_version']})" if done["rows"] else ""))  # fmt: skip
    clusters = " ".join(f"-C {done['cluster']}" for done in result["clusters"])
    out.print(f"silver keeps its rows until: lakectl promote silver --full {clusters}", highlight=False)


@app.command()
def backup(
    args: Annotated[list[str], typer.Argument(help="DEST, or 'verify DEST'", metavar="[verify] DEST")],
) -> None:
    """Copy a consistent snapshot of every table to DEST (incrementally); 'backup verify DEST' checks one."""
    from lakectl.lake.maintenance import backup as run
    from lakectl.lake.maintenance import verify_backup

    if len(args) == 2 and args[0] == "verify":
        result = verify_backup(_place(args[1]), state.settings().storage.options())
        out.print_json(json.dumps(result))
        raise typer.Exit(code=0 if result["ok"] else 6)
    if len(args) != 1:
        raise typer.BadParameter("use 'lakectl backup DEST' or 'lakectl backup verify DEST'")
    try:
        result = run(state.settings(), _place(args[0]))
    except LakectlError as exc:
        raise fail(exc) from None
    out.print(f"backed up {len(result['tables'])} table(s) to {result['dest']}: {result['copied']} file(s) copied, "
              f"{result['already_there']} already there")  # fmt: skip


def _place(text: str) -> Path | str:
    """A backup destination: a local folder, or an object-store URI kept as text."""
    return text if "://" in text else Path(text)


@app.command("restore-backup")
def restore_backup(
    dest: Annotated[str, typer.Argument(help="a folder (or s3:// URI) written by 'lakectl backup'")],
    force: Annotated[bool, typer.Option("--force", help="replace a lake that is not empty")] = False,
) -> None:
    """Rebuild the lake (lake_root) from a backup: every table opens at its backed-up version."""
    from lakectl.lake.maintenance import restore_backup as run

    try:
        settings = state.settings()
        result = run(settings, _place(dest), force=force)
    except LakectlError as exc:
        raise fail(exc) from None
    out.print(f"restored {len(result['tables'])} table(s) into {result['lake']}"
              + (f", and the customer_key salt into {settings.silver.salt_file}" if result["salt_restored"] else ""))  # fmt: skip
