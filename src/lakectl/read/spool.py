"""A file's parsed rows on disk: the capped parser writes them, the bronze writer streams them back.

``parse_file`` is everything that touches a file's untrusted bytes (preflight, reading, header
detection), so it is what runs in the capped child (worker.py); the Delta write then reads the spool
in the parent, where the memory cap cannot kill it. Any failure while reading the file's bytes
becomes that file's SourceError; a failure to write the spool (our disk) is a StorageError.

Wide files stay bounded: columns beyond ``max_columns`` are kept, per row, as one JSON object in
``_extra_columns``, so one 9,000-column export never makes its cluster 9,000 columns wide.
"""

from __future__ import annotations

import contextlib
import errno
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.ipc as ipc

from lakectl.errors import SourceError, StorageError, resource_shortage, storage_error
from lakectl.read.delimited import RaggedRows, read_csv
from lakectl.read.sheets import ROW, ReadOptions, SheetFrame, read_file, short_error

EXTRA_COLUMNS = "_extra_columns"
# Spools of files under this size are written uncompressed: lz4 cost more time than anything else
# between parser and writer (a 72 MiB spool: 1.7 s to write with lz4, 0.04 s without, on a loaded
# machine). Larger files keep lz4, so the temp folder's disk use stays bounded (a 2 GB CSV).
UNCOMPRESSED_BELOW = 64 << 20
_PLAIN = ipc.IpcWriteOptions(compression=None)
_LZ4 = ipc.IpcWriteOptions(compression="lz4")
_REEXPORT = "export the file again, or open it in Excel/LibreOffice and save it again"
_SHORT = (errno.EAGAIN, errno.ENOMEM)  # a thread or a mapping refused: our memory, not the file


@dataclass(frozen=True)
class ParsedSheet:
    sheet: str
    header_row: int | None
    headers: list[str]
    columns: list[str]  # every normalised source column, in order (the layout)
    written: list[str]  # the columns bronze gets: at most max_columns of them, then EXTRA_COLUMNS
    rows: int
    dropped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    spool: Path | None = None  # Arrow IPC file: ``written`` + ``_row``; None when nothing was kept


@dataclass(frozen=True)
class ParsedFile:
    sheets: list[ParsedSheet]

    @property
    def rows(self) -> int:
        return sum(sheet.rows for sheet in self.sheets)

    def remove(self) -> None:
        for sheet in self.sheets:
            if sheet.spool is not None:
                sheet.spool.unlink(missing_ok=True)


def parse_file(path: Path, options: ReadOptions, spool_dir: Path | None) -> ParsedFile:
    """Read every table of ``path`` into spool files under ``spool_dir`` (None: count rows only).

    Raises SourceError for anything wrong with the file's bytes, StorageError when the spool
    cannot be written.
    """
    lenient = False
    options_ipc = _PLAIN if _size(path) < UNCOMPRESSED_BELOW else _LZ4
    while True:
        sheets: list[ParsedSheet] = []
        try:
            frames = _frames(path, options, lenient)
            for frame in frames:
                sheets.append(_spool_frame(frame, options.max_columns, spool_dir, options_ipc))
            return ParsedFile(sheets)
        except RaggedRows:
            ParsedFile(sheets).remove()
            if lenient:
                raise
            lenient = True  # a line outgrows the header: re-read with the forgiving reader
        except BaseException:
            ParsedFile(sheets).remove()
            raise


def _frames(path: Path, options: ReadOptions, lenient: bool) -> list[SheetFrame]:
    try:
        if lenient:
            return [read_csv(path, lenient=True, temp_dir=options.temp_dir)]
        return read_file(path, options)
    except (SourceError, StorageError, MemoryError):
        raise
    except OSError as exc:
        if _short_of_resources(exc):
            raise MemoryError(short_error(exc)) from None
        raise _unreadable(path, exc) from None
    except BaseException as exc:  # a corrupt zip entry, a parser's own error tree: the file's fault
        if not _parser_failure(exc):
            raise
        raise _file_error(f"{path.name}: cannot read the file", exc) from None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return UNCOMPRESSED_BELOW  # unknown: compress (the reader reports the error itself)


def _spool_frame(
    frame: SheetFrame, max_columns: int, spool_dir: Path | None, options: ipc.IpcWriteOptions = _LZ4
) -> ParsedSheet:
    rows = 0
    target: Path | None = None
    writer: ipc.RecordBatchFileWriter | None = None
    schema = pa.schema([])
    try:
        for batch in _batches(frame):
            table = pack_extra(batch, frame.columns, max_columns)
            rows += table.num_rows
            if spool_dir is None:
                continue
            with _spool_errors(spool_dir):
                if writer is None:
                    target = spool_dir / f"{uuid.uuid4().hex}.arrow"
                    fields = [pa.field(n, pa.large_string()) for n in table.column_names if n != ROW]
                    schema = pa.schema([*fields, pa.field(ROW, pa.int64())])
                    writer = ipc.new_file(target, schema, options=options)
                writer.write_table(table.select(schema.names).cast(schema))
        if writer is not None:
            with _spool_errors(spool_dir):
                writer.close()
    except BaseException:
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()
        if target is not None:
            target.unlink(missing_ok=True)
        raise
    notes = list(frame.notes)
    written = frame.columns[:max_columns]
    if len(frame.columns) > max_columns:
        notes.append(
            f"{len(frame.columns):,} columns: the {len(frame.columns) - max_columns:,} beyond "
            f"reader.max_columns ({max_columns}) are kept as JSON in {EXTRA_COLUMNS}"
        )
        written = [*written, EXTRA_COLUMNS]
    return ParsedSheet(
        sheet=frame.sheet,
        header_row=frame.header_row,
        headers=list(frame.headers),
        columns=list(frame.columns),
        written=written,
        rows=rows,
        dropped=list(frame.dropped),
        notes=notes,
        spool=target,
    )


def _batches(frame: SheetFrame) -> Iterator[pa.Table]:
    """The frame's batches, with errors of the file's bytes as SourceError (RaggedRows passes)."""
    stream = frame.batches()
    while True:
        try:
            batch = next(stream, None)
        except (SourceError, StorageError, MemoryError):
            raise
        except OSError as exc:
            if _short_of_resources(exc):
                raise MemoryError(short_error(exc)) from None
            raise SourceError(f"{frame.sheet}: cannot read the file ({exc.strerror or exc})") from None
        except BaseException as exc:
            if not _parser_failure(exc):
                raise
            raise _file_error(f"{frame.sheet}: cannot parse the file", exc) from None
        if batch is None:
            return
        yield batch


def _file_error(what: str, exc: BaseException) -> SourceError | MemoryError:
    """A parser's failure: the file's fault, unless the parser ran out of memory or threads (then
    it is a MemoryError, which the caller retries in a fresh process before blaming the file)."""
    text = short_error(exc)
    if resource_shortage(str(exc)):
        return MemoryError(text)
    return SourceError(f"{what} ({text})", hint=_REEXPORT)


def _short_of_resources(exc: OSError) -> bool:
    return exc.errno in _SHORT or resource_shortage(str(exc))


def _parser_failure(exc: BaseException) -> bool:
    """An error a parser raised: any Exception, and a Rust panic (pyo3's PanicException derives
    from BaseException, so it would pass every ``except Exception`` and end the batch)."""
    return isinstance(exc, Exception) or type(exc).__name__ == "PanicException"


def pack_extra(table: pa.Table, columns: list[str], max_columns: int) -> pa.Table:
    """Keep the first ``max_columns`` source columns; the rest become one JSON object per row."""
    if len(columns) <= max_columns:
        return table
    extra = columns[max_columns:]
    encoded = (
        pl.from_arrow(table.select(extra))
        .select(pl.struct(extra).struct.json_encode().alias(EXTRA_COLUMNS))  # type: ignore[union-attr]
        .to_arrow()
        .column(EXTRA_COLUMNS)
    )
    kept = table.select([*columns[:max_columns], ROW])
    return kept.add_column(max_columns, EXTRA_COLUMNS, encoded.cast(pa.large_string()))


def read_spool(path: Path) -> Iterator[pa.RecordBatch]:
    """The batches of a spool file; the writer pulls them one at a time. Read, not memory-mapped:
    the mapped pages of a spool count in the writer's memory and grew with the file (a 2 GB CSV:
    1,459 MiB peak vs 667 MiB read), and the lz4 batches of a large file's spool are copied when
    decompressed anyway. Each batch says whether it is compressed, so both kinds read alike."""
    with pa.OSFile(str(path)) as source:
        reader = ipc.open_file(source)
        for index in range(reader.num_record_batches):
            yield reader.get_batch(index)


@contextlib.contextmanager
def _spool_errors(folder: Path | None) -> Iterator[None]:
    """Our own disk failing while writing the spool is a StorageError naming ``folder``, never the file's fault."""
    try:
        yield
    except OSError as exc:
        raise storage_error(exc, folder) or StorageError(str(exc)) from None


def _unreadable(path: Path, exc: OSError) -> SourceError:
    return SourceError(
        f"{path.name}: cannot read the file ({exc.strerror or exc})",
        hint="check that the file exists and is readable",
    )
