"""What the HTTP layer asks of the library: take an uploaded file, promote webhook events.

Blocking work (Delta writes, parsing) runs here, off the event loop; the routes stay thin.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from lakectl import pipeline, workspace
from lakectl.config import Settings
from lakectl.errors import LakectlError, SourceError
from lakectl.events import promote_events
from lakectl.faults import fault
from lakectl.lake import Lake, ledger
from lakectl.models import IngestResult
from lakectl.read import safety
from lakectl.serve.uploads import STAGING, Staged, discard, place, sniff_kind, stored_name
from lakectl.service import runner
from lakectl.service.watch import archive_file, quarantine_file
from lakectl.service.worker import CappedChild

log = logging.getLogger(__name__)
GATHER_S = 0.5


def scrub(text: str | None, settings: Settings) -> str | None:
    """Server paths never leave the server: they become <lake> and <landing_zone>."""
    if text is None:
        return None
    for root, label in ((settings.lake_root, "<lake>"), (settings.landing_zone, "<landing_zone>")):
        forms = {str(root.resolve()), str(root.absolute()), str(root)} if isinstance(root, Path) else {root}
        for form in forms:
            if form not in ("", "."):
                text = text.replace(form, label)
    return text


@dataclass
class Queued:
    cluster: str
    file: str
    path: Path


class Promoter:
    """One background thread that takes webhook events into silver soon after they are stored;
    requests for a cluster made while it works are coalesced into one more pass."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pending: set[str] = set()
        self.stopping = False
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, name="lakectl-promoter", daemon=True)
        self.passes = 0

    def start(self) -> None:
        self.thread.start()

    def request(self, cluster: str) -> None:
        with self.cond:
            self.pending.add(cluster)
            self.cond.notify()

    def stop(self, timeout_s: float = 30.0) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify()
        if self.thread.is_alive():
            self.thread.join(timeout_s)

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.pending and not self.stopping:
                    self.cond.wait()
                if not self.pending:
                    return
                if not self.stopping:  # let a burst gather: one merge for many events
                    self.cond.wait(GATHER_S)
                clusters, self.pending = sorted(self.pending), set()
            for cluster in clusters:
                try:
                    result = promote_events(self.settings, cluster)
                    log.info("webhook events of %s into silver: %s", cluster, result.get("status"))
                except Exception:  # the events stay in bronze; the next pass or `promote silver` retries
                    log.exception("promoting the webhook events of %s failed", cluster)
                    with self.cond:
                        self.pending.add(cluster)
            with self.cond:
                self.passes += 1
                self.cond.notify_all()


@dataclass
class Service:
    settings: Settings
    queued: dict[str, Queued] = field(default_factory=dict)
    worker: CappedChild | None = None
    worker_lock: threading.Lock = field(default_factory=threading.Lock)
    work: Path | None = None  # this process's temp folder under the lake: spools, the parser's stderr
    resources: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def __post_init__(self) -> None:
        self.promoter = Promoter(self.settings)

    def start(self) -> None:
        self.recover()
        self.promoter.start()

    def recover(self) -> None:
        """After a crash: the ingest log made to agree with bronze, and the staged uploads of dead
        processes settled. One already in bronze (killed before its move) goes to the archive;
        the rest were never answered, so the client sends them again: they are dropped."""
        try:
            pipeline.reconcile(self.settings)
        except LakectlError as exc:  # the lake may be read-only here: uploads then fail clearly
            log.warning("could not check the ingest log against bronze: %s", exc)
        lake = Lake.from_settings(self.settings)
        for folder in sorted((self.settings.landing_zone / STAGING).glob("*-*")):
            pid = folder.name.split("-", 1)[0]
            if not pid.isdigit() or pipeline.is_running(int(pid)):
                continue
            for path in [p for p in folder.iterdir() if p.is_file() and p.name != ".part"]:
                with path.open("rb") as handle:
                    sha = hashlib.file_digest(handle, "sha256").hexdigest()
                first = ledger.first_ingests(lake, [sha]).get(sha)
                if first is not None:
                    result = IngestResult(file=path.name, path=str(path), cluster=first["cluster"],
                                          status="ingested", sha256=sha)  # fmt: skip
                    log.warning("upload %s was ingested before a crash; archived now", path.name)
                    archive_file(self.settings.landing_zone, path, result)
                else:
                    log.warning("upload %s was cut short by a crash before it was ingested (never answered): "
                                "dropped; the client must send it again", path.name)  # fmt: skip
            shutil.rmtree(folder, ignore_errors=True)

    def stop(self) -> None:
        self.promoter.stop()
        with self.worker_lock:
            if self.worker is not None:
                self.worker.close()
                self.worker = None
            self.resources.close()
            self.work = None

    # ------------------------------------------------------------------------------- uploads

    def take(self, staged: list[Staged], cluster: str, now: bool) -> list[dict[str, Any]]:
        results = []
        for item in staged:
            try:
                results.append(self._take(item, cluster, now))
            finally:
                discard([item])  # whatever is left of the staging folder
        return results

    def _take(self, item: Staged, cluster: str, now: bool) -> dict[str, Any]:
        lake, landing = Lake.from_settings(self.settings), self.settings.landing_zone
        kind = sniff_kind(item.path) if item.size else None
        path = item.path.with_name(stored_name(item.client_name, kind or "csv"))
        os.replace(item.path, path)
        outcome = {"file": path.name, "cluster": cluster, "sha256": item.sha256, "size": item.size,
                   "location": f"/api/v1/files/{item.sha256}"}  # fmt: skip
        if item.size == 0:
            return self._reject(
                path, outcome, "the file is empty (0 bytes)", "export it again from the platform"
            )
        if kind is None:
            return self._reject(
                path, outcome, f"{path.name}: not a spreadsheet (the bytes are neither xlsx, xls, ods nor text)",
                "upload the .xlsx, .xls, .ods or .csv export as the platform gave it",
            )  # fmt: skip
        first = ledger.first_ingests(lake, [item.sha256]).get(item.sha256)
        if first is not None:
            return {**outcome, "status": "skipped", "duplicate_of": first["ingest_id"],
                    "reason": f"duplicate of {first['file_name']} ingested into {first['cluster']} (same bytes)"}  # fmt: skip
        try:
            safety.check_file(path, self.settings.reader.limits())
        except SourceError as exc:
            return self._reject(path, outcome, exc.message, exc.hint)
        if not now:
            target = place(path, landing / cluster)
            self.queued[item.sha256] = Queued(cluster, target.name, target)
            return {**outcome, "file": target.name, "status": "queued"}
        result = self._ingest(path, cluster)
        fault("upload_before_move")
        if result.status == "rejected" and result.transient:  # ours (memory, threads), not the file's
            target = place(path, landing / cluster)
            self.queued[item.sha256] = Queued(cluster, target.name, target)
            log.warning("upload %s: %s; queued for the watcher", target.name, result.reason)
            return {**outcome, "file": target.name, "status": "queued", "retrying": True,
                    "reason": scrub(result.reason, self.settings), "hint": scrub(result.hint, self.settings)}  # fmt: skip
        if result.status == "rejected":
            quarantine_file(landing, path, result)
        elif self.settings.watch.after_ingest == "archive":
            archive_file(landing, path, result)
        elif self.settings.watch.after_ingest == "keep":
            place(path, landing / cluster)
        return {**outcome, "status": result.status, "rows": result.rows, "reason": scrub(result.reason, self.settings),
                "hint": result.hint, "duplicate_of": result.duplicate_of, "bronze_version": result.bronze_version}  # fmt: skip

    def _ingest(self, path: Path, cluster: str) -> IngestResult:
        if not self.settings.reader.isolate:
            return pipeline.ingest_file(path, cluster, self.settings)
        with self.worker_lock:  # one warm parser process, one file at a time
            if self.work is None:  # a native abort's text goes to a file here, not to the console
                self.work = self.resources.enter_context(pipeline.workspace(self.settings))
            if self.worker is None:
                self.worker = CappedChild(self.settings.reader.memory_limit_mb, self.work,
                                          preload=runner.PARSER_MODULES)  # fmt: skip
            parse = runner.isolated(self.worker, self.settings.reader.timeout_s)
            return pipeline.ingest_batch([path], cluster, self.settings, parse=parse, work=self.work)[0]

    def _reject(self, path: Path, outcome: dict[str, Any], reason: str, hint: str | None) -> dict[str, Any]:
        """Kept in the quarantine, like a rejected file of the watcher, and in the ingest log."""
        result = IngestResult(file=path.name, path=str(path), cluster=outcome["cluster"], status="rejected",
                              sha256=outcome["sha256"], size=outcome["size"], reason=reason, hint=hint,
                              error_class="SourceError")  # fmt: skip
        with contextlib.suppress(OSError):
            quarantine_file(self.settings.landing_zone, path, result)
        pipeline.record_rejection(self.settings, result)
        return {**outcome, "status": "rejected", "reason": reason, "hint": hint}

    def file_status(self, sha256: str) -> dict[str, Any] | None:
        """What became of a file, from the ingest log; ``queued`` while it waits for the watcher,
        ``retrying`` too when a try of it failed for a reason of ours (the reason is that try's)."""
        log_rows = (
            ledger.read(Lake.from_settings(self.settings))
            .filter(pl.col("sha256") == sha256)
            .sort("finished_at")
        )
        if log_rows.height:
            ingested = log_rows.filter(pl.col("status") == "ingested")
            row = (ingested if ingested.height else log_rows).row(0 if ingested.height else -1, named=True)
            retrying = row["status"] == "rejected" and self._still_waiting(sha256, row)
            return {
                "sha256": sha256,
                "status": "queued" if retrying else row["status"],
                **({"retrying": True} if retrying else {}),
                "file": row["file_name"],
                "cluster": row["cluster"],
                "rows": row["rows"],
                "reason": scrub(row["reason"], self.settings),
                "hint": row["hint"],
                "bronze_version": row["bronze_version"],
                "finished_at": row["finished_at"].isoformat() if row["finished_at"] else None,
            }
        queued = self.queued.get(sha256)
        if queued is not None and queued.path.exists():
            return {"sha256": sha256, "status": "queued", "file": queued.file, "cluster": queued.cluster}
        return None

    def _still_waiting(self, sha256: str, row: dict[str, Any]) -> bool:
        """A file whose last try failed is still the watcher's when it waits in the landing zone
        (a verdict moves it to the quarantine, a transient failure leaves it) and no verdict on its
        bytes is remembered (transient failures never are): the ingest log keeps no such flag."""
        state = workspace.state_dir(self.settings)
        if ledger.remembered_rejection(state, sha256, pipeline.settings_id(self.settings)) is not None:
            return False
        queued = self.queued.get(sha256)
        places = [queued.path] if queued is not None else []
        if row["path"]:
            places.append(Path(row["path"]))
        landing = self.settings.landing_zone.resolve()
        for path in places:
            # in a cluster's folder (not the archive, the quarantine or the staging), not in a dot
            # folder the watcher skips, and still the same size
            with contextlib.suppress(OSError, ValueError):
                inside = path.resolve().relative_to(landing).parts
                if (
                    runner.cluster_of(path, self.settings) is not None
                    and not any(part.startswith(".") for part in inside)
                    and path.is_file()
                    and path.stat().st_size == row["size"]
                ):
                    return True
        return False
