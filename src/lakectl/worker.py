"""Runs ingests in a warm child process, so that a spreadsheet that aborts or exhausts the parser
(calamine can SIGABRT on absurd sheets) costs one file, never the run or the service.

The child is started with the ``spawn`` method: forking a process that has used deltalake panics
its tokio runtime (ops-notes §1). It keeps its imports warm across files.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from lakectl.config import Settings
from lakectl.errors import SourceError
from lakectl.models import IngestResult
from lakectl.safety import Checked, check_file

log = logging.getLogger(__name__)


def _child_main(conn: Connection, settings_data: dict[str, Any], memory_limit_mb: int) -> None:
    import resource

    limit = memory_limit_mb << 20
    with contextlib.suppress(ValueError, OSError):  # some sandboxes refuse; the parent still times out
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    from lakectl import pipeline

    settings = Settings.model_validate(settings_data)
    pipeline.reconcile(settings)
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        kind, path, cluster, dry_run, payload = job  # payload: a result to record, or the precheck
        if kind == "record":
            pipeline.record_rejection(settings, IngestResult.from_dict(payload))
            conn.send(payload)
            continue
        try:
            result = pipeline.ingest_file(Path(path), cluster, settings, dry_run=dry_run, precheck=payload)
        except MemoryError:
            result = IngestResult(
                file=Path(path).name,
                path=path,
                cluster=cluster,
                status="rejected",
                reason=f"{Path(path).name}: the parser ran out of memory (limit {memory_limit_mb} MiB)",
                hint="split the file, or raise reader.memory_limit_mb",
                error_class="MemoryError",
            )
        conn.send(result.to_dict())


class IngestWorker:
    """One warm child process; ``ingest`` survives the child dying or hanging."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.context = multiprocessing.get_context("spawn")
        self.process: Any = None
        self.conn: Connection | None = None

    def _start(self) -> None:
        parent, child = self.context.Pipe()
        data = self.settings.model_dump(mode="json")
        self.process = self.context.Process(
            target=_child_main, args=(child, data, self.settings.reader.memory_limit_mb), daemon=True
        )
        self.process.start()
        child.close()
        self.conn = parent

    def ingest(self, path: Path, cluster: str, dry_run: bool = False) -> IngestResult:
        if self.process is None or not self.process.is_alive():
            self._start()
        assert self.conn is not None
        started = time.monotonic()
        timeout = self.settings.reader.timeout_s
        # The byte-level checks need only the stdlib: run them here while the child imports or works.
        precheck: Checked | SourceError | None = None
        try:
            precheck = check_file(path, self.settings.reader.limits())
        except SourceError as exc:
            precheck = exc
        except OSError:
            precheck = None  # the child reports unreadable files with its own reason
        try:
            self.conn.send(("ingest", str(path), cluster, dry_run, precheck))
            if self.conn.poll(timeout):
                return IngestResult.from_dict(self.conn.recv())
            reason = f"{path.name}: reading took longer than {timeout:g} s and was stopped"
            hint = "split the file, or raise reader.timeout_s"
            self._kill()
        except (EOFError, BrokenPipeError, ConnectionResetError):
            self.process.join(5)
            code = self.process.exitcode
            reason = f"{path.name}: the parser process died while reading this file ({_describe_exit(code)})"
            hint = (
                "the file is probably malformed or far larger than it looks (e.g. a cell at XFD1048576); "
                "open it in Excel/LibreOffice, delete stray cells and save again"
            )
            self.process = None
        result = IngestResult(
            file=path.name,
            path=str(path),
            cluster=cluster,
            status="rejected",
            reason=reason,
            hint=hint,
            duration_s=round(time.monotonic() - started, 3),
            error_class="ParserCrash",
        )
        if not dry_run:
            self._record(result)
        return result

    def _record(self, result: IngestResult) -> None:
        """Write a crash's rejection to the ledger through a fresh child (this process stays light)."""
        self._start()
        assert self.conn is not None
        try:
            self.conn.send(("record", result.path, result.cluster, False, result.to_dict()))
            if self.conn.poll(60):
                self.conn.recv()
        except (EOFError, OSError) as exc:
            log.warning("could not record the rejection of %s: %s", result.file, exc)

    def _kill(self) -> None:
        if self.process is not None and self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        self.process = None

    def close(self) -> None:
        # Between jobs the child only waits on the pipe and holds no lock: killing it is safe and
        # skips the deltalake runtime's slow teardown.
        self._kill()
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def __enter__(self) -> IngestWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "no exit status"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}" + (
            ", an abort, often a failed memory allocation" if name == "SIGABRT" else ""
        )
    return f"exit code {code}"
