"""The lakectl command line: each command parses options, makes one library call and renders.

This is the single error boundary (``Boundary``): a LakectlError becomes "Error: ..." plus a hint and
its exit code, an OS failure (permissions, a full disk) a storage error naming the path, anything else
one line and exit 1. Tracebacks only with ``--debug``.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from typer.core import TyperGroup

from lakectl.errors import LakectlError, one_line, storage_error
from lakectl.service import heartbeat

if TYPE_CHECKING:
    from rich.console import Console

    from lakectl.config import Settings

# Start-up is a cost of every command (a Docker health check runs every 30 s): this module and the
# command modules import only typer; rich, pydantic and the engines load where a command uses them.
F = TypeVar("F", bound=Callable[..., Any])
DEBUG = "--debug"


class State:
    config: Path | None = None
    debug: bool = False
    _settings: Settings | None = None

    def settings(self, **overrides: Any) -> Settings:
        from lakectl.config import config_file_from, load_settings

        if self._settings is None or overrides:
            self._settings = load_settings(config_file_from(self.config), **overrides)
        return self._settings


state = State()


class Boundary(TyperGroup):
    """The top-level group: takes ``--debug`` anywhere and turns every error into one clear line."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        # `lakectl promote all --debug` means the same as `lakectl --debug promote all`
        end = args.index("--") if "--" in args else len(args)
        if DEBUG in args[:end]:
            args = [DEBUG] + [a for a in args[:end] if a != DEBUG] + args[end:]
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):  # usage errors, --help, exits
            raise
        except LakectlError as exc:
            raise fail(exc) from None
        except Exception as exc:
            root = state._settings.lake_root if state._settings else None
            known = storage_error(exc, root if isinstance(root, Path) else None)
            if state.debug:
                raise
            if known is not None:
                raise fail(known) from None
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""  # not a Rust backtrace
            error(f"unexpected {type(exc).__name__}: {one_line(first)}",
                  "run again with --debug for the traceback; unless the lake was damaged, report it as a bug")  # fmt: skip
            raise typer.Exit(code=1) from None


app = typer.Typer(
    cls=Boundary,
    name="lakectl",
    help="Sales spreadsheets in, a Delta lakehouse out: bronze -> silver -> gold.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    rich_markup_mode=None,
)


class LazyConsole:
    """A rich Console made on first use, so that commands which print nothing rich never load rich."""

    def __init__(self, stderr: bool = False) -> None:
        self.stderr = stderr
        self._console: Console | None = None

    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self.stderr)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.console, name)


out = LazyConsole()
err = LazyConsole(stderr=True)


class LazyRichHandler(logging.Handler):
    """rich's log handler, built for the first record: most runs log nothing."""

    def __init__(self, **options: Any) -> None:
        super().__init__()
        self.options = options
        self._handler: logging.Handler | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self._handler is None:
            from rich.logging import RichHandler

            self._handler = RichHandler(console=err.console, **self.options)
        self._handler.emit(record)


def escape(text: str) -> str:
    """Text shown as it is inside rich markup (rich.markup.escape, loaded when first needed)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def _version(value: bool) -> None:
    if value:
        from lakectl import __version__

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
        handlers=[LazyRichHandler(show_path=False, show_time=False)],
        force=True,
    )


def fail(exc: LakectlError) -> typer.Exit:
    """Show ``exc`` as the user's to fix (with --debug: re-raise it, traceback and all)."""
    if state.debug:
        raise exc
    error(exc.message, exc.hint)
    return typer.Exit(code=exc.exit_code)


def error(message: str, hint: str | None = None) -> None:
    """An error as one line (and a hint line), never wrapped: paths stay whole and greppable."""
    err.print(f"[bold red]Error:[/bold red] {escape(message)}", highlight=False, soft_wrap=True)
    if hint:
        err.print(f"[dim]Hint: {escape(hint)}[/dim]", highlight=False, soft_wrap=True)


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="folder to initialise")] = Path("."),
) -> None:
    """Create the landing-zone folders, the lake root and a commented lakectl.toml."""
    from lakectl.config import SAMPLE_TOML

    try:
        settings = state.settings()
    except LakectlError as exc:
        raise fail(exc) from None
    config = path / "lakectl.toml"
    created = []
    folders = [path / settings.landing_zone / c for c in settings.clusters]
    if isinstance(settings.lake_root, Path):  # an object-store lake needs no folder
        folders.append(path / settings.lake_root)
    for folder in folders:
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

    from lakectl.cli import render
    from lakectl.service import runner

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
            console=err.console,
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
        render.ingest_table(out.console, results, dry_run)
    if any(r.status == "rejected" for r in results):
        raise typer.Exit(code=4)


promote_app = typer.Typer(help="Promote the lake's layers: bronze -> silver -> gold.", no_args_is_help=True)
app.add_typer(promote_app, name="promote")


@promote_app.command("silver")
def promote_silver(
    cluster: Annotated[list[str] | None, typer.Option("--cluster", "-C", help="only these clusters")] = None,
    full: Annotated[
        bool, typer.Option("--full", help="rebuild from all of bronze instead of new commits")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="compute and report; write nothing")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print results as JSON")] = False,
) -> None:
    """Typed, harmonised, deduplicated sales per cluster (incremental; --full rebuilds)."""
    from lakectl.cli import render
    from lakectl.promote import promote_silver as run

    try:
        results = run(state.settings(), cluster, full=full, dry_run=dry_run)
    except LakectlError as exc:
        raise fail(exc) from None
    if not dry_run:
        from lakectl import alerts

        alerts.after_promotion(state.settings(), [r.to_dict() for r in results], gold=False)
    if as_json:
        out.print_json(json.dumps([r.to_dict() for r in results], default=str, ensure_ascii=False))
    else:
        render.promotion_table(out.console, results)


@promote_app.command("gold")
def promote_gold(
    full: Annotated[bool, typer.Option("--full", help="rebuild even if no silver table changed")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Cross-cluster analytics from silver; a second run while one is going exits 75 at once."""
    from lakectl.promote import promote_gold as run

    try:
        result = run(state.settings(), full=full)
    except LakectlError as exc:
        raise fail(exc) from None
    from lakectl import alerts

    alerts.after_promotion(state.settings(), [], gold=True)
    _print_gold(result, as_json)


@promote_app.command("all")
def promote_all(
    full: Annotated[bool, typer.Option("--full", help="rebuild silver and gold from scratch")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print results as JSON")] = False,
) -> None:
    """Silver for every cluster, then gold: the job to schedule (cron, systemd timer)."""
    from lakectl.cli import render
    from lakectl.promote import Promotion
    from lakectl.promote import promote_all as run

    try:
        result = run(state.settings(), full=full)
    except LakectlError as exc:
        raise fail(exc) from None
    from lakectl import alerts

    alerts.after_promotion(state.settings(), result["silver"], gold=True)
    if as_json:
        out.print_json(json.dumps(result, default=str, ensure_ascii=False))
        return
    render.promotion_table(out.console, [Promotion(**r) for r in result["silver"]])
    _print_gold(result["gold"], False)


def _print_gold(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(result, default=str))
    elif result["status"] == "up_to_date":
        out.print("gold is up to date: no silver table changed since the last build")
    else:
        tables = ", ".join(f"{name} ({rows:,} rows)" for name, rows in result["tables"].items())
        out.print(f"gold rebuilt in {result['duration_s']:.1f} s: {tables}")


@app.command()
def report(
    format_: Annotated[
        str, typer.Option("--format", "-f", help="terminal | json | csv | markdown | html")
    ] = "terminal",
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", help="write to this file instead of stdout")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="the day the 30-day window ends (YYYY-MM-DD; default: the latest sale)"),
    ] = None,
    locale: Annotated[
        str | None, typer.Option("--locale", help="pt-BR | en (default: report.locale, pt-BR)")
    ] = None,
) -> None:
    """What the lake holds and what it says: lake health and the business view."""
    from datetime import date

    from lakectl.cli import render_report
    from lakectl.report import build_report

    formats = {"json": render_report.to_json, "csv": render_report.to_csv, "markdown": render_report.markdown,
               "html": render_report.html_page}  # fmt: skip
    if format_ not in (*formats, "terminal"):
        raise typer.BadParameter(f"use one of terminal, {', '.join(formats)}", param_hint="--format")
    if out_file is not None and out_file.is_dir():
        example = out_file / f"lakectl-report.{ {'markdown': 'md'}.get(format_, format_) }"
        raise typer.BadParameter(
            f"{out_file} is a folder: give a file name, e.g. {example}", param_hint="--out"
        )
    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise typer.BadParameter("use YYYY-MM-DD", param_hint="--as-of") from None
    if locale not in (None, "pt-BR", "en"):
        raise typer.BadParameter("use pt-BR or en", param_hint="--locale")
    try:
        data = build_report(state.settings(), day)
    except LakectlError as exc:
        raise fail(exc) from None
    if locale:
        data["locale"] = locale
    if format_ == "terminal":
        render_report.terminal(out.console, data)
        return
    text = formats[format_](data)
    if out_file is None:
        sys.stdout.write(text)
        return
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(text, encoding="utf-8")
    err.print(f"report written to {out_file.resolve()}")


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line, for journald and Docker log drivers."""

    FIELDS = ("file", "cluster", "status", "rows", "duration_s", "reason", "action")

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update({k: getattr(record, k) for k in self.FIELDS if hasattr(record, k)})
        return json.dumps(data, ensure_ascii=False)


def _service_logging(log_format: str, level: str) -> None:
    if log_format == "json":
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonLogFormatter())
    elif err.is_terminal:
        handler = LazyRichHandler(show_path=False, omit_repeated_times=False)
    else:  # journald, Docker: one plain line per event, never wrapped
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.basicConfig(
        level=logging.DEBUG if state.debug else level, format="%(message)s", handlers=[handler], force=True
    )
    logging.getLogger("fastexcel").setLevel(logging.ERROR)


@app.command()
def watch(
    once: Annotated[
        bool, typer.Option("--once", help="process what is there now, then exit (cron, tests)")
    ] = False,
    force_polling: Annotated[
        bool, typer.Option("--force-polling", help="poll instead of inotify (NFS/SMB shares)")
    ] = False,
    log_format: Annotated[str, typer.Option("--log-format", help="human | json")] = "human",
    promote: Annotated[
        bool, typer.Option("--promote", help="promote silver for the clusters each batch touched")
    ] = False,
) -> None:
    """Watch the landing zone and ingest files as they land (a service for systemd or Docker)."""
    import signal
    import threading

    from lakectl.service.watch import Watcher

    if log_format not in ("human", "json"):
        raise typer.BadParameter("use human or json", param_hint="--log-format")
    try:
        settings = state.settings()
        # a flag only turns a setting on: without it, lakectl.toml and LAKECTL_WATCH__* decide
        flags = {
            name: True for name, given in (("force_polling", force_polling), ("promote", promote)) if given
        }
        settings = settings.model_copy(update={"watch": settings.watch.model_copy(update=flags)})
    except LakectlError as exc:
        raise fail(exc) from None
    _service_logging(log_format, settings.log_level)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    logging.getLogger("lakectl").info("watching %s (lake %s)", settings.landing_zone, settings.lake_root)
    raise typer.Exit(code=Watcher(settings, stop).run(once=once))


@app.command()
def health(
    max_age: Annotated[
        float, typer.Option("--max-age", help="seconds a heartbeat stays fresh")
    ] = heartbeat.DEFAULT_MAX_AGE_S,
    alert: Annotated[
        bool,
        typer.Option("--alert", help="when stale, send an alert to the [alerts] targets (once a period)"),
    ] = False,
) -> None:
    """Exit 0 when the watcher's heartbeat is fresh (Docker HEALTHCHECK), 1 with the reason if not."""
    try:
        healthy, message = heartbeat.health(state.settings(), max_age)
    except LakectlError as exc:
        raise fail(exc) from None
    if alert and not healthy:
        from lakectl import alerts

        alerts.deliver(state.settings(), [alerts.heartbeat_stale(message)])
    typer.echo(message, err=not healthy)  # plain text: no rich to load, no markup to misread
    raise typer.Exit(code=0 if healthy else 1)


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option("--host", help="address to bind (default serve.host, 127.0.0.1)")
    ] = None,
    port: Annotated[int | None, typer.Option("--port", help="port (default serve.port, 8080)")] = None,
    log_format: Annotated[str, typer.Option("--log-format", help="human | json")] = "human",
) -> None:
    """The HTTP API, the upload page and the platform webhooks (see the README: lakectl serve)."""
    from lakectl.serve import run

    if log_format not in ("human", "json"):
        raise typer.BadParameter("use human or json", param_hint="--log-format")
    overrides = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    try:
        settings = state.settings()
        if overrides:
            settings = settings.model_copy(update={"serve": settings.serve.model_copy(update=overrides)})
        _service_logging(log_format, settings.log_level)
        run(settings)
    except LakectlError as exc:
        raise fail(exc) from None


quarantine_app = typer.Typer(help="Files that could not be ingested, with the reason.", no_args_is_help=True)
app.add_typer(quarantine_app, name="quarantine")


@quarantine_app.command("list")
def quarantine_list(as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False) -> None:
    """Show quarantined files and why."""
    from rich.table import Table

    from lakectl.service.watch import quarantined

    try:
        entries = quarantined(state.settings())
    except LakectlError as exc:
        raise fail(exc) from None
    if as_json:
        out.print_json(json.dumps(entries, ensure_ascii=False))
        return
    if not entries:
        out.print("the quarantine is empty")
        return
    table = Table(title="quarantine", title_justify="left")
    for name in ("cluster", "file", "since", "reason"):
        table.add_column(name, overflow="fold")
    for entry in entries:
        reason = entry.get("reason") or ""
        if entry.get("hint"):
            reason += f"\n[dim]hint: {entry['hint']}[/dim]"
        table.add_row(entry.get("cluster") or "", Path(entry["quarantined_file"]).name,
                      (entry.get("quarantined_at") or "")[:19], reason)  # fmt: skip
    out.print(table)


@quarantine_app.command("retry")
def quarantine_retry(
    files: Annotated[list[str] | None, typer.Argument(help="quarantined file names (or --all)")] = None,
    all_files: Annotated[bool, typer.Option("--all", help="every quarantined file")] = False,
) -> None:
    """Move quarantined files back into their cluster folder, to be ingested again."""
    from lakectl.service.watch import retry_quarantined

    if not files and not all_files:
        err.print("[bold red]Error:[/bold red] name the files to retry, or pass --all")
        raise typer.Exit(code=2)
    try:
        moved = retry_quarantined(state.settings(), None if all_files else files)
    except LakectlError as exc:
        raise fail(exc) from None
    for path in moved:
        out.print(f"moved back: {path}")
    if not moved:
        err.print("nothing matched in the quarantine")
        raise typer.Exit(code=1)


# Operations commands (maintain, history, restore, backup) live in their own module.
from lakectl.cli import mapping, ops, query  # noqa: E402, F401  (they register their commands on `app`)


def main() -> None:
    # Docker's health check, answered before typer builds its parameter adapters (which load
    # pydantic) and before the settings are built, when the environment alone says where the
    # heartbeat is; anything else goes through the full CLI.
    code = heartbeat.quick_health(sys.argv[1:])
    if code is not None:
        raise SystemExit(code)
    app()
