"""File -> header-detected, all-text frames, one per sheet.

Every value leaves here as text, exactly as the file holds it: numbers without float noise and
without rounding, Excel dates as ISO-8601, leading zeros kept. Nothing is nulled or re-typed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import fastexcel
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from lakectl.errors import SourceError, resource_shortage
from lakectl.read import safety
from lakectl.read.schema import HEADER_SCAN_ROWS, detect_header, footer_length, unique_names

log = logging.getLogger(__name__)
# fastexcel logs "Could not determine dtype ... falling back to string" for every empty column.
logging.getLogger("fastexcel").setLevel(logging.ERROR)

ROW = "_row"
BATCH_ROWS = 100_000


@dataclass
class SheetFrame:
    """One table found in a file: its header and a way to stream its rows.

    ``batches()`` yields Arrow tables with the normalised source columns (large_string) plus ``_row``, the
    1-based row in the sheet. Footer rows it dropped are listed in ``dropped`` once it is exhausted.
    """

    sheet: str
    header_row: int | None
    headers: list[str]
    columns: list[str]
    batches: Callable[[], Iterator[pa.Table]]
    notes: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ReadOptions:
    include_hidden: bool = False
    limits: safety.Limits = field(default_factory=safety.Limits)
    max_columns: int = 512  # beyond this, a sheet's columns are kept as one JSON column (spool.py)
    temp_dir: Path | None = None  # where repaired copies of text files go (the lake's temp folder)
    # Only in the capped child: skip the used-range scan and bound the range calamine loaded instead
    # (safety.py); a far cell kills the child, and the full check then names the cause.
    optimistic: bool = False


def read_file(
    path: Path, options: ReadOptions = ReadOptions(), checked: safety.Checked | None = None
) -> list[SheetFrame]:
    """All tables in a file. Raises SourceError with a reason a person can act on.

    ``checked`` is the result of ``safety.check_file`` when the caller already ran it (the worker
    runs it in the parent process while the parser process starts).
    """
    if checked is None:
        checked = safety.check_file(path, options.limits, full=not options.optimistic)
    kind, facts = checked
    if kind == "csv":
        from lakectl.read.delimited import read_csv  # local import keeps the module graph flat

        return [read_csv(path, temp_dir=options.temp_dir)]
    return read_workbook(path, facts or safety.WorkbookFacts(), options)


# ---------------------------------------------------------------- workbooks (calamine via fastexcel)


def read_workbook(path: Path, facts: safety.WorkbookFacts, options: ReadOptions) -> list[SheetFrame]:
    try:
        reader = fastexcel.read_excel(path)
        names = reader.sheet_names
    except Exception as exc:  # fastexcel raises its own tree; all mean "cannot open"
        if "password protected" in str(exc).lower():  # an encrypted .xlsx is an OLE container
            raise safety.encrypted(path) from None
        if resource_shortage(str(exc)):  # our memory or threads, not the file
            raise MemoryError(short_error(exc)) from None
        raise SourceError(
            f"{path.name}: cannot open the workbook ({short_error(exc)})", hint=_REEXPORT
        ) from None
    frames = []
    skipped = []
    for index, name in enumerate(names):
        if facts.hidden.get(name) and not options.include_hidden:
            skipped.append(f"sheet {name!r} is hidden (set reader.include_hidden_sheets to read it)")
            continue
        extent = facts.extents.get(name)
        if extent is not None and extent.first_row is None:
            continue  # no cell holds a value
        frame = _read_sheet(reader, index, name, path, options, extent.first_row if extent else None, skipped)
        if frame is not None:
            frames.append(frame)
    if not frames:
        detail = "; ".join(skipped) if skipped else "every sheet is empty"
        raise SourceError(
            f"{path.name}: no sheet holds data ({detail})", hint="check that the export is not empty"
        )
    frames[0].notes.extend(skipped)
    return frames


_REEXPORT = "export the file again, or open it in Excel/LibreOffice and save it as .xlsx"


def short_error(exc: BaseException) -> str:
    """The first line of an error's text, bounded: what a person needs of a parser's message."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


def _load(
    reader: fastexcel.ExcelReader, index: int, header_row: int | None, as_text: bool = False
) -> fastexcel.ExcelSheet:
    # Typed reading over all rows keeps full float precision (fastexcel's text mode rounds to 9
    # decimals); a column mixing types comes back as text, so nothing is nulled.
    if as_text:
        return reader.load_sheet(index, header_row=header_row, dtypes="string")
    return reader.load_sheet(index, header_row=header_row, schema_sample_rows=None, dtype_coercion="coerce")


def _read_sheet(
    reader: fastexcel.ExcelReader,
    index: int,
    name: str,
    path: Path,
    options: ReadOptions,
    first_row: int | None,
    skipped: list[str],
) -> SheetFrame | None:
    as_text = False
    try:
        try:
            sheet = _load(reader, index, 0)
        except fastexcel.FastExcelError as exc:
            if "empty" in str(exc).lower() or "not a valid worksheet" in str(exc):
                raise
            # Cell errors (#NAME?) and type mixes calamine cannot coerce: read the sheet as text.
            as_text = True
            sheet = _load(reader, index, 0, as_text=True)
    except Exception as exc:
        message = short_error(exc)
        if resource_shortage(str(exc)):  # our memory or threads, not the file
            raise MemoryError(message) from None
        if "empty" in message.lower():
            return None
        if "not a valid worksheet" in message or "chartsheet" in message:
            skipped.append(f"sheet {name!r} is a chart, not a table")
            return None
        raise SourceError(f"{path.name}: sheet {name!r} cannot be read ({message})", hint=_REEXPORT) from None
    if sheet.visible != "visible" and not options.include_hidden:
        skipped.append(f"sheet {name!r} is hidden (set reader.include_hidden_sheets to read it)")
        return None
    # An xlsx sheet (first_row known) read without the range scan: bound the range calamine loaded
    # (header row + data) as the full check would have (.xls/.ods have no such check).
    if options.optimistic and first_row is not None and sheet.width > 0:
        loaded_range = safety.SheetExtent(first_row, first_row + sheet.total_height, sheet.width)
        safety.bounded(path, name, loaded_range, options.limits)
    # Optimistic first load takes row 0 as the header; look at the first rows to find the real one.
    infos = sheet.available_columns()
    header_cells = [None if info.column_name_from == "generated" else info.name for info in infos]
    data = sheet.to_polars()
    sample = [header_cells, *_as_text(data.head(HEADER_SCAN_ROWS)).rows()]
    guess = detect_header(sample)
    if guess.index == 0:
        headers: list[str | None] = header_cells
        header_offset = 0
    else:  # read again from the real header (or none): the first load is freed before
        del data, sheet
        sheet = _load(reader, index, guess.index, as_text)
        if guess.index is None:
            headers = [None] * sheet.width
            header_offset = -1  # no header row: data starts at the first row of the range
        else:
            headers = [
                None if i.column_name_from == "generated" else i.name for i in sheet.available_columns()
            ]
            header_offset = guess.index
        data = sheet.to_polars()
    # calamine's cells (held by the sheet) are freed before the all-text copy is built: peak memory
    del sheet
    # Columns with neither a header nor a value carry nothing: drop them.
    keep = [i for i, h in enumerate(headers) if h is not None or data.to_series(i).null_count() < data.height]
    data = data.select([data.columns[i] for i in keep])
    headers = [headers[i] for i in keep]
    if not headers:
        return None
    columns = unique_names(headers)
    data = _as_text(data).rename(dict(zip(data.columns, columns, strict=True)))
    range_start = first_row or 1  # fastexcel counts rows from the first non-empty one
    first_data_row = range_start + header_offset + 1
    data = data.with_columns((pl.int_range(pl.len(), dtype=pl.Int64) + first_data_row).alias(ROW))
    table = drop_blank_rows(data.to_arrow(), columns)
    frame = SheetFrame(
        sheet=name,
        header_row=range_start + header_offset if header_offset >= 0 else None,
        headers=[h if h is not None else "" for h in headers],
        columns=columns,
        batches=lambda: iter(()),
    )
    range_rows = range(range_start, range_start + max(header_offset, 0))
    frame.dropped.extend(above_header(sample[: max(header_offset, 0)], range_rows))
    if as_text:
        frame.notes.append(
            f"sheet {name!r} read as text: calamine cannot type its cells (precision 9 decimals)"
        )
    table = trim_footer(table, columns, frame.dropped)
    frame.batches = lambda: iter([table])
    if guess.index is None:
        frame.notes.append(f"sheet {name!r}: {guess.reason}")
    return frame


def _as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Every column to String, formatting typed cells the way a person reads them, losslessly."""
    return frame.with_columns(text_expr(name, dtype) for name, dtype in frame.schema.items())


def text_expr(name: str, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(name)
    if dtype == pl.String:
        return col
    if dtype == pl.Float64 or dtype == pl.Float32:
        whole = (col == col.round(0)) & (col.abs() < 1e15)
        return (
            pl.when(whole).then(col.cast(pl.Int64).cast(pl.String)).otherwise(col.cast(pl.String)).alias(name)
        )
    if dtype == pl.Boolean:
        return (
            pl.when(col).then(pl.lit("true")).when(~col).then(pl.lit("false")).alias(name)
        )  # null stays null
    if isinstance(dtype, pl.Datetime):
        midnight = col.dt.time() == pl.time(0)
        has_ms = col.dt.millisecond() != 0
        time_only = col.dt.date() == pl.date(1899, 12, 31)
        return (
            pl.when(time_only)
            .then(col.dt.strftime("%H:%M:%S"))
            .when(midnight)
            .then(col.dt.strftime("%Y-%m-%d"))
            .when(has_ms)
            .then(col.dt.strftime("%Y-%m-%dT%H:%M:%S%.3f"))
            .otherwise(col.dt.strftime("%Y-%m-%dT%H:%M:%S"))
            .alias(name)
        )
    if dtype == pl.Date:
        return col.dt.strftime("%Y-%m-%d").alias(name)
    if isinstance(dtype, pl.Duration):
        seconds = col.dt.total_seconds()
        return pl.format(
            "{}:{}:{}",
            seconds // 3600,
            (seconds % 3600 // 60).cast(pl.String).str.zfill(2),
            (seconds % 60).cast(pl.String).str.zfill(2),
        ).alias(name)
    return col.cast(pl.String).alias(name)


def above_header(rows: Sequence[Sequence[str | None]], numbers: range) -> list[str]:
    """Describe the non-blank rows above a header (titles, periods) for the ingest log."""
    described = []
    for number, row in zip(numbers, rows, strict=False):
        text = " | ".join(c for c in row if c is not None and c.strip())
        if text:
            described.append(f"row {number} (above header): {text[:200]}")
    return described


def drop_blank_rows(table: pa.Table, columns: list[str]) -> pa.Table:
    """Rows with no value in any source column are layout, not data.

    Cheap on purpose (it runs on every batch of a multi-GB CSV): no string is copied or stripped,
    and nothing is filtered (which copies every column) when no row is blank. A cell holding only
    spaces counts as a value.
    """
    if not columns or table.num_rows == 0:
        return table
    # A column without nulls or empty strings proves no row is blank: one check instead of all.
    full = next((table.column(c) for c in columns if table.column(c).null_count == 0), None)
    if full is not None and not pc.any(pc.equal(pc.binary_length(full), 0)).as_py():
        return table
    mask = None
    for name in columns:
        has = pc.fill_null(pc.greater(pc.binary_length(table.column(name)), 0), False)
        mask = has if mask is None else pc.or_(mask, has)
    return table if pc.all(mask).as_py() else table.filter(mask)


def trim_footer(table: pa.Table, columns: list[str], dropped: list[str]) -> pa.Table:
    """Cut totals and notes rows off the end of a table, recording what was cut."""
    tail = table.slice(max(0, table.num_rows - 20))
    rows = tail.select([*columns, ROW]).to_pylist()
    cut = footer_length([[row[c] for c in columns] for row in rows], len(columns))
    if not cut:
        return table
    for row in rows[len(rows) - cut :]:
        text = " | ".join(str(row[c]) for c in columns if row[c] not in (None, ""))
        dropped.append(f"row {row[ROW]}: {text[:200]}")
    return table.slice(0, table.num_rows - cut)
