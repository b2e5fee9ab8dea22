"""``lakectl map``: how lakectl understands a layout (registered on the main app)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from lakectl.cli import app, out, state


@app.command("map")
def map_command(
    files: Annotated[
        list[Path] | None, typer.Argument(help="exports to look at (nothing is ingested)")
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option("--cluster", "-C", help="the cluster's profiles; without FILE: its bronze layouts"),
    ] = None,
    toml: Annotated[bool, typer.Option("--toml", help="print a profile to paste into lakectl.toml")] = False,
    save: Annotated[bool, typer.Option("--save", help="write the profile into lakectl.toml")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the decisions as JSON")] = False,
) -> None:
    """Show how each column is understood (field, score, evidence), the platform and what is unmapped."""
    from lakectl.mapping import map_cluster, map_files, to_toml
    from lakectl.mapping import save as save_profile

    settings = state.settings()
    if not files and cluster is None:
        raise typer.BadParameter("give FILE(s), or --cluster C for the layouts already in bronze")
    for path in files or []:
        if not path.is_file():
            raise typer.BadParameter(f"{path} is not a file", param_hint="FILE")
    if cluster is not None:
        settings.check_cluster(cluster)
    records = (
        map_files(settings, list(files), cluster or "*") if files else map_cluster(settings, cluster or "")
    )
    if as_json:
        out.print_json(json.dumps(records, ensure_ascii=False, default=str))
    elif not toml and not save:
        for record in records:
            _show(record)
    text = "\n".join(to_toml(r, cluster or "*") for r in records if r["kind"] == "sales")
    if toml:
        out.print(text, markup=False, highlight=False)
    if save:
        from lakectl.config import DEFAULT_CONFIG_FILE, config_file_from

        target = config_file_from(state.config) or Path(DEFAULT_CONFIG_FILE)
        save_profile(target, text)
        out.print(f"saved {sum(r['kind'] == 'sales' for r in records)} profile(s) in {target}; "
                  "the next 'lakectl promote silver' takes them")  # fmt: skip


def _show(record: dict[str, Any]) -> None:
    from rich.table import Table

    where = ", ".join(record["files"][:3]) + (
        f" [{', '.join(record['sheets'][:3])}]" if record["sheets"] else ""
    )
    out.print(f"[bold]{where}[/bold]: {record['kind']}, {record['rows']} row(s), profile {record['profile']}, "
              f"platform {record['platform'] or 'per row'} ({'; '.join(record['platform_evidence'])})")  # fmt: skip
    table = Table("field", "column", "header", "score", "evidence")
    headers = record.get("headers", {})
    for name, choice in record["fields"].items():
        table.add_row(name, choice["column"], headers.get(choice["column"], ""), f"{choice['score']:.2f}",
                      choice["evidence"])  # fmt: skip
    out.print(table)
    if record["unmapped"]:
        out.print("unmapped (kept in extras): " + ", ".join(record["unmapped"]))
    if record["missing"]:
        out.print(
            f"[yellow]missing required: {', '.join(record['missing'])}[/yellow]: map them with --toml/--save"
        )
    for note in record["notes"]:
        out.print(note)
