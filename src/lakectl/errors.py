"""One error tree: every error a user can fix carries a message, a hint and an exit code."""

from __future__ import annotations

from typing import ClassVar


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
