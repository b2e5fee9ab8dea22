"""The lake's local working folder: where lakectl keeps its state, and each process's temp folder.

No engine on purpose (no deltalake, polars or pyarrow): a one-shot ingest makes its temp folder and
starts its parser process before it imports the writer's engines, so the two start-ups overlap
(service/runner.py).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from lakectl.errors import StorageError, storage_error

if TYPE_CHECKING:
    from lakectl.config import Settings


def printable(text: str) -> str:
    """Text safe to print and store: bytes of a file name that are not UTF-8 (which Python keeps as
    lone surrogates) become U+FFFD."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


def state_dir(settings: Settings) -> Path:
    """Where lakectl keeps its local working files: the lake's ``_lakectl`` folder, or, for a lake
    in object storage, a hidden folder of the landing zone (discovery never looks inside it)."""
    root = str(settings.lake_root).rstrip("/") or "/"  # Lake.is_local and local_root, without deltalake
    if "://" in root and not root.startswith("file://"):
        return settings.landing_zone / ".lakectl"
    return Path(root.removeprefix("file://")) / "_lakectl"


def temp_root(settings: Settings) -> Path:
    return state_dir(settings) / "tmp"


@contextlib.contextmanager
def workspace(settings: Settings) -> Iterator[Path]:
    """This process's own temp folder under the lake (spools, re-encoded copies), removed at the end.

    Folders left by processes that died (kill -9) are swept first. A lake that cannot be written is
    a StorageError naming the path, before any file is read.
    """
    root = temp_root(settings)
    sweep_temp(settings)
    own = root / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        own.mkdir(parents=True)
    except OSError as exc:
        raise not_writable(settings, exc) from None
    try:
        yield own
    finally:
        shutil.rmtree(own, ignore_errors=True)


def sweep_temp(settings: Settings) -> int:
    """Remove the temp folders of lakectl processes that are no longer running."""
    root = temp_root(settings)
    swept = 0
    with contextlib.suppress(OSError):
        for folder in root.iterdir():
            pid = folder.name.split("-", 1)[0]
            if pid.isdigit() and not is_running(int(pid)):
                shutil.rmtree(folder, ignore_errors=True)
                swept += 1
    return swept


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def not_writable(settings: Settings, exc: OSError) -> StorageError:
    """The lake's folders cannot be written: a storage error naming the path and the fix."""
    known = storage_error(exc, state_dir(settings).parent)  # the lake folder (or the landing zone)
    assert known is not None  # every OSError is one
    return known
