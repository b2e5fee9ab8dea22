"""Checks on a spreadsheet's bytes before any parser sees them.

calamine builds a dense grid over a sheet's used range, so one cell at XFD1048576 makes it try to
allocate 512 GiB and abort the whole process. We judge the used range from the cells actually
present (the <dimension> element lies in real files), refuse zip bombs, encrypted parts and DTDs,
and learn each sheet's first data row so that lineage can name real sheet rows.

Judging the used range means inflating every sheet (~0.5 s on 300,000 rows). In the capped child a
far cell can only kill the child, so there the cheap checks run alone (``full=False``: the zip, the
workbook's parts, DTDs, the first data row), the reader bounds the range calamine loaded, and the
full check runs when the child dies, to name the cause (runner.isolated).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import re
import struct
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from xml.etree import ElementTree

from lakectl.errors import SourceError

EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".ods", ".xlsb"}
TEXT_SUFFIXES = {".csv", ".tsv", ".txt"}
SUPPORTED_SUFFIXES = EXCEL_SUFFIXES | TEXT_SUFFIXES
_ZIP_MAGIC = b"PK\x03\x04"
# the fields of a zip local file header we compare with the central directory
_LOCAL = struct.Struct("<4x2xHH4x4xII4x")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# The BOF record (type, then a length of 4 or 6) that opens an Excel 2.x, 3.0 or 4.0 file, which has no
# OLE container
_BIFF_BOF = {b"\x09\x00", b"\x09\x02", b"\x09\x04"}
MAX_ZIP_ENTRIES = 10_000
CHUNK = 1 << 22
EXCEL_MAX_ROWS = 1_048_576
TEXT_HEAD_BYTES = 1 << 16  # what the shape of a text file is judged on
SEPARATORS = (",", ";", "\t", "|")

_DTD = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)
# Cell references are the only ' r="<letters><digits>"' attributes; literal prefixes keep these fast.
_FIRST_CELL = re.compile(rb' r="[A-Z]{1,3}([0-9]{1,7})"[^>]*(?<!/)>')
_COLS_3 = re.compile(rb' r="([A-Z]{3})[0-9]')
_COLS_2 = re.compile(rb' r="([A-Z]{2})[0-9]')
_COLS_WIDE = re.compile(rb' r="[A-Z]{2}')
_ROW_NUMBER = re.compile(rb'[^>]*? r="([0-9]+)"')
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


@dataclass(frozen=True)
class Limits:
    max_cells: int = 50_000_000
    max_uncompressed_bytes: int = 1 << 30
    max_ratio: int = 100


@dataclass
class SheetExtent:
    first_row: int | None = None  # 1-based row of the first cell holding a value
    max_row: int = 0
    max_col: int = 0

    @property
    def cells(self) -> int:
        return self.max_row * self.max_col


@dataclass
class WorkbookFacts:
    """What the preflight learnt: per sheet name, the extent and whether it is hidden."""

    extents: dict[str, SheetExtent] = field(default_factory=dict)
    hidden: dict[str, bool] = field(default_factory=dict)


def column_number(letters: bytes) -> int:
    number = 0
    for ch in letters:
        number = number * 26 + (ch - 64)
    return number


def check_zip(path: Path, limits: Limits) -> zipfile.ZipFile:
    """Open a zip container after checking entry count, encryption and expansion."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise SourceError(
            f"{path.name}: not a valid xlsx/ods file (broken zip container: {exc})",
            hint="re-export the file from the platform or open and re-save it in Excel/LibreOffice",
        ) from None
    entries = archive.infolist()
    if len(entries) > MAX_ZIP_ENTRIES:
        raise SourceError(
            f"{path.name}: the zip container holds {len(entries)} entries (limit {MAX_ZIP_ENTRIES})"
        )
    _check_local_headers(path, entries)
    total = 0
    for info in entries:
        if info.flag_bits & 0x1:
            raise encrypted(path)
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 1 << 20 and ratio > limits.max_ratio:
            raise SourceError(
                f"{path.name}: part {info.filename} expands {ratio:.0f}:1 (limit {limits.max_ratio}:1), "
                "which looks like a zip bomb",
                hint="if the file is genuine, raise reader.max_compression_ratio",
            )
    if total > limits.max_uncompressed_bytes:
        raise SourceError(
            f"{path.name}: the workbook expands to {total / 2**20:.0f} MiB "
            f"(limit {limits.max_uncompressed_bytes / 2**20:.0f} MiB)",
            hint="split the export, or raise reader.max_uncompressed_mb",
        )
    return archive


def encrypted(path: Path) -> SourceError:
    return SourceError(
        f"{path.name}: the workbook is encrypted or password-protected",
        hint="remove the password in Excel (File > Info > Protect Workbook) and export again",
    )


def _check_local_headers(path: Path, entries: list[zipfile.ZipInfo]) -> None:
    """Each entry's local header must agree with the central directory. Python reads the directory,
    calamine's zip reader the local headers: a zip whose local headers lie about sizes passes one and
    makes the other inflate gigabytes."""
    with path.open("rb") as handle:
        for info in entries:
            handle.seek(info.header_offset)
            header = handle.read(_LOCAL.size)
            if len(header) < _LOCAL.size or not header.startswith(_ZIP_MAGIC):
                raise _lying(path, info, "has no local header where the directory points")
            flags, method, compressed, size = _LOCAL.unpack(header)
            if method != info.compress_type:
                raise _lying(
                    path, info, f"says compression method {method}, the directory {info.compress_type}"
                )
            sizes_known = not flags & 0x08 and 0xFFFFFFFF not in (compressed, size)  # not streamed, not zip64
            if sizes_known and (compressed, size) != (info.compress_size, info.file_size):
                raise _lying(path, info, f"says {size:,} bytes ({compressed:,} compressed), the directory "
                             f"{info.file_size:,} ({info.compress_size:,})")  # fmt: skip


_RESAVE = "export the file again, or open and re-save it in Excel/LibreOffice"


def _lying(path: Path, info: zipfile.ZipInfo, detail: str) -> SourceError:
    return SourceError(
        f"{path.name}: the local header of part {info.filename} {detail}: a malformed or hostile zip",
        hint=_RESAVE,
    )


def _read_small_xml(archive: zipfile.ZipFile, name: str, path: Path) -> bytes:
    data = archive.read(name)
    if _DTD.search(data):
        raise dtd_refused(path, name)
    return data


def dtd_refused(path: Path, part: str) -> SourceError:
    """No entity is ever expanded (no XXE, no billion laughs): a DTD refuses the whole file."""
    return SourceError(
        f"{path.name}: {part} declares a DTD, which spreadsheets never need (refused for safety)",
        hint="export the file again from the platform; spreadsheet programs never write a DTD",
    )


def _sheet_parts(archive: zipfile.ZipFile, path: Path) -> list[tuple[str, str, bool]]:
    """(sheet name, part name, hidden) from workbook.xml and its relationships."""
    names = set(archive.namelist())
    if "xl/workbook.xml" not in names:
        if path.suffix.lower() in TEXT_SUFFIXES:
            raise SourceError(
                f"{path.name} looks like a zip archive, not delimited text (nor a workbook: no xl/workbook.xml)",
                hint="unzip it and ingest the export inside, or export the sheet again as CSV or xlsx",
            )
        raise SourceError(f"{path.name}: not an Excel workbook (no xl/workbook.xml in the zip)")
    try:
        workbook = ElementTree.fromstring(_read_small_xml(archive, "xl/workbook.xml", path))
        rels_data = b"<Relationships/>"
        if "xl/_rels/workbook.xml.rels" in names:
            rels_data = _read_small_xml(archive, "xl/_rels/workbook.xml.rels", path)
        rels = ElementTree.fromstring(rels_data)
    except ElementTree.ParseError as exc:
        raise SourceError(f"{path.name}: the workbook's XML is broken ({exc})", hint=_RESAVE) from None
    targets = {rel.get("Id"): rel.get("Target", "") for rel in rels}
    parts = []
    for sheet in workbook.iter():
        if _local(sheet.tag) != "sheet":  # with any namespace (transitional, strict) or none
            continue
        rel_id = next((v for k, v in sheet.attrib.items() if k.startswith("{") and _local(k) == "id"), "")
        target = targets.get(rel_id, "")
        part = target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)
        hidden = sheet.get("state", "visible") != "visible"
        parts.append((sheet.get("name", ""), part, hidden))
    return parts


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


def scan_sheet(archive: zipfile.ZipFile, part: str, path: Path, full: bool = True) -> SheetExtent:
    """Stream one sheet's XML (never fully in memory) and bound its used range from real cells.

    Not ``full``: only the DTD check and the first data row, which the first chunk nearly always holds.
    """
    extent = SheetExtent()
    max_col_letters = b""
    tail = b""
    row_tag = b"<row"
    with archive.open(part) as stream:
        first_chunk = True
        while chunk := stream.read(CHUNK):
            buffer = tail + chunk
            cut = buffer.rfind(b"<")
            body, tail = (buffer[:cut], buffer[cut:]) if cut > 0 else (buffer, b"")
            if first_chunk:
                if _DTD.search(body):
                    raise dtd_refused(path, part)
                if prefixed := re.search(rb"<(\w+:)sheetData", body):
                    row_tag = b"<" + prefixed.group(1) + b"row"
                first_chunk = False
            if extent.first_row is None and (found := _FIRST_CELL.search(body)):
                extent.first_row = int(found.group(1))
            if not full:
                if extent.first_row is not None:
                    return extent
                continue
            # Rows: the last row tag of each chunk, plus any row with more digits than the running max
            # (catches a far row hidden among small ones without matching every row tag).
            digits = len(str(extent.max_row)) + 1
            if re.search(rb' r="[0-9]{%d,}"' % digits, body):
                longer = re.compile(re.escape(row_tag) + rb'\b[^>]*? r="([0-9]{%d,})"' % digits)
                for match in longer.finditer(body):
                    extent.max_row = max(extent.max_row, int(match.group(1)))
            last = body.rfind(row_tag + b" ")
            if last >= 0 and (found := _ROW_NUMBER.match(body, last + len(row_tag))):
                extent.max_row = max(extent.max_row, int(found.group(1)))
            # Columns: a sheet of at most 26 columns has no two-letter reference at all.
            if _COLS_WIDE.search(body):
                for pattern in (_COLS_3, _COLS_2):
                    if pattern.search(body):
                        letters = max(set(pattern.findall(body)), key=lambda c: (len(c), c))
                        if (len(letters), letters) > (len(max_col_letters), max_col_letters):
                            max_col_letters = letters
                        break
    extent.max_col = column_number(max_col_letters) if max_col_letters else 26
    if extent.max_row == 0 and extent.first_row is not None:
        extent.max_row = extent.first_row
    return extent


def preflight_xlsx(path: Path, limits: Limits, full: bool = True) -> WorkbookFacts:
    """Refuse unsafe workbooks; return each sheet's extent and visibility (not ``full``: the
    first data rows only, the used ranges are left to ``bounded``)."""
    facts = WorkbookFacts()
    with check_zip(path, limits) as archive:
        parts = _sheet_parts(archive, path)
        for name, part, hidden in parts:
            facts.hidden[name] = hidden
            if part not in archive.namelist():
                continue  # chart sheets and broken links: the reader reports them
            extent = scan_sheet(archive, part, path, full)
            if full:
                bounded(path, name, extent, limits)
            facts.extents[name] = extent
        if not full:
            return facts
        # A worksheet the workbook does not list (or lists in a way we misread) is still a part a
        # reader may load: bound its range too.
        listed = {part for _, part, _ in parts}
        for part in archive.namelist():
            if part.startswith("xl/worksheets/") and part.endswith(".xml") and part not in listed:
                bounded(path, name=part, extent=scan_sheet(archive, part, path), limits=limits)
            elif part not in listed and part.endswith((".xml", ".rels")):
                _refuse_dtd(archive, part, path)  # shared strings, styles...: a reader loads them too
    return facts


def _refuse_dtd(archive: zipfile.ZipFile, part: str, path: Path) -> None:
    """Stream a part and refuse it if it declares a DTD anywhere (its size is bounded by check_zip).
    Well-formed XML can only hold a literal '<!DOCTYPE' in its prolog (text escapes the '<')."""
    tail = b""
    with archive.open(part) as stream:
        while chunk := stream.read(CHUNK):
            if _DTD.search(tail + chunk):
                raise dtd_refused(path, part)
            tail = chunk[-16:]


def bounded(path: Path, name: str, extent: SheetExtent, limits: Limits) -> None:
    """A sheet whose used range is beyond Excel's rows or ``limits.max_cells`` is refused."""
    if extent.max_row > EXCEL_MAX_ROWS or extent.cells > limits.max_cells:
        raise SourceError(
            f"{path.name}: sheet {name!r} spans {extent.max_row:,} rows x {extent.max_col:,} columns "
            f"({extent.cells:,} cells, limit {limits.max_cells:,}); a stray far-away cell makes "
            "readers allocate the whole grid",
            hint="delete the stray cells far outside the table (Ctrl+End shows them) and save again, "
            "or raise reader.max_cells",
        )


def preflight_ods(path: Path, limits: Limits) -> None:
    with check_zip(path, limits) as archive:
        if "content.xml" not in archive.namelist():
            raise SourceError(f"{path.name}: not an OpenDocument spreadsheet (no content.xml)")
        with archive.open("content.xml") as stream:
            if _DTD.search(stream.read(1 << 16)):
                raise dtd_refused(path, "content.xml")


def sniff_format(path: Path) -> str:
    """'xlsx', 'xls', 'ods' or 'csv', from the bytes first and the name second."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise SourceError(
            f"{path.name}: unsupported file type {suffix or '(no extension)'!r}",
            hint="lakectl reads .xlsx, .xlsm, .xls, .ods, .csv, .tsv and .txt exports",
        )
    with path.open("rb") as handle:
        head = handle.read(4096)
    magic = head[:8]
    if not magic:
        raise SourceError(
            f"{path.name}: the file is empty (0 bytes)", hint="export it again from the platform"
        )
    if magic.startswith(_ZIP_MAGIC):
        return "ods" if suffix == ".ods" else "xlsx"
    if magic == _OLE_MAGIC:
        return "xls"
    if suffix in EXCEL_SUFFIXES and magic[:2] in _BIFF_BOF and magic[2:4] in (b"\x04\x00", b"\x06\x00"):
        # a bare BOF record; its type byte 0x09 is a tab, so the tab rule below would read it as text
        raise SourceError(
            f"{path.name}: an Excel 2.x-4.0 worksheet (BIFF2-4, before 1993), a format no reader here opens",
            hint="open it in Excel or LibreOffice and save it as .xlsx",
        )
    if suffix in EXCEL_SUFFIXES:
        if suffix == ".xls" and magic.lstrip().startswith((b"<", b"\xef\xbb\xbf<")):
            raise SourceError(
                f"{path.name}: this .xls is really an HTML/XML page, not an Excel file",
                hint="open it in Excel or LibreOffice and save it as .xlsx, or export as CSV",
            )
        if suffix == ".xls" and b"\t" in head:
            return "csv"  # tab-separated text saved as .xls by some platforms
        raise SourceError(
            f"{path.name}: not a valid {suffix} file (it is neither a zip nor an OLE container)",
            hint="the file may be truncated or mis-named; export it again",
        )
    return "csv"


# What check_file learnt: the file's kind ('xlsx', 'xls', 'ods', 'csv') and, for xlsx, its sheets.
Checked = tuple[str, WorkbookFacts | None]


def check_file(path: Path, limits: Limits, full: bool = True) -> Checked:
    """Everything that can be judged from the bytes before a parser runs (not ``full``: all but the
    used ranges of xlsx sheets). Stdlib only."""
    kind = sniff_format(path)
    if kind == "xlsx":
        return kind, preflight_xlsx(path, limits, full)
    if kind == "ods":
        preflight_ods(path, limits)
    if kind == "csv":
        check_text(path)
    return kind, None


# ------------------------------------------------------------------ is it delimited text at all?
# A PDF, an image or a prose note saved as .csv would otherwise be "ingested" as garbage columns or as
# zero rows. The verdict comes from the shape of the first 64 KiB, never from the name.

# Formats known by their first bytes. A zip or OLE file is a workbook candidate and is judged as one.
SIGNATURES = (
    (b"%PDF", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"{\\rtf", "an RTF document"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x7fELF", "a program (ELF executable)"),
)
# Markup and JSON are text, but not a table of values.
_MARKUP = (
    (re.compile(r"<!doctype html|<html|<head>|<body", re.IGNORECASE), "a web page (HTML)"),
    (re.compile(r"<\?xml"), "an XML document (an Excel 2003 XML spreadsheet, perhaps)"),
    (re.compile(r"[{\[]\s*[\"{\[]"), "a JSON document"),
)
_WHITESPACE_CONTROLS = frozenset("\t\n\r\f\v\x1a")  # \x1a: the DOS end-of-file mark
_WORD = re.compile(r"[^\W\d_]+")  # a run of letters: numbers, dates and codes are no words
# a word ends a sentence ("Cód." and "Vlr." are abbreviations, not ends), or a clause goes on
_SENTENCE = re.compile(r"[a-zß-öø-ÿ]{3,}[.!?\u2026](?:\s|$)|\w,\s")
SHAPE_RECORDS = 200


def check_text(path: Path) -> None:
    """Refuse a file named as text whose bytes are not delimited text, saying what they look like."""
    with path.open("rb") as handle:
        head = handle.read(TEXT_HEAD_BYTES)
    problem = text_problem(head, complete=len(head) < TEXT_HEAD_BYTES)
    if problem is not None:
        raise SourceError(
            f"{path.name} looks like {problem}, not delimited text",
            hint="export the sheet from the platform as CSV (comma, semicolon, tab or pipe separated) "
            "or as xlsx, and ingest that file",
        )


def utf16_encoding(head: bytes) -> str | None:
    """'utf-16' (with a BOM), 'utf-16-le' or 'utf-16-be' (a NUL in every other byte, on one side
    only), or None."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if len(head) >= 4:
        odd, even = head[1::2].count(0), head[0::2].count(0)
        if odd > 0.4 * len(head[1::2]) and even < 0.1 * len(head):
            return "utf-16-le"
        if even > 0.4 * len(head[0::2]) and odd < 0.1 * len(head):
            return "utf-16-be"
    return None


def _decode(head: bytes, complete: bool) -> tuple[str, int]:
    """The head as text, and how many of its characters no text encoding explains."""
    encoding = utf16_encoding(head)
    if encoding is not None:
        text = head[: len(head) // 2 * 2].decode(encoding, errors="replace")
    else:
        try:
            text = codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=complete)
        except UnicodeDecodeError:
            text = head.decode("cp1252", errors="replace")  # its five undefined bytes become U+FFFD
    text = text.rstrip("\x00")  # NUL padding after the data is repaired by the reader
    odd = sum(
        1
        for ch in text
        if (ch < " " and ch not in _WHITESPACE_CONTROLS and ch != "\x00")
        or "\x80" <= ch <= "\x9f"
        or ch == "\ufffd"
    )
    return text, odd + max(0, text.count("\x00") - len(text) // 10)  # a few NULs are repaired too


def text_problem(head: bytes, complete: bool = True) -> str | None:
    """What the first bytes of a file named as text look like when they are not delimited text — a
    known binary format, binary data, markup, running prose, or lines no separator splits alike —
    or None when they can be a table (one column of values is a table too). Pure.

    ``complete``: ``head`` is the whole file (else its last, maybe cut, line is not judged)."""
    for magic, what in SIGNATURES:
        if head.startswith(magic):
            return what
    text, odd = _decode(head, complete)
    if odd >= 3 and odd > len(text) / 100:
        return f"binary data ({odd:,} control bytes in its first {len(head):,} bytes)"
    if not complete and "\n" in text:
        text = text[: text.rfind("\n")]
    start = text.lstrip("\ufeff \t\r\n")[:200]
    for pattern, what in _MARKUP:
        if pattern.match(start):
            return what
    lines = [line for line in text.splitlines() if line.strip()][:SHAPE_RECORDS]
    if not lines:
        return None  # blank: the reader says "no data"
    sentences = sum(1 for line in lines if len(_WORD.findall(line)) >= 6 and _SENTENCE.search(line))
    prose = sentences > len(lines) / 2
    shape = _best_split(text)
    if shape.table(prose):
        return None
    if prose:
        return f"running text ({sentences} of {len(lines)} lines are sentences)"
    if shape.records >= 3 and shape.split >= shape.records / 2:
        widths = ", ".join(str(w) for w in shape.widths[:6])
        return (
            f"text with no consistent separator (no one of , ; tab | splits its lines into the same "
            f"number of fields: {widths}…)"
        )
    return None


@dataclass(frozen=True)
class _Split:
    """How one separator splits the first records of a text."""

    widths: list[int]  # fields per non-blank record
    width: int  # the commonest width above 1 (0: the separator splits nothing)
    agree: int  # records of that width
    split: int  # records of more than one field
    short_column: bool  # some field position mostly holds values (at most 3 words), not phrases
    header_like: bool  # the first record of that width is short labels, not a sentence

    @property
    def records(self) -> int:
        return len(self.widths)

    def table(self, prose: bool) -> bool:
        if self.width < 2:
            return False
        consistent = self.agree >= min(2, self.records) and self.agree >= self.records / 2
        if consistent and (not prose or self.short_column or self.header_like):
            return True
        return self.split >= 0.8 * self.records and self.short_column and not prose  # ragged, yet columns


def _best_split(text: str) -> _Split:
    splits = [_split(text, sep) for sep in SEPARATORS]
    return max(splits, key=lambda s: (s.agree, s.width))


def _split(text: str, sep: str) -> _Split:
    records: list[list[str]] = []
    with contextlib.suppress(csv.Error):
        for record in csv.reader(io.StringIO(text), delimiter=sep):
            if any(field.strip() for field in record):
                records.append(record)
                if len(records) >= SHAPE_RECORDS:
                    break
    widths = [len(r) for r in records]
    above_one = Counter(w for w in widths if w > 1)
    width, agree = above_one.most_common(1)[0] if above_one else (0, 0)
    multi = [r for r in records if len(r) > 1]
    short_column = False
    for position in range(max(widths, default=0)):
        cells = [r[position] for r in multi if len(r) > position]
        if len(cells) >= 2 and len(cells) >= len(multi) / 2:
            short = sum(1 for cell in cells if len(_WORD.findall(cell)) <= 3)
            short_column = short_column or short >= 0.6 * len(cells)
    first = next((r for r in records if len(r) == width), [])
    header_like = (
        bool(first)
        and all(len(_WORD.findall(cell)) <= 6 for cell in first)
        and not _SENTENCE.search(sep.join(first))
    )
    return _Split(widths, width, agree, len(multi), short_column, header_like)
