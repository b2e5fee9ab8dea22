"""One error tree: every error a user can fix carries a message, a hint and an exit code."""

from __future__ import annotations

import errno
import re
from pathlib import Path
from typing import ClassVar

# How native code says it ran out of memory or threads (Rust, glibc, jemalloc, C++, Arrow, Python): a
# shortage of ours, never a verdict on a file's bytes
RESOURCE_SIGNS = ("memory allocation of", "Cannot allocate memory", "cannot allocate memory", "Out of memory",
                  "out of memory", "std::bad_alloc", "Resource temporarily unavailable", "os error 11",
                  "os error 12", "thread creation failed", "failed to spawn thread", "Failed to launch worker",
                  "can't start new thread", "failed to map segment", "MemoryError")  # fmt: skip


def resource_shortage(text: str) -> bool:
    """Whether a native failure's text says it ran out of memory or threads."""
    return any(sign in text for sign in RESOURCE_SIGNS)


class LakectlError(Exception):
    """Something the user can fix: the CLI shows the message and the hint, no traceback."""

    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[type[LakectlError], tuple[str, str | None]]:
        # keep the hint when an error crosses a process boundary (the parser worker)
        return (type(self), (self.message, self.hint))


class ConfigError(LakectlError):
    """A bad setting, an unknown cluster, an unreadable lakectl.toml."""

    exit_code = 3


class SourceError(LakectlError):
    """A source file that cannot be read: corrupt, unsafe, empty, unsupported."""

    exit_code = 4


class SchemaContractError(LakectlError):
    """Data that breaks a schema or expectation contract."""

    exit_code = 5


class StorageError(LakectlError):
    """The lake cannot be read or written (disk full, permissions, commit conflicts that never clear)."""

    exit_code = 6


class TransientError(StorageError):
    """A failure worth retrying later: a commit conflict, a locked file, a full disk."""


class AlreadyRunning(LakectlError):
    """Another promotion holds the lock: this run does nothing (safe under cron)."""

    exit_code = 75  # EX_TEMPFAIL: try again later


_DENIED = (errno.EACCES, errno.EPERM, errno.EROFS)
# what an OS failure looks like once deltalake (Rust) has turned it into text
_DENIED_TEXT = ("Permission denied", "os error 13", "Read-only file system", "os error 30")
_FULL_TEXT = ("No space left", "os error 28")


def storage_error(exc: BaseException, lake: Path | None = None) -> StorageError | None:
    """An OS failure (permissions, a read-only or full disk) as the StorageError it is, naming the
    path and the fix; None when ``exc`` is not one."""
    text = one_line(str(exc))
    code = exc.errno if isinstance(exc, OSError) else None
    where = Path(exc.filename) if isinstance(exc, OSError) and exc.filename else None
    label = str(where) if where else (text or type(exc).__name__)
    if where is None and lake is not None:  # a write into an open file: name the folder at least
        label = f"{lake}: {label}"
    in_lake = lake is not None and where is not None and _inside(where, lake)
    if code == errno.ENOSPC or any(t in text for t in _FULL_TEXT):
        return TransientError(f"disk full: cannot write {label}", hint="free disk space and run again")
    if code in _DENIED or any(t in text for t in _DENIED_TEXT):
        if in_lake:
            fix = f"give the user running lakectl write access to the lake {lake} (chown -R, chmod -R u+w), "
            fix += "or set lake_root to a folder it can write"
        else:
            fix = f"give the user running lakectl write access to {where.parent if where else 'it'}, "
            fix += "or choose a path it can write"
        return StorageError(f"permission denied: cannot write {label}", hint=fix)
    if isinstance(exc, OSError):
        return StorageError(f"{exc.strerror}: {label}" if where and exc.strerror else label)
    return None


def one_line(text: str) -> str:
    """deltalake's nested, coloured error text ("x\n  ↳ y") as "x: y"."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    parts = [line.strip().lstrip("↳").strip() for line in text.splitlines()]
    return ": ".join(part for part in parts if part)


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())
