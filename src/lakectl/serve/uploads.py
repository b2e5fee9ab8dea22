"""Uploads: stream multipart parts to disk inside the landing zone, name them safely, sniff them.

Nothing the client sends is trusted as a path: the stored name is rebuilt from the client's name
(no folders, no control characters, no Windows reserved names, bounded length) and its extension
follows the bytes, not the name. Parts are written to ``landing_zone/.uploads/`` (a dot folder the
watcher never looks at, on the same filesystem, so the final move is a rename) while their size is
counted and their SHA-256 computed.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import unicodedata
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_multipart.multipart import MultipartParser, parse_options_header

STAGING = ".uploads"
MAX_NAME = 120  # characters of the stored stem; the landing zone's filesystem allows 255 bytes
MAX_FIELD = 1024  # bytes of a form field (cluster)
_WINDOWS_RESERVED = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(10)),
    *(f"lpt{i}" for i in range(10)),
}
_KIND_SUFFIXES = {
    "xlsx": (".xlsx", ".xlsm"),
    "xls": (".xls",),
    "ods": (".ods",),
    "csv": (".csv", ".tsv", ".txt"),
}
_ZIP, _OLE = b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class UploadError(Exception):
    """The request as a whole cannot be taken (413 too large, 400 malformed)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class Staged:
    """One received file part, on disk under the staging folder."""

    client_name: str
    path: Path
    size: int = 0
    sha256: str = ""
    digest: Any = field(default_factory=hashlib.sha256, repr=False)


def safe_stem(client_name: str) -> tuple[str, str]:
    """(stem, lower-case suffix) from an untrusted file name: only its last path component,
    printable characters, no leading dots, not a Windows device name, at most MAX_NAME long."""
    name = unicodedata.normalize("NFC", client_name.replace("\\", "/").split("/")[-1])
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")  # controls, NUL, format
    name = re.sub(r'[<>:"|?*]', "_", name).strip().strip(".").strip()
    stem, dot, suffix = name.rpartition(".")
    if not dot or not re.fullmatch(r"[A-Za-z0-9]{1,8}", suffix):
        stem, suffix = name, ""
    stem = re.sub(r"\s+", " ", stem).strip(" .") or "upload"
    if stem.split(".")[0].lower() in _WINDOWS_RESERVED:
        stem = "_" + stem
    if stem.startswith(("~", "-")):  # '~$x' reads as an Office lock file; '-x' as an option
        stem = "_" + stem
    return stem[:MAX_NAME].rstrip(" ."), ("." + suffix.lower() if suffix else "")


def sniff_kind(path: Path) -> str | None:
    """'xlsx', 'ods', 'xls' or 'csv' from the first bytes; None for other binary data."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    if head.startswith(_ZIP):
        return "ods" if head[30:38] == b"mimetype" and b"opendocument.spreadsheet" in head[:120] else "xlsx"
    if head.startswith(_OLE):
        return "xls"
    fewer, more = sorted((head[::2].count(0), head[1::2].count(0)))
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or (more > len(head) // 4 and fewer <= len(head) // 100):
        return "csv"  # UTF-16 text: a NUL in every other byte, on one side only
    if b"\x00" in head.rstrip(b"\x00") or not _looks_like_text(head):
        return None
    return "csv"


def _looks_like_text(head: bytes) -> bool:
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 13))
    return controls <= len(head) // 100


def stored_name(client_name: str, kind: str) -> str:
    stem, suffix = safe_stem(client_name)
    allowed = _KIND_SUFFIXES[kind]
    return stem + (suffix if suffix in allowed else allowed[0])


def place(source: Path, folder: Path) -> Path:
    """Move ``source`` into ``folder`` under its name, or ``name-2``, ``-3``… without ever
    replacing a file (a hard link fails if the name exists; then the staged copy goes away)."""
    folder.mkdir(parents=True, exist_ok=True)
    stem, suffix = source.stem, source.suffix
    for counter in range(1, 10_000):
        target = folder / (source.name if counter == 1 else f"{stem}-{counter}{suffix}")
        try:
            os.link(source, target)
        except FileExistsError:
            continue
        except OSError:  # no hard links here (some network filesystems): fall back to a checked rename
            if target.exists():
                continue
            os.replace(source, target)
            return target
        source.unlink()
        return target
    raise OSError(f"no free name for {source.name} in the landing zone")


def discard(staged: list[Staged]) -> None:
    for item in staged:
        shutil.rmtree(item.path.parent, ignore_errors=True)


async def receive(
    stream: AsyncIterator[bytes], content_type: str, staging: Path, limit: int
) -> tuple[dict[str, str], list[Staged]]:
    """Parse a multipart body as it streams in: form fields, and file parts named ``files`` written
    to ``staging/<id>/`` with their size and SHA-256. More than ``limit`` bytes: UploadError(413)."""
    kind, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise UploadError(400, "send multipart/form-data with one or more parts named 'files'")
    fields: dict[str, str] = {}
    files: list[Staged] = []
    part: dict[str, Any] = {}

    def on_part_begin() -> None:
        part.clear()
        part.update(headers={}, field=b"", value=b"", data=bytearray(), handle=None, target=None)

    def on_header_field(data: bytes, start: int, end: int) -> None:
        part["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        part["value"] += data[start:end]

    def on_header_end() -> None:
        part["headers"][part["field"].lower()] = part["value"]
        part["field"], part["value"] = b"", b""

    def on_headers_finished() -> None:
        _, disposition = parse_options_header(part["headers"].get(b"content-disposition", b""))
        name = disposition.get(b"name", b"").decode("utf-8", "replace")
        filename = disposition.get(b"filename")
        part["name"] = name
        if filename is not None and name == "files":
            folder = staging / f"{os.getpid()}-{uuid.uuid4().hex}"  # the pid: see Service.recover
            folder.mkdir(parents=True)
            target = Staged(filename.decode("utf-8", "replace"), folder / ".part")
            part["target"], part["handle"] = target, target.path.open("wb")
            files.append(target)

    def on_part_data(data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        target: Staged | None = part.get("target")
        if target is not None:
            part["handle"].write(chunk)
            target.digest.update(chunk)
            target.size += len(chunk)
        elif len(part["data"]) + len(chunk) <= MAX_FIELD:
            part["data"] += chunk

    def on_part_end() -> None:
        target: Staged | None = part.get("target")
        if target is not None:
            part["handle"].close()
            target.sha256 = target.digest.hexdigest()
        elif part.get("name"):
            fields[part["name"]] = part["data"].decode("utf-8", "replace")

    callbacks: Any = {
        "on_part_begin": on_part_begin,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished,
        "on_part_data": on_part_data,
        "on_part_end": on_part_end,
    }
    parser = MultipartParser(boundary, callbacks)
    total = 0
    try:
        async for chunk in stream:
            total += len(chunk)
            if total > limit:
                raise UploadError(413, f"the upload is larger than {limit >> 20} MiB (serve.max_upload_mb)")
            parser.write(chunk)
        parser.finalize()
    except UploadError:
        discard(files)
        raise
    except Exception as exc:  # the multipart parser's own errors: a malformed body
        discard(files)
        raise UploadError(400, f"malformed multipart body ({type(exc).__name__})") from None
    finally:
        if part.get("handle") is not None:
            part["handle"].close()
    return fields, files
