"""Runs ingests in a warm child process, so that a spreadsheet that aborts or exhausts the parser
(calamine can SIGABRT on absurd sheets) costs one file, never the run or the service.

The child is started with the ``spawn`` method: forking a process that has used deltalake panics
its tokio runtime (ops-notes §1). It keeps its imports warm across files.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from lakectl.config import Settings
from lakectl.errors import LakectlError, SourceError
from lakectl.faults import FAULT_ENV, FAULT_EXIT
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
        kind, payload, cluster, dry_run = job
        if kind in ("promote", "maintain"):  # payload: clusters (promote) or None (maintain: all tables)
            from lakectl.maintenance import maintain
            from lakectl.promote import promote_silver

            try:
                answer = (
                    [p.to_dict() for p in promote_silver(settings, payload)]
                    if kind == "promote"
                    else [maintain(settings)]
                )
                conn.send(answer)
            except LakectlError as exc:
                conn.send({"error": exc.message, "hint": exc.hint})
            continue
        if kind == "record":  # payload: a result to write to the ingest log
            pipeline.record_rejection(settings, IngestResult.from_dict(payload))
            conn.send([payload])
            continue
        try:  # payload: [(path, precheck), ...]
            items = [(Path(path), precheck) for path, precheck in payload]
            results = pipeline.ingest_batch(items, cluster, settings, dry_run=dry_run)
        except MemoryError:
            if len(payload) > 1:
                os._exit(70)  # quietly: the parent retries the files one by one to find the culprit
            name = Path(payload[0][0]).name
            results = [
                IngestResult(
                    file=name,
                    path=payload[0][0],
                    cluster=cluster,
                    status="rejected",
                    reason=f"{name}: the parser ran out of memory (limit {memory_limit_mb} MiB)",
                    hint="split the file, or raise reader.memory_limit_mb",
                    error_class="MemoryError",
                )
            ]
        conn.send([result.to_dict() for result in results])


class Abandoned(Exception):
    """The stop event was set and the batch under way did not finish within the grace period."""


class IngestWorker:
    """One warm child process; ``ingest`` survives the child dying or hanging.

    With a ``stop`` event (the watch service), a batch under way gets ``grace_s`` to finish once the
    event is set; then the child is killed, which is safe: a Delta commit is all or nothing, and the
    files stay where they are for the next start.
    """

    def __init__(self, settings: Settings, stop: threading.Event | None = None, grace_s: float = 5.0) -> None:
        self.settings = settings
        self.stop = stop
        self.grace_s = grace_s
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
        return self.ingest_batch([path], cluster, dry_run)[0]

    def ingest_batch(self, paths: list[Path], cluster: str, dry_run: bool = False) -> list[IngestResult]:
        """Ingest files of one cluster in one commit; if the parser process dies or hangs, each file
        is tried alone so that only the file at fault is rejected."""
        if self.process is None or not self.process.is_alive():
            self._start()
        assert self.conn is not None
        started = time.monotonic()
        timeout = self.settings.reader.timeout_s * len(paths)
        # The byte-level checks need only the stdlib: run them here while the child imports or works.
        items = [(str(path), self._precheck(path)) for path in paths]
        try:
            self.conn.send(("batch", items, cluster, dry_run))
            if self._wait(timeout):
                return [IngestResult.from_dict(data) for data in self.conn.recv()]
            self._kill()
            reason = f"reading took longer than {self.settings.reader.timeout_s:g} s and was stopped"
            hint = "split the file, or raise reader.timeout_s"
        except (EOFError, BrokenPipeError, ConnectionResetError):
            self.process.join(5)
            if self.process.exitcode == FAULT_EXIT and os.environ.get(FAULT_ENV):
                os._exit(FAULT_EXIT)  # crash tests: a fault in the child is a power cut for the whole service
            reason = (
                f"the parser process died while reading this file ({_describe_exit(self.process.exitcode)})"
            )
            hint = (
                "the file is probably malformed or far larger than it looks (e.g. a cell at XFD1048576); "
                "open it in Excel/LibreOffice, delete stray cells and save again"
            )
            self.process = None
        if len(paths) > 1:
            return [result for path in paths for result in self.ingest_batch([path], cluster, dry_run)]
        path = paths[0]
        result = IngestResult(
            file=path.name,
            path=str(path),
            cluster=cluster,
            status="rejected",
            reason=f"{path.name}: {reason}",
            hint=hint,
            duration_s=round(time.monotonic() - started, 3),
            error_class="ParserCrash",
        )
        if not dry_run:
            self._record(result)
        return [result]

    def _wait(self, timeout: float) -> bool:
        """True when the child answered (or died: the pipe is then readable), False on timeout."""
        assert self.conn is not None
        deadline = time.monotonic() + timeout
        abandon_at: float | None = None
        while not self.conn.poll(0.2):
            now = time.monotonic()
            if self.stop is not None and self.stop.is_set():
                abandon_at = abandon_at or now + self.grace_s
                if now >= abandon_at:
                    self._kill()
                    raise Abandoned
            if now >= deadline:
                return False
        return True

    def promote(self, clusters: list[str]) -> list[dict[str, Any]] | dict[str, Any]:
        """Promote silver for these clusters in the child (the watcher stays light)."""
        return self._call("promote", clusters)

    def maintain(self) -> list[dict[str, Any]] | dict[str, Any]:
        """Compact, checkpoint and vacuum every table, in the child."""
        return self._call("maintain", None)

    def _call(self, kind: str, payload: Any) -> list[dict[str, Any]] | dict[str, Any]:
        if self.process is None or not self.process.is_alive():
            self._start()
        assert self.conn is not None
        try:
            self.conn.send((kind, payload, "", False))
            if self._wait(self.settings.reader.timeout_s):
                answer: list[dict[str, Any]] | dict[str, Any] = self.conn.recv()
                return answer
            self._kill()
            return {"error": f"{kind} took too long and was stopped"}
        except (EOFError, BrokenPipeError, ConnectionResetError):
            self.process = None
            return {"error": f"the worker process died during {kind}"}

    def _precheck(self, path: Path) -> Checked | SourceError | None:
        try:
            return check_file(path, self.settings.reader.limits())
        except SourceError as exc:
            return exc
        except OSError:
            return None  # the child reports unreadable files with its own reason

    def _record(self, result: IngestResult) -> None:
        """Write a crash's rejection to the ledger through a fresh child (this process stays light)."""
        if self.process is None or not self.process.is_alive():
            self._start()
        assert self.conn is not None
        try:
            self.conn.send(("record", result.to_dict(), result.cluster, False))
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
