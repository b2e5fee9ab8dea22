"""The landing-zone service: files dropped into ``landing_zone/<cluster>/`` flow into bronze.

Discovery is inotify (watchfiles) for latency plus a full reconcile scan at start and every
``watch.reconcile_interval_s`` (inotify misses files in brand-new nested folders and everything on
network shares). A file is taken only once its size and mtime held still for the stability window,
or at once when it was renamed into place. Every file ends archived (or kept, or deleted) after it
is in bronze, or in ``_quarantine/<cluster>/`` with ``<file>.error.json``; the loop never stops for
one file. Parsing happens in a warm capped child process (see worker.py); the bronze writes, the
promotion and maintenance run here, where the parser's memory cap cannot kill them. A failure of the
lake itself (disk, permissions) blames no file: the files stay pending and are retried.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from watchfiles import Change, watch

from lakectl import __version__, alerts, pipeline
from lakectl.config import Settings
from lakectl.errors import AlreadyRunning, LakectlError
from lakectl.faults import fault
from lakectl.lake import ledger
from lakectl.models import IngestResult
from lakectl.read.sheets import short_error
from lakectl.service import runner
from lakectl.service.heartbeat import heartbeat_path
from lakectl.service.worker import Abandoned, CappedChild

log = logging.getLogger(__name__)

ARCHIVE = "_archive"
QUARANTINE = "_quarantine"
ERROR_SUFFIX = ".error.json"
MAX_BACKOFF_S = 300.0
NAME_MAX = 255  # bytes in one file name on Linux filesystems
ALERTS_GRACE_S = 10.0  # on stop, queued alerts get this long to go out (the unit allows 60 s)


@contextmanager
def single_watcher(settings: Settings) -> Iterator[None]:
    """One watcher per landing zone: a second one would race the first for every file (and count
    the files moved under it as rejections). The OS drops the lock when the holder dies."""
    path = heartbeat_path(settings).with_name("watch.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                pid = json.loads(os.pread(handle, 4096, 0) or b"{}").get("pid", "unknown")
            except ValueError:
                pid = "unknown"
            raise AlreadyRunning(
                f"another 'lakectl watch' (PID {pid}) is already watching {settings.landing_zone}",
                hint=f"stop it first (kill {pid}) or give this one its own landing zone; the lock is {path}",
            ) from None
        try:  # who holds the lock, for a second watcher's message; a full disk must not stop us here
            os.ftruncate(handle, 0)
            os.pwrite(
                handle,
                json.dumps({"pid": os.getpid(), "landing_zone": str(settings.landing_zone)}).encode(),
                0,
            )
        except OSError as exc:
            log.warning("cannot write the watcher's PID to %s: %s", path, exc)
        yield
    finally:
        os.close(handle)  # closing releases the flock


class SystemdNotifier:
    """sd_notify(3) over the stdlib: silent when not started by systemd (no NOTIFY_SOCKET)."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.address = env.get("NOTIFY_SOCKET")
        usec = env.get("WATCHDOG_USEC")
        self.watchdog_interval = int(usec) / 2e6 if usec and usec.isdigit() else None
        self.last_ping = 0.0

    def send(self, message: str) -> None:
        if not self.address:
            return
        address = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(message.encode(), address)
        except OSError as exc:
            log.debug("sd_notify failed: %s", exc)

    def watchdog(self) -> None:
        """Ping from the main loop (not a thread): a hung loop stops pinging and systemd restarts us."""
        now = time.monotonic()
        if self.watchdog_interval is not None and now - self.last_ping >= self.watchdog_interval:
            self.send("WATCHDOG=1")
            self.last_ping = now


@dataclass
class Pending:
    """A file seen in the landing zone and not settled yet."""

    size: int
    mtime_ns: int
    since: float  # when this (size, mtime) was first seen
    observations: int = 1
    ready_now: bool = False  # renamed into place: complete by construction
    attempts: int = 0  # transient failures so far
    not_before: float = 0.0  # back-off after a transient failure


class Watcher:
    def __init__(
        self,
        settings: Settings,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.clock = clock  # the stability gate's and back-off's time source (tests step it by hand)
        self.root = (
            settings.landing_zone.resolve()
        )  # watchfiles reports absolute paths: compare like with like
        self.stop = stop or threading.Event()
        self.pending: dict[Path, Pending] = {}
        self.kept: dict[Path, tuple[int, int]] = {}  # after_ingest=keep: files already done
        self.warned: set[Path] = set()
        self.notifier = SystemdNotifier()
        self.worker = CappedChild(
            settings.reader.memory_limit_mb, stop=self.stop, preload=runner.PARSER_MODULES
        )
        self.work: Path | None = None  # this process's temp folder under the lake, while running
        self.lake_failures = 0  # consecutive failures of the lake itself: the retry back-off
        self.last_scan = 0.0
        self.last_maintenance = self.clock()  # not at start: a restart loop must not vacuum each time
        self.processed = 0
        self.last_error: str | None = None
        self.alerts = alerts.Sender(settings)  # its own thread: a slow receiver never holds up ingest

    # ------------------------------------------------------------------ discovery

    def scan(self, folder: Path | None = None) -> None:
        """Walk the landing zone (or one folder of it) without following links; note every file."""
        start = folder or self.root
        for dirpath, dirnames, filenames in os.walk(start, followlinks=False):
            here = Path(dirpath)
            for link in [d for d in dirnames if (here / d).is_symlink()]:
                self._warn_once(here / link, f"is {runner.LEFT_ALONE}: left in place")
            dirnames[:] = [d for d in dirnames if not self._ignored_dir(here / d)]
            for name in filenames:
                self.observe(here / name)
        if folder is None:
            self.last_scan = self.clock()
            for path in [p for p in self.pending if not p.exists()]:
                del self.pending[path]

    def _ignored_dir(self, path: Path) -> bool:
        relative = path.relative_to(self.root).parts
        return relative[0] in (ARCHIVE, QUARANTINE) or any(part.startswith(".") for part in relative)

    def observe(self, path: Path, renamed: bool = False) -> None:
        if not runner.is_candidate(path) or (path.parent != self.root and self._ignored_dir(path.parent)):
            return
        try:
            info = path.lstat()
        except FileNotFoundError:
            self.pending.pop(path, None)
            return
        if not path.is_file() or path.is_symlink():
            self._warn_once(path, f"is {runner.LEFT_ALONE}: left in place")
            return
        if runner.cluster_of(path, self.settings) is None:
            why = runner.why_no_cluster(path, self.settings)
            self._warn_once(
                path, f"has no cluster ({why}; clusters: {', '.join(self.settings.clusters)}): left in place"
            )
            return
        if self.kept.get(path) == (info.st_size, info.st_mtime_ns):
            return
        now = self.clock()
        seen = self.pending.get(path)
        if seen is None or (seen.size, seen.mtime_ns) != (info.st_size, info.st_mtime_ns):
            attempts = seen.attempts if seen else 0
            self.pending[path] = Pending(
                info.st_size, info.st_mtime_ns, now, ready_now=renamed, attempts=attempts
            )
        else:
            seen.observations += 1
            seen.ready_now = seen.ready_now or renamed

    def _warn_once(self, path: Path, message: str) -> None:
        if path not in self.warned:
            self.warned.add(path)
            log.warning("%s %s", path, message)

    def on_changes(self, changes: Iterable[tuple[Change, str]]) -> None:
        changes = list(changes)
        # A rename into place shows as (deleted temp name, added final name) in one batch. Only a
        # temp-looking name that carries the final name counts: our own archive moves also delete.
        temps = [
            Path(p) for change, p in changes if change == Change.deleted and not runner.is_candidate(Path(p))
        ]
        for change, raw in changes:
            path = Path(raw)
            if change == Change.deleted:
                self.pending.pop(path, None)
            elif path.is_dir():
                self.scan(path)  # inotify misses files created in a brand-new folder right away
            else:
                renamed = change == Change.added and any(
                    temp.parent == path.parent and _temp_base(temp.name).startswith(path.name)
                    for temp in temps
                )
                self.observe(path, renamed=renamed)

    def refresh(self) -> None:
        """Look at every pending file again: the second look is what proves it stopped growing."""
        for path in list(self.pending):
            self.observe(path)

    def ready(self) -> list[Path]:
        now = self.clock()
        window = self.settings.watch.stability_window_s
        return sorted(
            path
            for path, seen in self.pending.items()
            if now >= seen.not_before
            and (seen.ready_now or (seen.observations >= 2 and now - seen.since >= window))
        )

    # ------------------------------------------------------------------ processing

    def process(self, paths: list[Path]) -> None:
        if self.work is None:
            with pipeline.workspace(self.settings) as work:
                self.work = work
                try:
                    return self.process(paths)
                finally:
                    self.work = None
        jobs = [(path, cluster) for path in paths if (cluster := runner.cluster_of(path, self.settings))]
        touched: set[str] = set()
        parse = (
            runner.isolated(self.worker, self.settings.reader.timeout_s)
            if self.settings.reader.isolate
            else None
        )

        real = {pipeline.printable(str(path)): path for path in paths}  # results carry printable paths

        def on_result(result: IngestResult) -> None:  # each file is settled as soon as it is recorded
            self.settle(real.get(result.path, Path(result.path)), result)
            if result.status == "ingested" and result.rows:
                touched.add(result.cluster or "")
            self.heartbeat("running")
            self.notifier.watchdog()

        for batch, cluster in runner.batches(jobs, self.settings):
            try:
                pipeline.ingest_batch(
                    batch, cluster, self.settings, parse=parse, work=self.work, on_result=on_result
                )
                self.lake_failures = 0
            except LakectlError as exc:  # the lake failed, not the files: they stay and are retried
                self._failed(batch, cluster, f"{exc.message} ({exc.hint})" if exc.hint else exc.message)
            except Abandoned:
                raise
            except Exception as exc:  # our own failure (e.g. a thread the OS refused): the same, and loud
                log.exception("unexpected failure while ingesting into %s", cluster)
                self._failed(batch, cluster, f"unexpected {type(exc).__name__}: {short_error(exc)}")
        if touched and self.settings.watch.promote:
            self.promote(sorted(touched))

    def _failed(self, batch: list[Path], cluster: str, error: str) -> None:
        """The batch's files stay pending and are retried after a growing pause; health is red meanwhile."""
        self.lake_failures += 1
        delay = min(2.0**self.lake_failures, MAX_BACKOFF_S)
        self.last_error = error
        log.error("cannot ingest into %s: %s; retrying in %.0f s", cluster, error, delay)
        for path in batch:
            if (seen := self.pending.get(path)) is not None:
                seen.not_before = time.monotonic() + delay

    def promote(self, clusters: list[str]) -> None:
        from lakectl.promote import promote_silver

        try:
            promotions = promote_silver(self.settings, clusters)
        except LakectlError as exc:
            self.last_error = f"promote silver: {exc.message}"
            log.error("promote silver %s failed: %s", ", ".join(clusters), exc.message)
            return
        for promotion in (p.to_dict() for p in promotions):
            self.alerts.submit(alerts.from_promotion(promotion, self.settings.alerts.rejects_share))
            report = promotion.get("report", {})
            log.info(
                "promote silver %s: %s, %d inserted, %d updated, %d rejected",
                promotion["cluster"],
                promotion["status"],
                promotion["inserted"],
                promotion["updated"],
                sum(report.get("rejected", {}).values()),
                extra={
                    "cluster": promotion["cluster"],
                    "status": promotion["status"],
                    "action": "promote silver",
                },
            )

    def settle(self, path: Path, result: IngestResult) -> None:
        """Move a file to where its outcome says, and log one line for it."""
        seen = self.pending.get(path)
        if result.status == "rejected" and result.transient and seen is not None:
            seen.attempts += 1
            if seen.attempts < self.settings.watch.max_attempts:
                seen.not_before = self.clock() + min(2.0**seen.attempts, MAX_BACKOFF_S)
                self._log(result, f"retry {seen.attempts}/{self.settings.watch.max_attempts - 1} later")
                return
        self.pending.pop(path, None)
        self.processed += 1
        try:
            if result.status == "rejected":
                target = self.quarantine(path, result)
                self.last_error = result.reason
                self._log(result, f"quarantined to {target}")
                self.alerts.submit([alerts.quarantined(result.to_dict(), str(target))])
                return
            self.alerts.submit(alerts.new_layout(result.to_dict()))
            fault("before_move")
            action = self.settings.watch.after_ingest
            if action == "archive":
                self._log(result, f"archived to {self.archive(path, result)}")
            elif action == "delete":
                path.unlink(missing_ok=True)
                self._log(result, "deleted")
            else:
                info = path.stat()
                self.kept[path] = (info.st_size, info.st_mtime_ns)
                self._log(result, "kept in place")
        except OSError as exc:  # the file is in bronze (or rejected); only the move failed
            self.last_error = f"cannot move {path}: {exc}"
            log.error("%s: cannot move the file after ingest (%s); it stays in place", path, exc)

    def archive(self, path: Path, result: IngestResult) -> Path:
        return archive_file(self.root, path, result)

    def quarantine(self, path: Path, result: IngestResult) -> Path:
        return quarantine_file(self.root, path, result)

    def _log(self, result: IngestResult, action: str) -> None:
        log.info(
            "%s %s: %s, %d rows, %.2f s; %s",
            result.cluster,
            result.file,
            result.status,
            result.rows,
            result.duration_s,
            action if result.status == "ingested" else f"{result.reason} ({action})",
            extra={
                "file": result.path,
                "cluster": result.cluster,
                "status": result.status,
                "rows": result.rows,
                "duration_s": result.duration_s,
                "reason": result.reason,
                "action": action,
            },
        )

    # ------------------------------------------------------------------ health

    def heartbeat(self, status: str) -> None:
        path = heartbeat_path(self.settings)
        data = {
            "pid": os.getpid(),
            "status": status,
            "updated_at": time.time(),
            "pending": len(self.pending),
            "processed": self.processed,
            "last_error": self.last_error,
            "lake_failures": self.lake_failures,  # consecutive: the lake itself failing (disk, rights)
            "version": __version__,
        }
        temporary = path.with_name(path.name + ".tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(json.dumps(data))
            temporary.replace(path)  # atomic: a reader never sees half a file
        except OSError as exc:
            log.warning("cannot write the heartbeat %s: %s", path, exc)

    # ------------------------------------------------------------------ loop

    def tick(self) -> None:
        """One turn of the loop: re-check pending files, maybe rescan, ingest what is ready."""
        if self.clock() - self.last_scan >= self.settings.watch.reconcile_interval_s:
            self.scan()
        self.refresh()
        ready = self.ready()
        if ready:
            self.notifier.send(f"STATUS=ingesting {len(ready)} file(s)")
            self.process(ready)
            self.notifier.send(f"STATUS=watching {self.root}; {self.processed} file(s) processed")
        every = self.settings.maintenance.every_hours
        if every and self.clock() - self.last_maintenance >= every * 3600 and not self.stop.is_set():
            self.last_maintenance = self.clock()
            self.notifier.send("STATUS=maintaining the lake")
            from lakectl.lake.maintenance import maintain

            try:
                done = maintain(self.settings)
            except LakectlError as exc:
                self.last_error = f"maintenance: {exc.message}"
                log.error("maintenance failed: %s", exc.message)
            else:
                log.info("maintenance done on %d table(s)", len(done), extra={"action": "maintain"})
        self.heartbeat("running")
        self.notifier.watchdog()

    def run(self, once: bool = False) -> int:
        """Watch until stopped (or, with ``once``, until every file present at start is settled)."""
        with single_watcher(self.settings):
            for cluster in self.settings.clusters:
                (self.root / cluster).mkdir(parents=True, exist_ok=True)
            with pipeline.workspace(self.settings) as work:
                self.work = self.worker.stderr_dir = work
                pipeline.reconcile(self.settings)
                try:
                    return self._run(once)
                finally:
                    self.work = self.worker.stderr_dir = None

    def _run(self, once: bool) -> int:
        try:
            self.scan()
            self.heartbeat("starting")
            self.notifier.send(f"READY=1\nSTATUS=watching {self.root}")
            if once:
                while self.pending and not self.stop.is_set():
                    self.tick()
                    if self.pending and not self.ready():
                        time.sleep(min(0.2, self.settings.watch.stability_window_s / 4 + 0.01))
                return 0
            while not self.stop.is_set():
                try:
                    for changes in watch(
                        self.root,
                        watch_filter=None,
                        stop_event=self.stop,
                        rust_timeout=500,
                        yield_on_timeout=True,
                        debounce=200,
                        step=50,
                        force_polling=self.settings.watch.force_polling or None,
                        raise_interrupt=False,
                        recursive=True,
                    ):
                        self.on_changes(changes)
                        self.tick()
                except RuntimeError as exc:  # watchfiles' own failure, e.g. a name that is not UTF-8
                    log.warning("file events failed (%s): rescanning, then watching again", exc)
                    self.scan()
                    self.tick()
                    self.stop.wait(1.0)
            return 0
        except Abandoned:
            log.warning("stopped during a batch: its files stay in place and are taken on the next start")
            return 0
        finally:
            self.notifier.send("STOPPING=1")
            self.heartbeat("stopped")
            self.worker.close()
            self.alerts.close(ALERTS_GRACE_S)


def archive_file(root: Path, path: Path, result: IngestResult) -> Path:
    """Move an ingested (or duplicate) file to ``_archive/<cluster>/<yyyy-mm-dd>/``."""
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    return _move(path, root / ARCHIVE / (result.cluster or "_") / day)


def quarantine_file(root: Path, path: Path, result: IngestResult) -> Path:
    """Move a rejected file to ``_quarantine/<cluster>/`` next to ``<file>.error.json``."""
    target = _move(path, root / QUARANTINE / (result.cluster or "_"))
    error = {
        "file": result.file,  # printable: a name that is not UTF-8 must not break the record
        "original_path": result.path,
        "cluster": result.cluster,
        "reason": result.reason,
        "hint": result.hint,
        "error_class": result.error_class,
        "sha256": result.sha256,
        "size": result.size,
        "quarantined_at": datetime.now(UTC).isoformat(),
        "lakectl_version": __version__,
    }
    target.with_name(target.name + ERROR_SUFFIX).write_text(json.dumps(error, indent=2, ensure_ascii=False))
    return target


def _temp_base(name: str) -> str:
    """'.x.csv.part' -> 'x.csv.part', '~$x.xlsx' -> 'x.xlsx': what a temp name says the file will be."""
    return name.removeprefix("~$").lstrip(".")


def _move(path: Path, folder: Path) -> Path:
    """Move ``path`` into ``folder`` without overwriting anything already there. A long name is
    shortened so that a ``-N`` counter and the ``.error.json`` sibling still fit the filesystem."""
    folder.mkdir(parents=True, exist_ok=True)
    name = Path(fit_name(path.name, len(ERROR_SUFFIX) + 8))
    target = folder / name
    counter = 1
    while target.exists() or target.with_name(target.name + ERROR_SUFFIX).exists():
        target = folder / f"{name.stem}-{counter}{name.suffix}"
        counter += 1
    try:
        os.replace(path, target)
    except OSError:
        shutil.move(str(path), str(target))  # another filesystem
    return target


def fit_name(name: str, room: int, limit: int = NAME_MAX) -> str:
    """``name`` cut (before its extension, on a character boundary) so that ``room`` more bytes fit."""
    raw = os.fsencode(name)
    if len(raw) + room <= limit:
        return name
    suffix = os.fsencode(Path(name).suffix)[:16]
    keep = raw[: max(1, limit - room - len(suffix))]
    while len(keep) > 1 and _utf8(raw) and not _utf8(keep):
        keep = keep[:-1]  # never leave half a character behind
    return os.fsdecode(keep + suffix)


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def quarantined(settings: Settings) -> list[dict[str, Any]]:
    """Every quarantined file with its error record."""
    folder = settings.landing_zone / QUARANTINE
    entries = []
    for error_file in sorted(folder.glob(f"*/*{ERROR_SUFFIX}")):
        try:
            error = json.loads(error_file.read_text())
        except (OSError, ValueError):
            error = {"reason": "unreadable error record"}
        data_file = error_file.with_name(error_file.name[: -len(ERROR_SUFFIX)])
        entries.append({**error, "quarantined_file": str(data_file), "present": data_file.exists()})
    return entries


def retry_quarantined(settings: Settings, names: list[str] | None) -> list[Path]:
    """Move quarantined files (all, or those named) back into their cluster folder."""
    moved = []
    for entry in quarantined(settings):
        data_file = Path(entry["quarantined_file"])
        if names is not None and data_file.name not in names and str(data_file) not in names:
            continue
        cluster = data_file.parent.name
        if entry.get("sha256"):
            ledger.forget_rejection(pipeline.state_dir(settings), entry["sha256"])  # read it again, for real
        if data_file.exists():
            moved.append(_move(data_file, settings.landing_zone / cluster))
        data_file.with_name(data_file.name + ERROR_SUFFIX).unlink(missing_ok=True)
    return moved
