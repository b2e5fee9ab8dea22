"""The lakectl command line: each command parses options, makes one library call and renders.

This is the single error boundary: a LakectlError becomes "Error: ..." plus a hint and its exit code.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler

from lakectl import __version__
from lakectl.config import SAMPLE_TOML, Settings, config_file_from, load_settings
from lakectl.errors import LakectlError

app = typer.Typer(
    name="lakectl",
    help="Sales spreadsheets in, a Delta lakehouse out: bronze -> silver -> gold.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
out = Console()
err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


class State:
    config: Path | None = None
    debug: bool = False
    _settings: Settings | None = None

    def settings(self, **overrides: Any) -> Settings:
        if self._settings is None or overrides:
            self._settings = load_settings(config_file_from(self.config), **overrides)
        return self._settings


state = State()


def _version(value: bool) -> None:
    if value:
        out.print(f"lakectl {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="lakectl.toml to read (default: $LAKECTL_CONFIG or ./lakectl.toml)"
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="show tracebacks and debug logs")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version and exit")
    ] = False,
) -> None:
    state.config = config
    state.debug = debug
    state._settings = None
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err, show_path=False, show_time=False)],
        force=True,
    )


def fail(exc: LakectlError) -> typer.Exit:
    err.print(f"[bold red]Error:[/bold red] {exc.message}", highlight=False)
    if exc.hint:
        err.print(f"[dim]Hint: {exc.hint}[/dim]", highlight=False)
    return typer.Exit(code=exc.exit_code)


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="folder to initialise")] = Path("."),
) -> None:
    """Create the landing-zone folders, the lake root and a commented lakectl.toml."""
    try:
        settings = state.settings()
    except LakectlError as exc:
        raise fail(exc) from None
    config = path / "lakectl.toml"
    created = []
    for folder in [path / settings.landing_zone / c for c in settings.clusters] + [path / settings.lake_root]:
        if not folder.exists():
            folder.mkdir(parents=True)
            created.append(str(folder))
    if not config.exists():
        config.write_text(SAMPLE_TOML, encoding="utf-8")
        created.append(str(config))
    out.print("created: " + ", ".join(created) if created else "nothing to do: everything exists")


@app.command()
def ingest(
    paths: Annotated[
        list[Path], typer.Argument(help="files or folders (read recursively)", show_default=False)
    ],
    cluster: Annotated[
        str | None, typer.Option("--cluster", "-C", help="target cluster (default: the landing-zone folder)")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="show what would be ingested; write nothing")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print results as JSON")] = False,
) -> None:
    """Ingest spreadsheets into bronze, exactly once (re-ingesting the same bytes is a no-op)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from lakectl import render, runner

    missing = [p for p in paths if not p.exists()]
    if missing:
        err.print(f"[bold red]Error:[/bold red] no such file or folder: {', '.join(map(str, missing))}")
        raise typer.Exit(code=2)
    try:
        settings = state.settings()
        jobs = runner.plan(paths, cluster, settings)
        if not jobs:
            err.print("nothing to ingest: no data files under the given paths")
            raise typer.Exit(code=0)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=len(jobs) < 2 or not err.is_terminal,
        ) as progress:
            task = progress.add_task("ingesting", total=len(jobs))
            results = runner.ingest_paths(
                jobs, settings, dry_run=dry_run, on_result=lambda r: progress.advance(task)
            )
    except LakectlError as exc:
        raise fail(exc) from None
    if as_json:
        out.print_json(render.ingest_json(results))
    else:
        render.ingest_table(out, results, dry_run)
    if any(r.status == "rejected" for r in results):
        raise typer.Exit(code=4)


def main() -> None:
    try:
        app()
    except LakectlError as exc:  # raised outside a command body (e.g. settings in a callback)
        err.print(f"Error: {exc.message}")
        sys.exit(exc.exit_code)
