"""Sequences the I/O: source files -> bronze, exactly once, with a ledger row for every outcome.

Files of one cluster are written as a batch: one Delta commit carries all their rows, one app
transaction per file and their ledger records, so a sync that drops 500 small files costs a few
commits, while every file keeps its own outcome (ingested, skipped, rejected).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from lakectl import __version__, ledger
from lakectl.config import Settings
from lakectl.errors import LakectlError, SourceError, TransientError
from lakectl.faults import fault
from lakectl.lake import Lake, file_app_id
from lakectl.models import IngestResult, SheetSummary
from lakectl.read import ReadOptions, SheetFrame, read_file
from lakectl.read_csv import RaggedRows, read_csv
from lakectl.safety import Checked
from lakectl.schema import schema_id

log = logging.getLogger(__name__)

WRITE_ATTEMPTS = 3
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
# The byte-level checks, when the caller ran them already: their result, or the error they raised.
Precheck = Checked | SourceError | None


def sha256_of(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def read_options(settings: Settings) -> ReadOptions:
    return ReadOptions(include_hidden=settings.reader.include_hidden_sheets, limits=settings.reader.limits())


@dataclass
class _Job:
    """One file on its way through a batch; ``result`` is set once its outcome is known."""

    path: Path
    cluster: str
    precheck: Precheck = None
    started: datetime = field(default_factory=ledger.now)
    clock: float = field(default_factory=time.monotonic)
    ingest_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    sha: str | None = None
    size: int | None = None
    lenient: bool = False  # a CSV whose lines outgrow its header: read with the forgiving reader
    frames: list[SheetFrame] = field(default_factory=list)
    streams: list[Iterator[pa.Table]] = field(default_factory=list)
    firsts: list[pa.Table | None] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    result: IngestResult | None = None

    def outcome(self, **fields: Any) -> IngestResult:
        return IngestResult(
            file=self.path.name,
            path=str(self.path),
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
        return self.finish(
            status="rejected",
            reason=exc.message,
            hint=exc.hint,
            error_class=type(exc).__name__,
            transient=isinstance(exc, TransientError),
        )

    def open(self, settings: Settings) -> bool:
        """Read the file's tables and start their streams; False when the file is rejected."""
        while True:
            try:
                if isinstance(self.precheck, SourceError):
                    raise self.precheck
                if self.lenient:
                    self.frames = [read_csv(self.path, lenient=True)]
                else:
                    self.frames = read_file(self.path, read_options(settings), self.precheck)
                # Start every sheet's stream now: the lenient CSV path settles its columns on its first
                # batch, and most unreadable files fail here, before anything is committed.
                self.streams = [frame.batches() for frame in self.frames]
                self.firsts = [next(stream, None) for stream in self.streams]
                self.rows = [0] * len(self.frames)
                return True
            except RaggedRows:
                self.lenient = True
            except SourceError as exc:
                self.reject(exc)
                return False

    @property
    def empty(self) -> bool:
        return all(first is None for first in self.firsts)

    def summaries(self, known: set[str]) -> list[SheetSummary]:
        return [
            SheetSummary(
                sheet=f.sheet,
                header_row=f.header_row,
                columns=list(f.columns),
                headers=list(f.headers),
                rows=n,
                new_columns=[c for c in f.columns if known and c not in known],
                dropped=list(f.dropped),
                notes=list(f.notes),
            )
            for f, n in zip(self.frames, self.rows, strict=True)
        ]


class _Stream:
    """The files of a batch as one Arrow stream: a common schema plus lineage columns."""

    def __init__(self, jobs: list[_Job]) -> None:
        self.jobs = jobs
        self.ingested_at = ledger.now()
        # An error raised while the Delta writer pulls batches comes back wrapped in a DeltaError;
        # keep the original and the file it came from, to deal with that file alone.
        self.failure: SourceError | None = None
        self.failed_job: _Job | None = None
        columns: dict[str, None] = {}
        for job in jobs:
            for frame in job.frames:
                columns.update(dict.fromkeys(frame.columns))
        # large_string is what the readers hand over: declaring it avoids copying every string
        self.schema = pa.schema([pa.field(c, pa.large_string()) for c in columns] + list(LINEAGE))

    def reader(self) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(self.schema, self._batches())

    def _batches(self) -> Iterator[pa.RecordBatch]:
        for job in self.jobs:
            try:
                yield from self._job_batches(job)
            except SourceError as exc:
                self.failure, self.failed_job = exc, job
                raise
        fault("after_read")

    def _job_batches(self, job: _Job) -> Iterator[pa.RecordBatch]:
        for index, frame in enumerate(job.frames):
            constants = {
                "_source_file": job.path.name,
                "_source_sha256": job.sha or "",
                "_sheet": frame.sheet,
                "_ingest_id": job.ingest_id,
                "_schema_id": schema_id(frame.columns),
            }
            first = job.firsts[index]
            parts = job.streams[index] if first is None else itertools.chain([first], job.streams[index])
            for batch in parts:
                job.rows[index] += batch.num_rows
                yield self._shape(batch, constants)

    def _shape(self, table: pa.Table, constants: dict[str, str]) -> pa.RecordBatch:
        """Source columns in the common order (missing ones null) plus lineage, built in Arrow:
        constant columns are one-value dictionaries, so nothing is repeated per row in memory."""
        rows = table.num_rows
        zeros = pa.repeat(pa.scalar(0, pa.int32()), rows)
        arrays = []
        for column_field in self.schema:
            name = column_field.name
            if name in constants:
                dictionary = pa.array([constants[name]], pa.large_string())
                arrays.append(pa.DictionaryArray.from_arrays(zeros, dictionary))
            elif name == "_ingested_at":
                arrays.append(pa.repeat(pa.scalar(self.ingested_at, column_field.type), rows))
            elif name in table.column_names:
                column = table.column(name).combine_chunks()
                arrays.append(column if column.type == column_field.type else column.cast(column_field.type))
            else:
                arrays.append(pa.nulls(rows, column_field.type))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


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


def ingest_file(
    path: Path, cluster: str, settings: Settings, dry_run: bool = False, precheck: Precheck = None
) -> IngestResult:
    """Ingest one file into bronze/<cluster>, exactly once. Never raises for a bad file."""
    return ingest_batch([(path, precheck)], cluster, settings, dry_run=dry_run)[0]


def ingest_batch(
    items: list[tuple[Path, Precheck]], cluster: str, settings: Settings, dry_run: bool = False
) -> list[IngestResult]:
    """Ingest files of one cluster in one bronze commit, each exactly once; a result per file.

    Never raises for a bad file: it is rejected with its reason and the others go on.
    """
    jobs = [_Job(path, cluster, precheck) for path, precheck in items]
    for job in jobs:
        try:
            job.sha, job.size = sha256_of(job.path)
        except OSError as exc:
            job.finish(
                status="rejected",
                reason=f"{job.path.name}: cannot read the file ({exc.strerror})",
                hint="check that the file exists and is readable",
                error_class="OSError",
                transient=True,
            )
    unreadable = [job for job in jobs if job.result is not None]
    pending = [job for job in jobs if job.result is None]
    if dry_run:
        for job in pending:
            _dry_run(job, settings)
    else:
        _log_rejections(Lake.from_settings(settings), unreadable)
        if pending:
            _write_batch(pending, settings)
    return [job.result for job in jobs if job.result is not None]


def _write_batch(jobs: list[_Job], settings: Settings) -> None:
    lake = Lake.from_settings(settings)
    try:
        with lake.lock():
            try:
                _skip_duplicates(jobs, lake)
                _commit([job for job in jobs if job.result is None], settings, lake)
            except LakectlError as exc:  # the lake itself failed (disk, permissions): nothing committed
                for job in jobs:
                    if job.result is None:
                        job.reject(exc)
            fault("after_commit")
            records = [_record(job.result, job.started) for job in jobs if job.result is not None]
            try:
                ledger.append(lake, records)
            except LakectlError as exc:  # bronze has the rows; the next start rebuilds these rows
                log.warning("ingest log not written (%s); it is repaired on the next run", exc)
    except LakectlError as exc:  # the lock could not be taken: nothing was tried
        for job in jobs:
            if job.result is None:
                job.reject(exc)


def _skip_duplicates(jobs: list[_Job], lake: Lake) -> None:
    """Same bytes ingested before (under any name, into any cluster), or twice in this batch."""
    earlier = ledger.first_ingests(lake, [job.sha for job in jobs if job.sha])
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
            job.finish(
                status="skipped",
                duplicate_of=twin.ingest_id,
                reason=f"duplicate of {twin.path.name} in the same batch (same bytes)",
            )
        else:
            in_batch[job.sha] = job


def _commit(jobs: list[_Job], settings: Settings, lake: Lake) -> None:
    """One atomic append for all readable files. A file that fails while streaming is taken out
    (or re-read leniently) and the commit retried: nothing was written by the failed attempt."""
    target = lake.bronze(jobs[0].cluster if jobs else "")
    known = set(target.columns())
    transient_failures = 0
    while True:
        live = [job for job in jobs if job.result is None and job.open(settings)]
        for job in [job for job in live if job.empty]:  # header-only: the ledger row alone records it
            job.finish(status="ingested", sheets=job.summaries(known))
        live = [job for job in live if job.result is None]
        if not live:
            return
        stream = _Stream(live)
        planned = [
            _record(job.outcome(status="ingested", sheets=job.summaries(known)), job.started) for job in live
        ]
        # The commit carries the ledger records, so a crash right after it is repaired (ledger.reconcile).
        metadata = {"lakectl.operation": "ingest", ledger.FILES_KEY: ledger.commit_record(planned)}
        app_ids = [file_app_id(job.sha or "") for job in live]
        fault("before_commit")
        try:
            version = target.append_once(stream.reader(), app_ids, metadata)
        except TransientError:
            transient_failures += 1
            if transient_failures >= WRITE_ATTEMPTS:
                raise
            time.sleep(0.5 * 2**transient_failures)
            continue
        except Exception:
            if stream.failure is None or stream.failed_job is None:
                raise
            if isinstance(stream.failure, RaggedRows) and not stream.failed_job.lenient:
                stream.failed_job.lenient = True
            else:
                stream.failed_job.reject(stream.failure)
            continue
        for job in live:
            if version is None:
                job.finish(status="skipped", reason="already in bronze (committed by a concurrent ingest)")
            else:
                job.finish(
                    status="ingested", sheets=job.summaries(known), rows=sum(job.rows), bronze_version=version
                )
        return


def _dry_run(job: _Job, settings: Settings) -> None:
    lake = Lake.from_settings(settings)
    known = set(lake.bronze(job.cluster).columns())
    earlier = ledger.first_ingests(lake, [job.sha or ""]).get(job.sha or "")
    while job.open(settings):
        try:
            for index, (first, stream) in enumerate(zip(job.firsts, job.streams, strict=True)):
                job.rows[index] = (first.num_rows if first is not None else 0) + sum(
                    b.num_rows for b in stream
                )
        except RaggedRows:
            job.lenient = True
            continue
        except SourceError as exc:
            job.reject(exc)
            return
        if earlier is not None:
            job.finish(
                status="skipped",
                sheets=job.summaries(known),
                rows=sum(job.rows),
                duplicate_of=earlier["ingest_id"],
                reason=f"duplicate of {earlier['file_name']} (would be skipped)",
            )
        else:
            job.finish(
                status="ingested",
                sheets=job.summaries(known),
                rows=sum(job.rows),
                reason="dry run: nothing written",
            )
        return


def record_rejection(settings: Settings, result: IngestResult) -> None:
    """Ledger row for a file rejected outside ingest_batch (parser crash, timeout)."""
    if result.sha256 is None:
        with contextlib.suppress(OSError):
            sha, size = sha256_of(Path(result.path))
            result = dataclasses.replace(result, sha256=sha, size=size)
    _log_rejections(
        Lake.from_settings(settings), [_Job(Path(result.path), result.cluster or "", result=result)]
    )


def reconcile(settings: Settings) -> int:
    """Repair the ledger from bronze commit metadata after a crash (see ledger.reconcile)."""
    lake = Lake.from_settings(settings)
    with lake.lock():
        repaired = ledger.reconcile(lake, settings.clusters)
    if repaired:
        log.warning("ledger repaired: %d file(s) were in bronze without a ledger row", repaired)
    return repaired


def _log_rejections(lake: Lake, jobs: list[_Job]) -> None:
    records = [_record(job.result, job.started) for job in jobs if job.result is not None]
    if not records:
        return
    try:
        with lake.lock():
            ledger.append(lake, records)
    except LakectlError as exc:  # the ledger is a record, never a reason to fail the run
        log.warning("could not record %d rejection(s): %s", len(records), exc)
