"""The one home of deltalake: append exactly once, read, history, locking.

delta-rs records app transactions but does not enforce them (tech-notes D6): callers check
``transaction_version`` before writing and again after a commit conflict, which ``append_once`` does.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, Transaction, WriterProperties, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

from lakectl.errors import StorageError, TransientError
from lakectl.faults import fault

log = logging.getLogger(__name__)

COMMIT_ATTEMPTS = 8
# zstd level 1 writes as fast as the default snappy and makes text-heavy bronze files ~40% smaller
WRITER = WriterProperties(compression="ZSTD", compression_level=1)


def table_exists(path: Path) -> bool:
    return DeltaTable.is_deltatable(str(path))


def open_table(path: Path) -> DeltaTable | None:
    try:
        return DeltaTable(str(path))
    except TableNotFoundError:
        return None


def file_app_id(sha256: str) -> str:
    """The app transaction id that marks a source file as written into a table."""
    return f"lakectl:file:{sha256}"


def committed_version(table: DeltaTable | None, app_id: str) -> int | None:
    return None if table is None else table.transaction_version(app_id)


def table_columns(path: Path) -> list[str]:
    table = open_table(path)
    return [] if table is None else [field.name for field in table.schema().fields]


def _storage_error(exc: BaseException, path: Path) -> StorageError:
    text = str(exc)
    if (
        (isinstance(exc, OSError) and exc.errno == errno.ENOSPC)
        or "No space left" in text
        or "os error 28" in text
    ):
        return TransientError(
            f"disk full while writing {path}", hint="free disk space; the file stays pending and is retried"
        )
    if isinstance(exc, PermissionError) or "Permission denied" in text or "os error 13" in text:
        return StorageError(f"permission denied writing {path}", hint="check the owner of the lake folder")
    return StorageError(f"cannot write {path}: {text.splitlines()[0] if text else type(exc).__name__}")


def append_once(
    path: Path,
    data: pa.RecordBatchReader | pa.Table,
    app_ids: list[str],
    metadata: dict[str, str],
    txn_version: int = 1,
) -> int | None:
    """Append ``data`` with the given app transactions in one atomic commit.

    Returns the new table version, or None when every app id was already committed at
    ``txn_version`` or later (by us earlier, or by a concurrent writer that won the race). ``data``
    is consumed at most once: a reader cannot be replayed, so a conflict after the data was written
    is retried only for tables.
    """

    def done(table: DeltaTable | None) -> bool:
        return bool(app_ids) and all((committed_version(table, app) or 0) >= txn_version for app in app_ids)

    for attempt in range(COMMIT_ATTEMPTS):
        table = open_table(path)
        if done(table):
            return None
        try:
            write_deltalake(
                str(path),
                data,
                mode="append",
                schema_mode="merge",
                writer_properties=WRITER,
                commit_properties=CommitProperties(
                    app_transactions=[Transaction(app_id=app, version=txn_version) for app in app_ids],
                    custom_metadata=metadata,
                    max_commit_retries=15,
                ),
            )
        except CommitFailedError as exc:
            log.info("commit conflict on %s (attempt %d): %s", path, attempt + 1, exc)
            if isinstance(data, pa.RecordBatchReader):
                if done(open_table(path)):
                    return None
                raise TransientError(
                    f"commit conflict on {path}", hint="retry; another writer was busy"
                ) from None
            time.sleep(min(0.05 * 2**attempt, 2.0))
            continue
        except (DeltaError, OSError) as exc:
            raise _storage_error(exc, path) from None
        except Exception as exc:  # deltalake raises plain Exception for cast errors (tech-notes D1)
            if "No space left" in str(exc) or "Permission denied" in str(exc):
                raise _storage_error(exc, path) from None
            raise
        table = open_table(path)
        assert table is not None
        return table.version()
    raise TransientError(
        f"gave up committing to {path} after {COMMIT_ATTEMPTS} conflicts", hint="retry later"
    )


def overwrite(
    path: Path, data: pa.Table, metadata: dict[str, str], target_file_size: int | None = None
) -> int:
    """Replace a table's contents (and schema) in one commit."""
    try:
        write_deltalake(str(path), data, mode="overwrite", schema_mode="overwrite", writer_properties=WRITER,
                        target_file_size=target_file_size,
                        commit_properties=CommitProperties(custom_metadata=metadata))  # fmt: skip
    except (DeltaError, OSError) as exc:
        raise _storage_error(exc, path) from None
    table = open_table(path)
    assert table is not None
    return table.version()


def upsert(
    path: Path,
    source: pa.Table,
    predicate: str,
    clauses: list[tuple[str, str | dict[str, str] | None, str]],
    metadata: dict[str, str],
) -> dict[str, Any]:
    """MERGE ``source`` into ``path`` (alias s and t) in one commit, retried on conflicts.

    ``clauses``: (kind, updates, predicate) with kind ``update`` (updates: column -> SQL),
    ``update_all`` or ``insert_all``. Returns the merge metrics (+ ``version``).
    """
    for attempt in range(COMMIT_ATTEMPTS):
        table = open_table(path)
        assert table is not None
        merger = table.merge(source, predicate=predicate, source_alias="s", target_alias="t",
                             commit_properties=CommitProperties(custom_metadata=metadata))  # fmt: skip
        for kind, updates, condition in clauses:
            if kind == "update":
                assert isinstance(updates, dict)
                merger = merger.when_matched_update(updates=updates, predicate=condition)
            elif kind == "update_all":
                merger = merger.when_matched_update_all(predicate=condition)
            else:
                merger = merger.when_not_matched_insert_all(predicate=condition)
        try:
            metrics = merger.execute()
        except CommitFailedError as exc:  # merges conflict with concurrent writers (tech-notes §4)
            log.info("merge conflict on %s (attempt %d): %s", path, attempt + 1, exc)
            time.sleep(min(0.05 * 2**attempt, 2.0))
            continue
        except (DeltaError, OSError) as exc:
            raise _storage_error(exc, path) from None
        refreshed = open_table(path)
        assert refreshed is not None
        return {**metrics, "version": refreshed.version()}
    raise TransientError(f"gave up merging into {path} after {COMMIT_ATTEMPTS} conflicts", hint="retry later")


def delete_where(path: Path, predicate: str) -> None:
    table = open_table(path)
    if table is not None:
        try:
            table.delete(predicate)
        except (DeltaError, OSError) as exc:
            raise _storage_error(exc, path) from None


def latest_metadata(path: Path, key: str, search: int = 1000) -> str | None:
    """The newest value of a custom commit-metadata key (watermarks live in commits)."""
    table = open_table(path)
    if table is None:
        return None
    for entry in table.history(search):
        if key in entry:
            return str(entry[key])
    return None


def commit_metadata_since(path: Path, after_version: int) -> Iterator[tuple[int, dict[str, Any]]]:
    """(version, commit info) of every commit newer than ``after_version``, oldest first."""
    table = open_table(path)
    if table is None or table.version() <= after_version:
        return
    for entry in sorted(table.history(table.version() - after_version), key=lambda e: e.get("version", 0)):
        if entry.get("version", -1) > after_version:
            yield entry["version"], entry


def read_arrow(path: Path, columns: list[str] | None = None) -> pa.Table | None:
    table = open_table(path)
    if table is None:
        return None
    return pa.table(table.to_pyarrow_dataset().to_table(columns=columns))


@contextmanager
def lake_lock(lake_root: Path, name: str = "write", timeout_s: float = 600.0) -> Iterator[None]:
    """An exclusive advisory lock shared by every lakectl writer of one local lake.

    It serialises the check-then-commit of ingests (and later promotions and maintenance) across
    processes; the OS drops it when a process dies, so a crash never leaves it stuck.
    """
    lock_dir = lake_root / "_lakectl" / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    handle = os.open(lock_dir / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TransientError(
                        f"the lake is busy: another lakectl process holds the {name} lock",
                        hint="wait for it to finish and try again",
                    ) from None
                time.sleep(0.05)
        os.ftruncate(handle, 0)
        os.write(handle, json.dumps({"pid": os.getpid(), "since": time.time()}).encode())
        yield
    finally:
        os.close(handle)  # closing releases the flock


# ------------------------------------------------------------------------------------ maintenance


def find_tables(root: Path) -> list[Path]:
    """Every Delta table under the lake root (a folder holding a _delta_log)."""
    return sorted(log.parent for log in root.rglob("_delta_log") if log.is_dir())


def maintain_table(path: Path, retention_hours: int, log_retention_days: int) -> dict[str, Any]:
    """Compact small files, checkpoint, vacuum unreferenced and orphaned files older than the
    retention, and drop log entries older than ``log_retention_days``. Callers hold the lake lock,
    so no write is under way whose files could look orphaned."""
    table = open_table(path)
    if table is None:
        return {}
    try:
        compacted = table.optimize.compact()
        fault("maintain_after_compact")
        table.alter.set_table_properties(
            {"delta.logRetentionDuration": f"interval {log_retention_days} days"}, raise_if_not_exists=False
        )
        table.create_checkpoint()
        removed = table.vacuum(
            retention_hours=retention_hours, dry_run=False, enforce_retention_duration=False, full=True
        )
        table.cleanup_metadata()
    except (DeltaError, OSError) as exc:
        raise _storage_error(exc, path) from None
    return {
        "version": table.version(),
        "files_added": compacted.get("numFilesAdded", 0),
        "files_removed": compacted.get("numFilesRemoved", 0),
        "vacuumed": len(removed),
    }


def history_of(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    table = open_table(path)
    if table is None:
        raise StorageError(f"no Delta table at {path}", hint="list tables with 'lakectl report'")
    return table.history(limit)


def restore_table(path: Path, target: int | str) -> dict[str, Any]:
    """Bring a table back to an earlier version (or timestamp): a new commit, history kept."""
    table = open_table(path)
    if table is None:
        raise StorageError(f"no Delta table at {path}")
    try:
        metrics = table.restore(target)
    except (DeltaError, OSError, ValueError) as exc:
        raise StorageError(f"cannot restore {path} to {target}: {str(exc).splitlines()[0]}",
                           hint="see the versions with 'lakectl history'; vacuumed versions cannot come back") from None  # fmt: skip
    refreshed = open_table(path)
    assert refreshed is not None
    return {**metrics, "version": refreshed.version()}


def snapshot_files(path: Path) -> tuple[int, list[Path]]:
    """A table's version and every file a copy needs to open at that version: the data files of the
    version and its log up to it (JSON commits, checkpoints)."""
    table = open_table(path)
    if table is None:
        return -1, []
    version = table.version()
    data = [Path(uri.removeprefix("file://")) for uri in table.file_uris()]
    log_dir = path / "_delta_log"
    logs = []
    for entry in sorted(log_dir.iterdir()):
        stem = entry.name.split(".")[0]
        if entry.name == "_last_checkpoint" or (stem.isdigit() and int(stem) <= version):
            logs.append(entry)
    return version, data + logs
