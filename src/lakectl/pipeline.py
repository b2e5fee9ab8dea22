"""Sequences the I/O: source files -> bronze, exactly once, with a ledger row for every outcome.

A file goes: hash its exact bytes (size and mtime must hold still) -> skip it when those bytes are
in already -> parse it (``spool.parse_file``, in the capped child when isolated) -> commit. Files of
one cluster share a commit while the nulls they would add to each other stay small; each commit
carries one app transaction per file and their ledger records. Just before a commit every file is
checked to be unchanged since it was hashed, so a file that grows while it is read is never doubled.

Only a file's own bytes get it rejected. A failure of the lake (disk, permissions, lock, writer)
raises StorageError: the run fails clearly and no file is blamed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import stat
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from lakectl import __version__
from lakectl.config import Settings
from lakectl.errors import LakectlError, SourceError, StorageError, TransientError
from lakectl.faults import fault
from lakectl.lake import Lake, file_app_id, ledger
from lakectl.models import IngestResult, SheetSummary
from lakectl.read.schema import schema_id
from lakectl.read.sheets import ReadOptions, short_error
from lakectl.read.spool import ParsedFile, ParsedSheet, parse_file, read_spool
from lakectl.service.worker import ChildDied, ChildTimeout, OutOfResources
from lakectl.workspace import (  # noqa: F401  (pipeline.is_running, .sweep_temp, .temp_root stay)
    is_running,
    not_writable,
    printable,
    state_dir,
    sweep_temp,
    temp_root,
    workspace,
)

log = logging.getLogger(__name__)

WRITE_ATTEMPTS = 3
# Files share a commit while the null cells they would add to each other's rows stay below this.
NULL_CELLS_PER_COMMIT = 2_000_000
# Before a file this large is parsed (seconds), the files parsed before it are committed: a slow
# file never holds its batch-mates hostage (watch archives them meanwhile).
FLUSH_BEFORE_BYTES = 1 << 20
# What every bronze row carries besides the source columns. Values constant over a file travel as
# one-entry dictionaries (Delta stores them as plain strings).
CONSTANT = pa.dictionary(pa.int32(), pa.large_string())
LINEAGE = pa.schema(
    [
        ("_source_file", CONSTANT),
        ("_source_sha256", CONSTANT),
        ("_sheet", CONSTANT),
        ("_row", pa.int64()),
        ("_ingested_at", pa.timestamp("us", tz="UTC")),
        ("_ingest_id", CONSTANT),
        ("_schema_id", CONSTANT),
    ]
)
# How a file is parsed: in this process (spool.parse_file) or in the capped child (runner.py).
Parse = Callable[[Path, ReadOptions, Path | None], ParsedFile]
OnResult = Callable[[IngestResult], None]


def sha256_of(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    # O_NONBLOCK: a FIFO named x.csv must never block the run (regular files ignore the flag)
    with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise not_a_file(path)
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def not_a_file(path: Path) -> SourceError:
    return SourceError(
        f"{printable(path.name)}: not a regular file (a FIFO, socket, device or folder); nothing was read",
        hint="give lakectl the exported file itself",
    )


def settings_id(settings: Settings) -> str:
    """What decided a rejection: the reader settings and this version of lakectl."""
    data = json.dumps([settings.reader.model_dump(mode="json"), __version__], sort_keys=True)
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def read_options(settings: Settings, temp_dir: Path | None = None) -> ReadOptions:
    return ReadOptions(
        include_hidden=settings.reader.include_hidden_sheets,
        limits=settings.reader.limits(),
        max_columns=settings.reader.max_columns,
        temp_dir=temp_dir,
    )


# ------------------------------------------------------------------------------ one file's journey


@dataclass
class _Job:
    """One file on its way through a batch; ``result`` is set once its outcome is known."""

    path: Path
    cluster: str
    started: datetime = field(default_factory=ledger.now)
    clock: float = field(default_factory=time.monotonic)
    ingest_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    sha: str | None = None
    size: int | None = None
    mtime_ns: int | None = None
    parsed: ParsedFile | None = None
    result: IngestResult | None = None
    verdict_known: bool = False  # rejected from the remembered verdict: not recorded again
    parse_failed: bool = False  # rejected for what its bytes hold: remembered by hash
    twin_of: _Job | None = None  # the same bytes earlier in this batch: its outcome decides this one's

    def outcome(self, **fields: Any) -> IngestResult:
        return IngestResult(
            file=printable(self.path.name),
            path=printable(str(self.path)),
            cluster=self.cluster,
            sha256=self.sha,
            size=self.size,
            ingest_id=self.ingest_id,
            duration_s=round(time.monotonic() - self.clock, 3),
            **fields,
        )

    def finish(self, **fields: Any) -> IngestResult:
        self.result = self.outcome(**fields)
        return self.result

    def reject(self, exc: LakectlError) -> IngestResult:
        return self.fail(exc.message, exc.hint, type(exc).__name__, isinstance(exc, TransientError))

    def fail(self, reason: str, hint: str | None, error_class: str, transient: bool = False) -> IngestResult:
        return self.finish(
            status="rejected", reason=reason, hint=hint, error_class=error_class, transient=transient
        )

    def summaries(self, known: set[str]) -> list[SheetSummary]:
        sheets = self.parsed.sheets if self.parsed else []
        return [_summary(sheet, known) for sheet in sheets]

    def fingerprint(self) -> None:
        """Hash the file; its size and mtime must be the same before and after (not being written)."""
        if printable(self.path.name) != self.path.name:
            self.fail(
                f"{printable(self.path.name)}: the file name is not valid UTF-8 (shown with \ufffd); "
                "nothing was read",
                "rename the file (any name in UTF-8) and ingest it again",
                "FileName",
            )
            return
        try:
            before = self.path.stat()
            if not stat.S_ISREG(before.st_mode):
                raise not_a_file(self.path)
            self.sha, self.size = sha256_of(self.path)
            after = self.path.stat()
        except SourceError as exc:
            self.reject(exc)
            return
        except OSError as exc:
            self.fail(
                f"{self.path.name}: cannot read the file ({exc.strerror or exc})",
                "check that the file exists and is readable",
                "OSError",
                transient=True,
            )
            return
        self.mtime_ns = after.st_mtime_ns
        if (before.st_size, before.st_mtime_ns) != (
            after.st_size,
            after.st_mtime_ns,
        ) or after.st_size != self.size:
            self.reject(_still_written(self.path))

    def unchanged(self) -> bool:
        """True when the file still has the size and mtime it had when it was hashed."""
        try:
            info = self.path.stat()
        except OSError:
            return False
        return (info.st_size, info.st_mtime_ns) == (self.size, self.mtime_ns)


def _still_written(path: Path) -> TransientError:
    return TransientError(
        f"{path.name}: the file changed while it was being read (is it still being written?); "
        "nothing of it was ingested",
        hint="ingest it again once it is complete (watch takes it when it stops changing)",
    )


def _summary(sheet: ParsedSheet, known: set[str]) -> SheetSummary:
    return SheetSummary(
        sheet=sheet.sheet,
        header_row=sheet.header_row,
        columns=list(sheet.columns),
        headers=list(sheet.headers),
        rows=sheet.rows,
        new_columns=[c for c in sheet.written if known and c not in known],
        dropped=list(sheet.dropped),
        notes=list(sheet.notes),
    )


def _record(result: IngestResult, started: datetime) -> dict[str, Any]:
    sheets = result.sheets
    return {
        "ingest_id": result.ingest_id,
        "path": result.path,
        "file_name": result.file,
        "sha256": result.sha256,
        "cluster": result.cluster,
        "size": result.size,
        "status": result.status,
        "reason": result.reason,
        "hint": result.hint,
        "duplicate_of": result.duplicate_of,
        "sheets": len(sheets),
        "rows": result.rows,
        "headers_original": json.dumps({s.sheet: s.headers for s in sheets}, ensure_ascii=False),
        "headers_normalised": json.dumps({s.sheet: s.columns for s in sheets}, ensure_ascii=False),
        "schema_ids": json.dumps({s.sheet: schema_id(s.columns) for s in sheets}),
        "dropped_rows": json.dumps({s.sheet: s.dropped for s in sheets if s.dropped}, ensure_ascii=False),
        "bronze_version": result.bronze_version,
        "started_at": started,
        "finished_at": ledger.now(),
        "lakectl_version": __version__,
    }


# ------------------------------------------------------------------------------ batches


def ingest_file(path: Path, cluster: str, settings: Settings, dry_run: bool = False) -> IngestResult:
    """Ingest one file into bronze/<cluster>, exactly once. Raises only for the lake's own failures."""
    return ingest_batch([path], cluster, settings, dry_run=dry_run)[0]


def ingest_batch(
    paths: list[Path],
    cluster: str,
    settings: Settings,
    dry_run: bool = False,
    parse: Parse | None = None,
    work: Path | None = None,
    on_result: OnResult | None = None,
    parsed_all: Callable[[], None] | None = None,
) -> list[IngestResult]:
    """Ingest files of one cluster, each exactly once; a result per file, in order.

    ``parse`` runs the parser (default: in this process); ``work`` is the temp folder for spools
    (default: a fresh ``workspace``). ``on_result`` hears each file as soon as its outcome is
    recorded. ``parsed_all`` is called once the last file is parsed, before the last commit (a
    one-shot run stops its parser process there, so its memory is gone before the writer's peak).
    A bad file is rejected with its reason and the others go on; a failure of the lake raises
    StorageError (files already committed stay committed and recorded).
    """
    if work is None and not dry_run:
        with workspace(settings) as own:
            return ingest_batch(paths, cluster, settings, False, parse, own, on_result, parsed_all)
    batch = _Batch(settings, cluster, dry_run, parse or parse_file, work, on_result, parsed_all)
    jobs = [_Job(path, cluster) for path in paths]
    try:
        batch.run(jobs)
    finally:
        for job in jobs:
            if job.parsed is not None:
                job.parsed.remove()
    return [job.result for job in jobs if job.result is not None]


class _Batch:
    """The files of one ingest_batch call: parsed one by one, committed in groups."""

    def __init__(
        self,
        settings: Settings,
        cluster: str,
        dry_run: bool,
        parse: Parse,
        work: Path | None,
        on_result: OnResult | None,
        parsed_all: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.parsed_all = parsed_all
        self.dry_run = dry_run
        self.parse = parse
        self.work = work
        self.on_result = on_result
        self.options = read_options(settings, work)
        self.lake = Lake.from_settings(settings)
        self.state = state_dir(settings)
        self.target = self.lake.bronze(cluster)
        self.known = set(self.target.columns())
        self.settled: list[_Job] = []  # outcome known, ledger row not written yet
        self.twins: list[_Job] = []  # copies waiting for the outcome of the file they copy
        self.settings_id = settings_id(settings)

    def run(self, jobs: list[_Job]) -> None:
        for job in jobs:
            job.fingerprint()
        self._skip_duplicates([job for job in jobs if job.result is None])
        self._remembered([job for job in jobs if job.result is None])
        self.settled = [job for job in jobs if job.result is not None]
        self.twins = [job for job in jobs if job.result is None and job.twin_of is not None]
        group: list[_Job] = []
        for job in [job for job in jobs if job.result is None and job.twin_of is None]:
            if group and (job.size or 0) >= FLUSH_BEFORE_BYTES:
                self._commit(group)
                group = []
            self._parse(job)
            if job.result is not None:
                self.settled.append(job)
            elif self.dry_run:
                self._would_ingest(job)
            else:
                if group and _null_cells([*group, job]) > NULL_CELLS_PER_COMMIT:
                    self._commit(group)
                    group = []
                group.append(job)
        if self.parsed_all is not None:
            self.parsed_all()
        self._commit(group)

    def _remembered(self, jobs: list[_Job]) -> None:
        """Bytes rejected before under the same reader settings are not parsed again."""
        for job in jobs:
            verdict = ledger.remembered_rejection(self.state, job.sha or "", self.settings_id)
            if verdict is not None:
                job.verdict_known = True
                job.fail(
                    f"{verdict['reason']} (verdict of {str(verdict.get('at', ''))[:19]} on these bytes; not read again)",
                    f"{verdict.get('hint') or 'fix the file'}; 'lakectl quarantine retry' or a change of the reader "
                    "settings has it read again",
                    verdict.get("error_class") or "SourceError",
                )

    def _remember(self, jobs: list[_Job]) -> None:
        for job in jobs:
            result = job.result
            if result is None or not job.parse_failed or result.transient or job.sha is None:
                continue
            verdict = {"reason": result.reason, "hint": result.hint, "error_class": result.error_class,
                       "file": result.file, "at": ledger.now().isoformat()}  # fmt: skip
            try:
                ledger.remember_rejection(self.state, job.sha, self.settings_id, verdict)
            except OSError as exc:  # a cache: without it the file is only read again
                log.warning("cannot remember the rejection of %s: %s", result.file, exc)

    def _parse(self, job: _Job) -> None:
        try:
            job.parsed = self.parse(job.path, self.options, None if self.dry_run else self.work)
        except SourceError as exc:
            job.reject(exc)
        except (MemoryError, OutOfResources) as exc:
            job.fail(*self._short_of_resources(job.path, exc), "OutOfResources", transient=True)
        except ChildDied as exc:
            job.fail(
                f"{job.path.name}: the parser process died while reading this file ({exc})",
                "the file is probably malformed or far larger than it looks (e.g. a cell at "
                "XFD1048576); open it in Excel/LibreOffice, delete stray cells and save again",
                "ParserCrash",
            )
        except ChildTimeout as exc:
            job.fail(
                f"{job.path.name}: reading {exc}",
                "split the file, or raise reader.timeout_s",
                "ParserTimeout",
            )
        job.parse_failed = job.result is not None

    def _short_of_resources(self, path: Path, exc: BaseException) -> tuple[str, str]:
        """Our memory or threads ran out, in a fresh process too, and the file's bytes passed every
        check: the reason and hint of a failure of ours (transient: never remembered as a verdict
        on the file, which stays pending and is tried again)."""
        reader = self.settings.reader
        said = f" ({exc})" if str(exc) else ""
        if not reader.isolate:
            return (f"{path.name}: lakectl ran out of memory or threads while reading this file{said}; "
                    "the file was not judged", "free memory on this machine; the file is tried again")  # fmt: skip
        hint = (f"raise reader.memory_limit_mb (LAKECTL_READER__MEMORY_LIMIT_MB, now {reader.memory_limit_mb}) "
                "or free memory on this machine; the file is tried again")  # fmt: skip
        asked = re.search(r"memory allocation of (\d+) bytes", str(exc))
        if asked and int(asked[1]) > reader.memory_limit_mb << 20:
            hint += (f"; it asked for {int(asked[1]) / 2**30:,.1f} GiB at once, more than the whole cap: a cell "
                     "far from the others does that, which reader.max_cells keeps out")  # fmt: skip
        return (
            f"{path.name}: the parser ran out of memory or threads under its cap of "
            f"{reader.memory_limit_mb:,} MiB (reader.memory_limit_mb), in a fresh process too{said}; "
            "nothing was found wrong with the file",
            hint,
        )

    def _would_ingest(self, job: _Job) -> None:
        assert job.parsed is not None
        job.finish(
            status="would ingest",
            sheets=job.summaries(self.known),
            rows=job.parsed.rows,
            reason="dry run: nothing written",
        )
        self._emit([job, *self._settle_twins([job])])

    def _skip_duplicates(self, jobs: list[_Job]) -> None:
        """Same bytes ingested before (under any name, into any cluster), or twice in this batch."""
        earlier = ledger.first_ingests(self.lake, [job.sha for job in jobs if job.sha])
        in_batch: dict[str, _Job] = {}
        for job in jobs:
            assert job.sha is not None
            if first := earlier.get(job.sha):
                job.finish(
                    status="skipped",
                    duplicate_of=first["ingest_id"],
                    reason=f"duplicate of {first['file_name']} ingested into {first['cluster']} "
                    f"at {first['finished_at']:%Y-%m-%d %H:%M:%S} UTC (same bytes)",
                )
            elif twin := in_batch.get(job.sha):
                job.twin_of = twin  # settled with it: rejected like it, or a duplicate of it
            else:
                in_batch[job.sha] = job

    def _settle_twins(self, done: list[_Job]) -> list[_Job]:
        """Copies of files just settled get their outcome: the same rejection (the original's verdict
        is remembered by the bytes' hash, so it holds for the copy too), or skipped as a duplicate."""
        ids = {id(job) for job in done}
        settled = [twin for twin in self.twins if id(twin.twin_of) in ids]
        for twin in settled:
            original = twin.twin_of
            assert original is not None and original.result is not None
            first, name = original.result, original.path.name
            if first.status == "rejected":
                said = first.reason or ""  # it names the original first: name the copy instead
                said = (
                    twin.path.name + said[len(name) :]
                    if said.startswith(name)
                    else f"{twin.path.name}: {said}"
                )
                twin.fail(f"{said} (same bytes as {name})", first.hint, first.error_class or "SourceError",
                          first.transient)  # fmt: skip
            else:
                twin.finish(
                    status="skipped",
                    duplicate_of=first.duplicate_of if first.status == "skipped" else first.ingest_id,
                    reason=f"duplicate of {name} in the same batch (same bytes)",
                )
        self.twins = [twin for twin in self.twins if twin.result is None]
        return settled

    def _commit(self, group: list[_Job]) -> None:
        """Under the lake lock: re-check duplicates, drop files that changed, append the rest in one
        commit, then write every settled file's ledger row."""
        if self.dry_run:  # nothing is written, not even a lock file
            self._emit(self.settled + self._settle_twins(self.settled))
            self.settled = []
            return
        if not (group or self.settled):
            return
        lake = self.lake
        try:
            with lake.lock():
                if group:
                    self._skip_duplicates(group)
                    for job in group:
                        if job.result is None and not job.unchanged():
                            job.reject(_still_written(job.path))
                    live = [job for job in group if job.result is None]
                    # Header-only files: the ledger row records them; their columns join the commit.
                    empty = [job for job in live if job.parsed is not None and job.parsed.rows == 0]
                    for job in empty:
                        job.finish(status="ingested", sheets=job.summaries(self.known))
                    self._append([job for job in live if job.result is None], empty)
                fault("after_commit")
                done = self.settled + group
                done += self._settle_twins(done)
                records = [_record(j.result, j.started) for j in done if j.result and not j.verdict_known]
                try:
                    ledger.append(lake, records)
                except LakectlError as exc:  # bronze has the rows; the next start rebuilds these rows
                    log.warning("ingest log not written (%s); it is repaired on the next run", exc)
        except OSError as exc:  # the lock folder itself cannot be created
            raise not_writable(self.settings, exc) from None
        self.settled = []
        for job in group:
            if job.parsed is not None:
                job.parsed.remove()
        self._remember(done)
        self._emit(done)

    def _append(self, jobs: list[_Job], empty: list[_Job]) -> None:
        if not jobs:
            return
        planned = [
            _record(job.outcome(status="ingested", sheets=job.summaries(self.known)), job.started)
            for job in jobs
        ]
        # The commit carries the ledger records, so a crash right after it is repaired (ledger.reconcile).
        metadata = {"lakectl.operation": "ingest", ledger.FILES_KEY: ledger.commit_record(planned)}
        app_ids = [file_app_id(job.sha or "") for job in jobs]
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            fault("before_commit")
            try:
                version = self.target.append_once(_Stream(jobs, empty).reader(), app_ids, metadata)
                break
            except TransientError:
                if attempt == WRITE_ATTEMPTS:
                    raise
                time.sleep(0.5 * 2**attempt)
            except StorageError:
                raise
            except Exception as exc:  # the writer's own failure: never the files' fault
                raise StorageError(f"cannot write {self.target}: {short_error(exc)}") from exc
        for job in jobs:
            assert job.parsed is not None
            if version is None:
                job.finish(status="skipped", reason="already in bronze (committed by a concurrent ingest)")
            else:
                job.finish(
                    status="ingested",
                    sheets=job.summaries(self.known),
                    rows=job.parsed.rows,
                    bronze_version=version,
                )
            self.known.update(name for sheet in job.parsed.sheets for name in sheet.written)

    def _emit(self, jobs: list[_Job]) -> None:
        if self.on_result is not None:
            for job in jobs:
                if job.result is not None:
                    self.on_result(job.result)


def _null_cells(jobs: list[_Job]) -> int:
    """Null cells a shared commit adds: every row gets every column any of these files has."""
    sheets = [sheet for job in jobs if job.parsed for sheet in job.parsed.sheets]
    width = len({name for sheet in sheets for name in sheet.written})
    return sum(sheet.rows * (width - len(sheet.written)) for sheet in sheets)


class _Stream:
    """The spooled sheets of a commit as one Arrow stream: their common columns plus lineage."""

    def __init__(self, jobs: list[_Job], empty: list[_Job]) -> None:
        self.jobs = jobs
        self.ingested_at = ledger.now()
        columns: dict[str, None] = {}
        for job in jobs + empty:  # the empty ones bring only their columns
            assert job.parsed is not None
            for sheet in job.parsed.sheets:
                columns.update(dict.fromkeys(sheet.written))
        # large_string is what the spools hold: declaring it avoids copying every string
        self.schema = pa.schema([pa.field(c, pa.large_string()) for c in columns] + list(LINEAGE))

    def reader(self) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(self.schema, self._batches())

    def _batches(self) -> Iterator[pa.RecordBatch]:
        for job in self.jobs:
            assert job.parsed is not None
            for sheet in job.parsed.sheets:
                if sheet.spool is None:
                    continue
                constants = {
                    "_source_file": job.path.name,
                    "_source_sha256": job.sha or "",
                    "_sheet": sheet.sheet,
                    "_ingest_id": job.ingest_id,
                    "_schema_id": schema_id(sheet.columns),
                }
                for batch in read_spool(sheet.spool):
                    yield self._shape(batch, constants)
        fault("after_read")

    def _shape(self, batch: pa.RecordBatch, constants: dict[str, str]) -> pa.RecordBatch:
        """Source columns in the common order (missing ones null) plus lineage, built in Arrow:
        constant columns are one-value dictionaries, so nothing is repeated per row in memory."""
        rows = batch.num_rows
        zeros = pa.repeat(pa.scalar(0, pa.int32()), rows)
        names = set(batch.schema.names)
        arrays = []
        for column_field in self.schema:
            name = column_field.name
            if name in constants:
                dictionary = pa.array([constants[name]], pa.large_string())
                arrays.append(pa.DictionaryArray.from_arrays(zeros, dictionary))
            elif name == "_ingested_at":
                arrays.append(pa.repeat(pa.scalar(self.ingested_at, column_field.type), rows))
            elif name in names:
                arrays.append(batch.column(name))
            else:
                arrays.append(pa.nulls(rows, column_field.type))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


def record_rejection(settings: Settings, result: IngestResult) -> None:
    """The ledger row of a file refused before ingest_batch saw it (an upload refused at the door)."""
    try:
        lake = Lake.from_settings(settings)
        with lake.lock():
            ledger.append(lake, [_record(result, ledger.now())])
    except LakectlError as exc:  # the ledger is a record, never a reason to fail the caller
        log.warning("could not record the rejection of %s: %s", result.file, exc)


def reconcile(settings: Settings) -> int:
    """Repair the ledger from bronze commit metadata after a crash (see ledger.reconcile)."""
    try:
        lake = Lake.from_settings(settings)
        with lake.lock():
            repaired = ledger.reconcile(lake, settings.clusters)
    except OSError as exc:
        raise not_writable(settings, exc) from None
    if repaired:
        log.warning(
            "ingest log repaired: %d file(s) where it disagreed with bronze (a run was cut short)", repaired
        )
    return repaired
