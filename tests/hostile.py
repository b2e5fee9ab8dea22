"""Broken and hostile inputs built on the fly, and a look at the process table.

Nothing here is a mock: each helper writes real bytes a real parser has to face.
"""

from __future__ import annotations

import os
import re
import struct
import time
import zipfile
from pathlib import Path

SHEET = "xl/worksheets/sheet1.xml"


def write_xlsx(
    path: Path, rows: int = 20, columns: int = 3, sparse: bool = False, shared_strings: bool = False
) -> Path:
    """A real workbook: a header row and ``rows`` rows (``sparse``: only every 50th row fills column C).
    Its strings are inline, or in xl/sharedStrings.xml with ``shared_strings`` (as Excel writes them)."""
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"constant_memory": not shared_strings})
    sheet = book.add_worksheet("vendas")
    sheet.write_row(0, 0, ["id", "valor", "nota"][:columns] + [f"extra {i}" for i in range(columns - 3)])
    for row in range(1, rows + 1):
        sheet.write_string(row, 0, f"T{row:07d}")
        sheet.write_number(row, 1, row * 1.5)
        if columns > 2 and (not sparse or row % 50 == 0):
            sheet.write_string(row, 2, f"n{row}")
    book.close()
    return path


def corrupt_zip_entry(path: Path, how: str, entry: str = SHEET) -> Path:
    """Damage one entry of a zip in place: ``crc`` (wrong CRC-32), ``flip`` (16 flipped bytes in the
    compressed data) or ``method9`` (compression method 9, deflate64, which zipfile cannot read)."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(entry)
    local = info.header_offset
    name_len, extra_len = struct.unpack_from("<HH", data, local + 26)
    start = local + 30 + name_len + extra_len
    central = data.find(b"PK\x01\x02")
    while central >= 0 and data[central + 46 : central + 46 + len(entry)] != entry.encode():
        central = data.find(b"PK\x01\x02", central + 4)
    assert central >= 0, "central directory entry not found"
    if how == "crc":
        for offset in (local + 14, central + 16):
            (crc,) = struct.unpack_from("<I", data, offset)
            struct.pack_into("<I", data, offset, crc ^ 0xDEADBEEF)
    elif how == "flip":
        middle = start + info.compress_size // 2
        for i in range(16):
            data[middle + i] ^= 0xFF
    elif how == "method9":
        struct.pack_into("<H", data, local + 8, 9)
        struct.pack_into("<H", data, central + 10, 9)
    else:
        raise ValueError(how)
    path.write_bytes(bytes(data))
    return path


def processes_with(marker: str) -> list[int]:
    """Pids of live processes whose environment holds ``marker`` (tests tag the processes they start,
    so processes of anything else running on the machine never count)."""
    found = []
    needle = marker.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                environ = handle.read()
            with open(f"/proc/{entry}/stat", "rb") as handle:
                state = handle.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in environ and state != b"Z":
            found.append(int(entry))
    return found


def left_alive(marker: str, patience_s: float = 15.0) -> list[int]:
    """Processes tagged ``marker`` still alive once ``patience_s`` passed (a SIGKILL takes a moment
    to finish on a loaded machine; a true orphan stays)."""
    deadline = time.monotonic() + patience_s
    while (alive := processes_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


def wait_until(condition, timeout: float, what: str, service) -> None:  # type: ignore[no-untyped-def]
    """Wait for ``condition()``; fail at once if the ``service`` process exits meanwhile."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert service.poll() is None, f"the watcher exited ({service.returncode}) waiting for {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def rewrite_entry(path: Path, entry: str, change) -> Path:  # type: ignore[no-untyped-def]
    """Rewrite one entry of a zip through ``change(bytes) -> bytes``; the zip stays well-formed."""
    with zipfile.ZipFile(path) as source:
        items = [(info, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info, data in items:
            target.writestr(info, change(data) if info.filename == entry else data)
    return path


def lie_about_size(path: Path, entry: str = SHEET, size: int = 0x7FFF0000) -> Path:
    """Make one entry's local header claim ``size`` uncompressed bytes (the directory stays true)."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        offset = archive.getinfo(entry).header_offset
    struct.pack_into("<I", data, offset + 22, size)
    path.write_bytes(bytes(data))
    return path


# ------------------------------------------------------------------ hostile workbooks and texts

XML_HEAD = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def with_doctype(xml: bytes, doctype: bytes) -> bytes:
    """``xml`` with ``doctype`` right after its XML declaration."""
    body = xml.split(b"?>", 1)[1] if xml.startswith(b"<?xml") else xml
    return XML_HEAD + doctype + body.lstrip()


def write_xxe_xlsx(path: Path, secret: Path, part: str = "xl/sharedStrings.xml") -> Path:
    """A workbook whose ``part`` declares an external entity naming ``secret`` and uses it in a cell:
    a parser that expanded it would copy the secret into the table."""
    write_xlsx(path, rows=3, shared_strings=True)
    doctype = f'<!DOCTYPE x [<!ENTITY e SYSTEM "file://{secret}">]>'.encode()
    return rewrite_entry(path, part, lambda xml: with_doctype(xml, doctype).replace(b">n1<", b">&e;<"))


def write_billion_laughs_xlsx(path: Path) -> Path:
    """Ten nested entities of ten: a gigabyte of 'lol' once expanded, in the shared strings."""
    write_xlsx(path, rows=3, shared_strings=True)
    entities = b'<!ENTITY l0 "lol">' + b"".join(
        b'<!ENTITY l%d "%s">' % (i, b"".join(b"&l%d;" % (i - 1) for _ in range(10))) for i in range(1, 10)
    )
    doctype = b"<!DOCTYPE x [" + entities + b"]>"
    return rewrite_entry(
        path, "xl/sharedStrings.xml", lambda xml: with_doctype(xml, doctype).replace(b">n1<", b">&l9;<")
    )


def write_zip_bomb_xlsx(path: Path, megabytes: int = 64) -> Path:
    """A small valid workbook whose sheet XML inflates to ``megabytes`` (blank padding compresses ~1000:1)."""
    write_xlsx(path, rows=3)
    padding = b" " * (megabytes << 20)
    return rewrite_entry(path, SHEET, lambda xml: xml.replace(b"</worksheet>", padding + b"</worksheet>"))


def write_encrypted_xlsx(path: Path, password: str = "senha") -> Path:
    """A real password-protected workbook, as Excel writes one (an OLE container around the package)."""
    import io

    from msoffcrypto.format.ooxml import OOXMLFile

    plain = write_xlsx(path.with_name(path.name + ".plain"), rows=3)
    with plain.open("rb") as source:
        out = io.BytesIO()
        OOXMLFile(source).encrypt(password, out)
    plain.unlink()
    path.write_bytes(out.getvalue())
    return path


def write_biff4_xls(path: Path) -> Path:
    """An Excel 4.0 worksheet (BIFF4): bare records, no OLE container (what Excel 5 and later write)."""

    def record(kind: int, body: bytes) -> bytes:
        return struct.pack("<HH", kind, len(body)) + body

    cells = b"".join(record(0x0203, struct.pack("<HHHd", row, 0, 0, row * 1.5)) for row in range(3))
    data = record(0x0409, struct.pack("<HHH", 0, 0x0010, 0)) + cells + record(0x000A, b"")
    path.write_bytes(data)
    return path


def rename_sheet(path: Path, name: str) -> Path:
    """Give the first sheet ``name`` (XML-escaped, so any text an attribute can hold)."""
    from xml.sax.saxutils import quoteattr

    return rewrite_entry(path, "xl/workbook.xml",
                         lambda xml: re.sub(rb'name="vendas"', b"name=" + quoteattr(name).encode(), xml, count=1))  # fmt: skip


PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>"
    b"endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def random_bytes(size: int = 64 << 10, seed: int = 15) -> bytes:
    import random

    return random.Random(seed).randbytes(size)
