"""Sequences the I/O: a source file -> bronze, exactly once, with a ledger row for every outcome."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa

from lakectl import __version__, delta, ledger
from lakectl.config import Settings
from lakectl.errors import LakectlError, SourceError, TransientError
from lakectl.models import IngestResult, SheetSummary
from lakectl.read import ReadOptions, SheetFrame, read_file
from lakectl.read_csv import RaggedRows, read_csv
from lakectl.safety import Checked
from lakectl.schema import schema_id

log = logging.getLogger(__name__)

FAULT_ENV = "LAKECTL_FAULT"
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
FAULT_POINTS = ("after_read", "before_commit", "after_commit")
WRITE_ATTEMPTS = 3
T = TypeVar("T")


def fault(point: str) -> None:
    """Crash-test seam: LAKECTL_FAULT=<point> kills the process right here, as a power cut would."""
    if os.environ.get(FAULT_ENV) == point:
        os._exit(137)


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


class _Stream:
    """Turns sheet frames into one Arrow stream with a common schema and lineage columns."""

    def __init__(self, frames: list[SheetFrame], file_name: str, sha256: str, ingest_id: str) -> None:
        self.frames = frames
        self.file_name = file_name
        self.sha256 = sha256
        self.ingest_id = ingest_id
        self.ingested_at = ledger.now()
        self.rows = [0] * len(frames)
        # An error raised while the Delta writer pulls batches comes back wrapped in a DeltaError;
        # keep the original (a SourceError, RaggedRows) to re-raise it as itself.
        self.failure: SourceError | None = None
        # Start every sheet's stream now: the lenient CSV path settles its columns on the first batch.
        self.iterators: list[Iterator[pa.Table]] = []
        self.firsts: list[pa.Table | None] = []
        for frame in frames:
            iterator = frame.batches()
            self.firsts.append(next(iterator, None))
            self.iterators.append(iterator)
        columns: dict[str, None] = {}
        for frame in frames:
            columns.update(dict.fromkeys(frame.columns))
        self.columns = list(columns)
        # large_string is what polars hands over: declaring it avoids copying every string (Delta: string)
        self.schema = pa.schema([pa.field(c, pa.large_string()) for c in self.columns] + list(LINEAGE))

    def batches(self) -> Iterator[pa.RecordBatch]:
        for index, frame in enumerate(self.frames):
            constants = {
                "_source_file": self.file_name,
                "_source_sha256": self.sha256,
                "_sheet": frame.sheet,
                "_ingest_id": self.ingest_id,
                "_schema_id": schema_id(frame.columns),
            }
            first = self.firsts[index]
            parts = (
                self.iterators[index] if first is None else itertools.chain([first], self.iterators[index])
            )
            for batch in parts:
                self.rows[index] += batch.num_rows
                yield self._shape(batch, constants)
        fault("after_read")

    def _shape(self, table: pa.Table, constants: dict[str, str]) -> pa.RecordBatch:
        """Source columns in the common order (missing ones null) plus lineage, built in Arrow:
        constant columns are one-value dictionaries, so nothing is repeated per row in memory."""
        rows = table.num_rows
        zeros = pa.repeat(pa.scalar(0, pa.int32()), rows)
        arrays = []
        for field in self.schema:
            if field.name in constants:
                dictionary = pa.array([constants[field.name]], pa.large_string())
                arrays.append(pa.DictionaryArray.from_arrays(zeros, dictionary))
            elif field.name == "_ingested_at":
                arrays.append(pa.repeat(pa.scalar(self.ingested_at, field.type), rows))
            elif field.name in table.column_names:
                column = table.column(field.name).combine_chunks()
                arrays.append(column if column.type == field.type else column.cast(field.type))
            else:
                arrays.append(pa.nulls(rows, field.type))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def reader(self) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(self.schema, self._guarded())

    def _guarded(self) -> Iterator[pa.RecordBatch]:
        try:
            yield from self.batches()
        except SourceError as exc:
            self.failure = exc
            raise


def _summaries(frames: list[SheetFrame], rows: list[int], known: set[str]) -> list[SheetSummary]:
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
        for f, n in zip(frames, rows, strict=True)
    ]


def _record(result: IngestResult, started: Any) -> dict[str, Any]:
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
    started_clock = time.monotonic()
    started = ledger.now()
    lake = settings.lake_root
    ingest_id = uuid.uuid4().hex[:16]
    base: dict[str, Any] = {"file": path.name, "path": str(path), "cluster": cluster, "ingest_id": ingest_id}
    try:
        sha, size = sha256_of(path)
    except OSError as exc:
        return IngestResult(
            **base,
            status="rejected",
            reason=f"{path.name}: cannot read the file ({exc.strerror})",
            hint="check that the file exists and is readable",
            error_class="OSError",
            transient=True,
        )
    base.update(sha256=sha, size=size)

    def finish(**fields: Any) -> IngestResult:
        return IngestResult(**base, duration_s=round(time.monotonic() - started_clock, 3), **fields)

    try:
        if dry_run:
            return _dry_run(path, cluster, settings, precheck, sha, finish)
        with delta.lake_lock(lake):
            first = ledger.first_ingest(lake, sha)
            if first is not None:
                result = finish(
                    status="skipped",
                    duplicate_of=first["ingest_id"],
                    reason=f"duplicate of {first['file_name']} ingested into {first['cluster']} "
                    f"at {first['finished_at']:%Y-%m-%d %H:%M:%S} UTC (same bytes)",
                )
                ledger.append(lake, [_record(result, started)])
                return result
            result = _write(path, cluster, settings, precheck, sha, ingest_id, started, finish)
            fault("after_commit")
            ledger.append(lake, [_record(result, started)])
            return result
    except LakectlError as exc:
        result = finish(
            status="rejected",
            reason=exc.message,
            hint=exc.hint,
            error_class=type(exc).__name__,
            transient=isinstance(exc, TransientError),
        )
        if isinstance(exc, SourceError):
            _log_rejection(lake, result, started)
        return result


def record_rejection(settings: Settings, result: IngestResult) -> None:
    """Ledger row for a file rejected outside ingest_file (parser crash, timeout)."""
    if result.sha256 is None:
        with contextlib.suppress(OSError):
            sha, size = sha256_of(Path(result.path))
            result = dataclasses.replace(result, sha256=sha, size=size)
    _log_rejection(settings.lake_root, result, ledger.now())


def reconcile(settings: Settings) -> int:
    """Repair the ledger from bronze commit metadata after a crash (see ledger.reconcile)."""
    with delta.lake_lock(settings.lake_root):
        repaired = ledger.reconcile(settings.lake_root, settings.clusters)
    if repaired:
        log.warning("ledger repaired: %d file(s) were in bronze without a ledger row", repaired)
    return repaired


def _log_rejection(lake: Path, result: IngestResult, started: Any) -> None:
    try:
        with delta.lake_lock(lake):
            ledger.append(lake, [_record(result, started)])
    except LakectlError as exc:  # the ledger is a record, never a reason to fail the run
        log.warning("could not record the rejection of %s: %s", result.file, exc)


# The byte-level checks, when the caller ran them already: their result, or the error they raised.
Precheck = Checked | SourceError | None


def _with_frames(
    path: Path, settings: Settings, precheck: Precheck, use: Callable[[list[SheetFrame]], T]
) -> T:
    """Run ``use`` over the file's tables; a CSV whose lines outgrow its header is read again by the
    forgiving reader (nothing was committed: the first stream failed before its commit)."""
    if isinstance(precheck, SourceError):
        raise precheck
    try:
        return use(read_file(path, read_options(settings), precheck))
    except RaggedRows:
        return use([read_csv(path, lenient=True)])


def _write(
    path: Path,
    cluster: str,
    settings: Settings,
    precheck: Precheck,
    sha: str,
    ingest_id: str,
    started: Any,
    finish: Any,
) -> IngestResult:
    target = ledger.bronze_path(settings.lake_root, cluster)
    known = set(delta.table_columns(target))

    def commit(frames: list[SheetFrame]) -> IngestResult:
        stream = _Stream(frames, path.name, sha, ingest_id)
        # The commit carries the ledger record too, so a crash after it can be repaired (ledger.reconcile).
        planned = finish(status="ingested", sheets=_summaries(frames, [0] * len(frames), known))
        metadata = {
            "lakectl.operation": "ingest",
            ledger.FILES_KEY: ledger.commit_record(_record(planned, started)),
        }
        fault("before_commit")
        if all(first is None for first in stream.firsts):
            # header-only: nothing to append; the ledger row alone records the file
            return finish(status="ingested", sheets=_summaries(frames, stream.rows, known))
        try:
            version = delta.append_once(target, stream.reader(), [delta.file_app_id(sha)], metadata)
        except Exception:
            if stream.failure is not None:
                raise stream.failure from None
            raise
        summaries = _summaries(frames, stream.rows, known)
        if version is None:
            return finish(
                status="skipped",
                reason="already in bronze (committed by a concurrent ingest)",
                sheets=summaries,
            )
        return finish(status="ingested", sheets=summaries, rows=sum(stream.rows), bronze_version=version)

    for attempt in range(WRITE_ATTEMPTS):
        try:
            return _with_frames(path, settings, precheck, commit)
        except TransientError:
            if attempt == WRITE_ATTEMPTS - 1:
                raise
            time.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")


def _dry_run(
    path: Path, cluster: str, settings: Settings, precheck: Precheck, sha: str, finish: Any
) -> IngestResult:
    known = set(delta.table_columns(ledger.bronze_path(settings.lake_root, cluster)))
    first = ledger.first_ingest(settings.lake_root, sha)

    def count(frames: list[SheetFrame]) -> IngestResult:
        rows = [sum(batch.num_rows for batch in frame.batches()) for frame in frames]
        summaries = _summaries(frames, rows, known)
        if first is not None:
            return finish(
                status="skipped",
                sheets=summaries,
                rows=sum(rows),
                duplicate_of=first["ingest_id"],
                reason=f"duplicate of {first['file_name']} (would be skipped)",
            )
        return finish(status="ingested", sheets=summaries, rows=sum(rows), reason="dry run: nothing written")

    return _with_frames(path, settings, precheck, count)
