"""Delimited text -> one streamed, header-detected, all-text table.

Encodings are found from the bytes (BOMs, UTF-16 without BOM, UTF-8, else cp1252); files polars
cannot read as they are (non-UTF-8, NUL bytes, CR-only line ends) are transcoded once to a temporary
UTF-8 copy. The separator is sniffed from the first records, the header found like in workbooks.
Rows stream through Arrow's CSV reader; ragged files through a forgiving two-pass csv reader.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import errno
import io
import itertools
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from lakectl.errors import SourceError, StorageError, storage_error
from lakectl.read.safety import SEPARATORS, utf16_encoding
from lakectl.read.schema import HEADER_SCAN_ROWS, detect_header, unique_names
from lakectl.read.sheets import BATCH_ROWS, ROW, SheetFrame, above_header, drop_blank_rows, trim_footer

HEAD_BYTES = 1 << 16
CHUNK = 1 << 20
BLOCK_BYTES = (
    1 << 20
)  # Arrow CSV block: larger blocks make the Delta writer hold more (8 MiB: +400 MiB at 2 GB)


class RaggedRows(SourceError):
    """A line has more fields than the header: re-read with the lenient reader."""


@dataclass(frozen=True)
class TextSource:
    path: Path  # UTF-8 file polars can read (the original, or a temporary transcoded copy)
    encoding: str
    temporary: bool
    notes: tuple[str, ...] = ()


def detect_encoding(path: Path) -> tuple[str, bool, int, bool]:
    """(encoding, cr_only, nul_bytes, valid_utf8) from a streaming pass over the bytes."""
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif utf16 := utf16_encoding(head):
        return utf16, False, 0, False
    else:
        encoding = "utf-8"
    cr_only = b"\r" in head and b"\n" not in head
    decoder = codecs.getincrementaldecoder("utf-8")()
    nul = 0
    valid = True
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            nul += chunk.count(0)
            if valid:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    valid = False
        if valid:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                valid = False
    if not valid:
        encoding = "cp1252"
    return encoding, cr_only, nul, valid


def prepare(path: Path, temp_dir: Path | None = None) -> TextSource:
    encoding, cr_only, nul, _ = detect_encoding(path)
    if encoding in ("utf-8", "utf-8-sig") and not cr_only and not nul:
        return TextSource(path, encoding, temporary=False)
    notes = []
    if encoding not in ("utf-8", "utf-8-sig"):
        notes.append(f"decoded as {encoding}")
    if nul:
        notes.append(f"removed {nul} NUL bytes")
    if cr_only:
        notes.append("converted CR-only line ends")
    try:
        handle, name = tempfile.mkstemp(prefix="lakectl-", suffix=".csv", dir=temp_dir)
    except OSError as exc:
        raise _no_temp(exc) from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out, _open_text(path, encoding) as src:
            while text := src.read(CHUNK):
                if nul:
                    text = text.replace("\x00", "")
                if cr_only:
                    text = text.replace("\r", "\n")
                out.write(text)
    except OSError as exc:
        Path(name).unlink(missing_ok=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):  # the copy, not the source, failed
            raise _no_temp(exc) from None
        raise
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return TextSource(Path(name), encoding, temporary=True, notes=tuple(notes))


def _no_temp(exc: OSError) -> StorageError:
    """Our temporary copy could not be written: the lake's disk, not the file, is at fault."""
    return storage_error(exc) or StorageError(f"cannot write a temporary copy: {exc}")


def _open_text(path: Path, encoding: str) -> io.TextIOWrapper:
    # cp1252 leaves five bytes undefined; latin-1 keeps them as code points instead of failing.
    errors = "strict" if encoding != "cp1252" else "latin1_fallback"
    return open(path, encoding=encoding, errors=errors, newline="")


def _latin1_fallback(exc: UnicodeError) -> tuple[str, int]:
    assert isinstance(exc, UnicodeDecodeError)
    return exc.object[exc.start : exc.end].decode("latin-1"), exc.end


codecs.register_error("latin1_fallback", _latin1_fallback)


def head_text(path: Path) -> str:
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    text = head.decode("utf-8-sig", errors="replace")
    if len(head) == HEAD_BYTES and "\n" in text:
        text = text[: text.rfind("\n") + 1]  # whole lines only
    return text


def sniff_separator(text: str) -> str:
    """The separator that splits the most records into the same number (>1) of fields."""
    best, best_score = ",", (0, 0)
    for sep in SEPARATORS:
        widths = [len(rec) for rec in _records(text, sep) if len(rec) > 1]
        if not widths:
            continue
        width, count = Counter(widths).most_common(1)[0]
        score = (count, width)
        if score > best_score:
            best, best_score = sep, score
    return best


def _records(text: str, sep: str, limit: int = HEADER_SCAN_ROWS) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    out = []
    with contextlib.suppress(csv.Error):
        for record in reader:
            out.append(record)
            if len(out) >= limit:
                break
    return out


def read_csv(path: Path, lenient: bool = False, temp_dir: Path | None = None) -> SheetFrame:
    """The table in a delimited text file; ``lenient`` keeps every field of ragged lines."""
    source = prepare(path, temp_dir)
    try:
        text = head_text(source.path)
        if not text.strip():
            raise SourceError(
                f"{path.name}: the file holds no data (only blank lines)", hint="export it again"
            )
        sep = sniff_separator(text)
        reader = csv.reader(io.StringIO(text), delimiter=sep)
        records: list[list[str]] = []
        line_after: list[int] = []
        with contextlib.suppress(csv.Error):
            for record in reader:
                records.append(record)
                line_after.append(reader.line_num)
                if len(records) >= HEADER_SCAN_ROWS:
                    break
        guess = detect_header([[c if c.strip() else None for c in rec] for rec in records])
        width = max((len(r) for r in records), default=1)
        if guess.index is None:
            headers: list[str] = [""] * width
            skip_lines, header_row = 0, None
        else:
            headers = records[guess.index]
            skip_lines, header_row = line_after[guess.index], guess.index + 1
        # Lines in the sample wider than the header keep their extra fields as extra columns.
        after = records[(guess.index or -1) + 1 :]
        widest = max((len(r) for r in after), default=0)
        headers = headers + [""] * max(0, widest - len(headers))
    except BaseException:
        if source.temporary:
            source.path.unlink(missing_ok=True)
        raise
    columns = unique_names([h.lstrip("\ufeff") or None for h in headers])
    frame = SheetFrame(
        sheet=path.stem,
        header_row=header_row,
        headers=[h.lstrip("\ufeff") for h in headers],
        columns=columns,
        batches=lambda: iter(()),
        notes=[*source.notes, f"separator {sep!r}", *([] if guess.index is not None else [guess.reason])],
    )
    frame.dropped.extend(above_header(list(records[: guess.index or 0]), range(1, (guess.index or 0) + 1)))
    first_row = (header_row or 0) + 1
    if lenient:
        frame.batches = lambda: _python_batches(source, sep, skip_lines, frame, first_row)
    else:
        frame.batches = lambda: _arrow_batches(source, sep, skip_lines, frame, first_row)
    return frame


def _finish(batches: Iterator[pa.Table], frame: SheetFrame) -> Iterator[pa.Table]:
    """Drop blank rows; hold back the last batch so that a footer can be trimmed from it."""
    pending: pa.Table | None = None
    for batch in batches:
        batch = drop_blank_rows(batch, frame.columns)
        if batch.num_rows == 0:
            continue
        if pending is not None:
            yield pending
        pending = batch
    if pending is not None:
        yield trim_footer(pending, frame.columns, frame.dropped)


def _numbered(table: pa.Table, first: int) -> pa.Table:
    """Append the 1-based record numbers starting at ``first``."""
    numbers = pl.int_range(first, first + table.num_rows, dtype=pl.Int64, eager=True).to_arrow()
    return table.append_column(ROW, numbers)


def _skip_lines(handle: BinaryIO, count: int) -> None:
    """Move past the lines above the data (titles, header) and a UTF-8 BOM on the first line."""
    if count == 0 and handle.read(3) != codecs.BOM_UTF8:
        handle.seek(0)
    for _ in range(count):
        handle.readline()


def _arrow_batches(
    source: TextSource, sep: str, skip_lines: int, frame: SheetFrame, first_row: int
) -> Iterator[pa.Table]:
    """The fast path: Arrow's streaming CSV reader, memory flat in the file size (polars' scan grows).

    Blank lines come through as all-null rows (dropped later), so record numbers stay exact; any line
    with a different number of fields raises RaggedRows and the caller re-reads leniently.
    """
    parse = pacsv.ParseOptions(
        delimiter=sep, quote_char='"', double_quote=True, newlines_in_values=True, ignore_empty_lines=False
    )
    convert = pacsv.ConvertOptions(
        column_types=dict.fromkeys(frame.columns, pa.string()),
        strings_can_be_null=True,  # an empty field is null, a quoted "" stays ''
        quoted_strings_can_be_null=False,
    )
    try:
        with source.path.open("rb") as handle:
            _skip_lines(handle, skip_lines)
            reader = pacsv.open_csv(
                handle,
                read_options=pacsv.ReadOptions(column_names=frame.columns, block_size=BLOCK_BYTES),
                parse_options=parse,
                convert_options=convert,
            )

            def numbered() -> Iterator[pa.Table]:
                number = first_row
                for batch in reader:
                    yield _numbered(pa.Table.from_batches([batch]), number)
                    number += batch.num_rows

            yield from _finish(numbered(), frame)
    except pa.ArrowInvalid as exc:
        if "columns, got" in str(exc):
            raise RaggedRows(
                f"{frame.sheet}: a line has a different number of fields than the header"
            ) from None
        if "empty" in str(exc).lower():
            return  # only a header: no data lines
        raise SourceError(
            f"{frame.sheet}: cannot parse the file ({str(exc).splitlines()[0][:300]})"
        ) from None
    finally:
        if source.temporary:
            source.path.unlink(missing_ok=True)


def _python_batches(
    source: TextSource, sep: str, skip_lines: int, frame: SheetFrame, first_row: int
) -> Iterator[pa.Table]:
    """The forgiving path for ragged files: every field of every line is kept, short lines padded,
    extra fields in extra columns. Two streaming passes: the first finds the widest line."""

    def records() -> Iterator[list[str]]:
        with source.path.open(encoding="utf-8", newline="") as handle:
            if skip_lines == 0 and handle.read(1) != "\ufeff":
                handle.seek(0)
            for _ in range(skip_lines):
                handle.readline()
            yield from csv.reader(handle, delimiter=sep)

    try:
        widest = max((len(record) for record in records()), default=0)
        if widest > len(frame.columns):
            frame.headers.extend([""] * (widest - len(frame.columns)))
            frame.columns[:] = unique_names([h or None for h in frame.headers])
        width = len(frame.columns)
        schema = dict.fromkeys(frame.columns, pl.String)

        def chunks() -> Iterator[pa.Table]:
            lines = records()
            number = first_row
            while group := list(itertools.islice(lines, BATCH_ROWS)):
                rows = [[v if v != "" else None for v in rec] + [None] * (width - len(rec)) for rec in group]
                yield _numbered(pl.DataFrame(rows, schema=schema, orient="row").to_arrow(), number)
                number += len(rows)

        yield from _finish(chunks(), frame)
    finally:
        if source.temporary:
            source.path.unlink(missing_ok=True)
