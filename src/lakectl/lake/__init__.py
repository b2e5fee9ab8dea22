"""The one door to the lake: where every table lives, and every way of reading and writing it.

A ``Lake`` is built from settings (``Lake.from_settings``) and owns the root URI (a local folder or
``s3://bucket/prefix``), the location of every table (bronze/silver/gold/_lakectl), the writer lock
and the schemas of lakectl's own log tables. ``lake.bronze("diabetes")`` and friends return a
``Table`` that reads (Arrow, polars lazy frames, pyarrow datasets for DuckDB), appends exactly once,
merges, replaces, shows history, restores and is maintained. This is the only module that imports
deltalake or obstore, or calls ``pl.scan_delta``: the lint rule TID251 keeps it so.

delta-rs records app transactions but does not enforce them (tech-notes D6): ``append_once``
checks ``transaction_version`` before writing and again after a commit conflict.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote

import obstore
import polars as pl
import pyarrow as pa
import pyarrow.dataset as pads
from deltalake import CommitProperties, DeltaTable, Transaction, WriterProperties, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError
from obstore.exceptions import AlreadyExistsError, BaseError, NotFoundError, PreconditionError
from obstore.store import LocalStore, ObjectStore, S3Store

from lakectl.errors import ConfigError, StorageError, TransientError
from lakectl.faults import fault

if TYPE_CHECKING:
    from lakectl.config import Settings

log = logging.getLogger(__name__)

COMMIT_ATTEMPTS = 8
# zstd level 1 writes as fast as the default snappy and makes text-heavy bronze files ~40% smaller
WRITER = WriterProperties(compression="ZSTD", compression_level=1)
LAYERS = ("bronze", "silver", "gold", "_lakectl")
# layer/name; webhook events sit one level deeper, in bronze/_events/<cluster>
TABLE_NAME = re.compile(r"^(bronze|silver|gold|_lakectl)/(_events/)?[A-Za-z0-9_][A-Za-z0-9_-]{0,62}$")
# an S3 lock object is a lease: renewed while held, taken over once its holder stopped renewing
LEASE_S = 60.0
# obstore raises the builtin FileNotFoundError for a missing object, or its own NotFoundError
MISSING = (NotFoundError, FileNotFoundError)
FILES_KEY = "lakectl.files"

# ------------------------------------------------------------------ schemas of lakectl's own tables

INGEST_LOG_SCHEMA = pa.schema(
    [
        ("ingest_id", pa.string()),
        ("path", pa.string()),
        ("file_name", pa.string()),
        ("sha256", pa.string()),
        ("cluster", pa.string()),
        ("size", pa.int64()),
        ("status", pa.string()),
        ("reason", pa.string()),
        ("hint", pa.string()),
        ("duplicate_of", pa.string()),
        ("sheets", pa.int32()),
        ("rows", pa.int64()),
        ("headers_original", pa.string()),
        ("headers_normalised", pa.string()),
        ("schema_ids", pa.string()),
        ("dropped_rows", pa.string()),
        ("bronze_version", pa.int64()),
        ("started_at", pa.timestamp("us", tz="UTC")),
        ("finished_at", pa.timestamp("us", tz="UTC")),
        ("lakectl_version", pa.string()),
    ]
)

RUNS_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("layer", pa.string()),
        ("cluster", pa.string()),
        ("full", pa.bool_()),
        ("dry_run", pa.bool_()),
        ("bronze_from", pa.int64()),
        ("bronze_to", pa.int64()),
        ("rows_in", pa.int64()),
        ("transactions", pa.int64()),
        ("inserted", pa.int64()),
        ("updated", pa.int64()),
        ("status_updates", pa.int64()),
        ("folded", pa.int64()),
        ("rejected", pa.string()),
        ("warnings", pa.string()),
        ("unknown_layouts", pa.string()),
        ("layouts", pa.string()),  # silver: every layout decision (field -> column, score, evidence)
        ("silver_version", pa.int64()),
        ("started_at", pa.timestamp("us", tz="UTC")),
        ("duration_s", pa.float64()),
    ]
)


# the operations of `maintain`: they keep every row as it was
MAINTENANCE_OPERATIONS = frozenset({"OPTIMIZE", "VACUUM START", "VACUUM END", "SET TBLPROPERTIES"})


def file_app_id(sha256: str) -> str:
    """The app transaction id that marks a source file as written into a table."""
    return f"lakectl:file:{sha256}"


def is_uri(root: str | Path) -> bool:
    return isinstance(root, str) and "://" in root


# ------------------------------------------------------------------------------------------ lake


@dataclass(frozen=True)
class Lake:
    """The lake at ``root``: a local folder or an object-store URI (``s3://bucket/prefix``).

    ``storage_options`` are delta-rs/object_store keys (``AWS_ENDPOINT_URL``, ``AWS_REGION`` ...);
    unset ones come from the usual ``AWS_*`` environment of the process. They may hold credentials:
    they never appear in the repr, in errors or in logs (``redact``).
    """

    root: str
    storage_options: dict[str, str] = field(default_factory=dict, repr=False)
    # stores without conditional PUT: one writer; the lock is then a local file (see README)
    local_lock_dir: Path | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", str(self.root).rstrip("/") or "/")
        if is_uri(self.root) and not self.root.startswith(("s3://", "s3a://", "file://")):
            raise ConfigError(
                f"lake_root {self.redact(self.root)} uses an unsupported scheme",
                hint="use a local folder or s3://bucket/prefix",
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> Lake:
        storage, root = settings.storage, str(settings.lake_root)
        if not is_uri(root) or root.startswith("file://"):
            return cls(root)  # a folder: the storage settings do not apply
        local_lock = None if storage.conditional_writes else storage.local_lock_dir
        return cls(root, storage.options(), local_lock_dir=local_lock)

    # ----------------------------------------------------------------------------- locations

    @property
    def is_local(self) -> bool:
        return not is_uri(self.root) or self.root.startswith("file://")

    @property
    def local_root(self) -> Path:
        """The lake folder of a local lake (an error for an object-store lake)."""
        if not self.is_local:
            raise ConfigError(f"{self.root} is not a local folder")
        return Path(self.root.removeprefix("file://"))

    def uri(self, name: str = "") -> str:
        return f"{self.root}/{name}" if name else self.root

    def reachable(self) -> bool:
        """Whether the lake can be written: a writable folder, or a bucket that answers."""
        if self.is_local:
            return self.local_root.is_dir() and os.access(self.local_root, os.W_OK)
        try:
            self.store().list_with_delimiter("_lakectl")
        except (BaseError, OSError, ConfigError):
            return False
        return True

    def table(self, name: str) -> Table:
        """``bronze/diabetes`` -> its Table; refuses names that are not lake tables."""
        name = name.strip("/")
        if not TABLE_NAME.match(name):
            known = ", ".join(t.name for t in self.tables())
            raise ConfigError(f"no table {name!r} in the lake", hint=f"tables: {known or '(none yet)'}")
        return Table(self, name)

    def bronze(self, cluster: str) -> Table:
        return self.table(f"bronze/{cluster}")

    def silver(self, cluster: str) -> Table:
        return self.table(f"silver/{cluster}")

    def events(self, cluster: str) -> Table:
        """Webhook events of a cluster, as they arrived (see events.py)."""
        return self.table(f"bronze/_events/{cluster}")

    def rejects(self) -> Table:
        return self.table("silver/_rejects")

    def gold(self, name: str) -> Table:
        return self.table(f"gold/{name}")

    def ingest_log(self) -> Table:
        return self.table("_lakectl/ingest_log")

    def runs(self) -> Table:
        return self.table("_lakectl/runs")

    def tables(self) -> list[Table]:
        """Every Delta table in the lake (a folder of a layer holding a ``_delta_log``)."""
        found = []
        store = self.store()
        for layer in LAYERS:
            try:
                folders = list(store.list_with_delimiter(layer)["common_prefixes"])
            except (BaseError, OSError):  # a missing layer folder
                continue
            for folder in folders:
                name = folder.rstrip("/")
                if name.endswith("/_events"):
                    folders.extend(store.list_with_delimiter(name)["common_prefixes"])
                elif TABLE_NAME.match(name) and self._has_log(store, name):
                    found.append(Table(self, name))
        return sorted(found, key=lambda t: t.name)

    @staticmethod
    def _has_log(store: ObjectStore, name: str) -> bool:
        try:
            return bool(store.list_with_delimiter(f"{name}/_delta_log")["objects"])
        except (BaseError, OSError):
            return False

    # --------------------------------------------------------------------------------- files

    def store(self) -> ObjectStore:
        """An object store rooted at the lake (local folders too), for the files around tables."""
        return store_for(self.root, self.storage_options)

    def redact(self, text: str) -> str:
        """``text`` with every credential value replaced by ***."""
        return redact(text, self.storage_options)

    # ---------------------------------------------------------------------------------- lock

    @contextmanager
    def lock(self, name: str = "write", timeout_s: float = 600.0) -> Iterator[None]:
        """An exclusive lock shared by every lakectl writer of this lake.

        It serialises lakectl's multi-table steps (an ingest's bronze commit and its ledger row, a
        promotion) across processes. Locally it is an ``flock`` the OS drops when a process dies.
        On S3 it is a lease object created with ``If-None-Match: *`` (delta-rs commits tables with
        the same conditional PUT): renewed while held, taken over once it expired.
        """
        if self.is_local or self.local_lock_dir is not None:
            folder = (
                self.local_lock_dir
                if self.local_lock_dir is not None
                else self.local_root / "_lakectl" / "locks"
            )
            with _file_lock(folder / f"{name}.lock", name, timeout_s):
                yield
        else:
            with _ObjectLock(self.store(), f"_lakectl/locks/{name}.lock", name, self.redact).held(timeout_s):
                yield


def store_for(root: str, options: dict[str, str]) -> ObjectStore:
    if not is_uri(root) or root.startswith("file://"):
        folder = Path(root.removeprefix("file://")).absolute()
        folder.mkdir(parents=True, exist_ok=True)
        return LocalStore(folder)
    # the delta-rs keys that object_store's S3 builder knows; the rest is delta-rs' own
    keys = {"AWS_ENDPOINT_URL": "endpoint", "AWS_REGION": "region", "AWS_ACCESS_KEY_ID": "access_key_id",
            "AWS_SECRET_ACCESS_KEY": "secret_access_key", "AWS_SESSION_TOKEN": "session_token",
            "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": "virtual_hosted_style_request"}  # fmt: skip
    config: dict[str, Any] = {keys[k]: v for k, v in options.items() if k in keys}
    client = {"allow_http": options["AWS_ALLOW_HTTP"]} if "AWS_ALLOW_HTTP" in options else None
    try:
        return S3Store.from_url(
            root.replace("s3a://", "s3://", 1), config=cast(Any, config), client_options=cast(Any, client)
        )
    except (BaseError, ValueError) as exc:
        raise ConfigError(f"cannot open {redact(root, options)}: {redact(str(exc), options).splitlines()[0]}",
                          hint="check lake_root and the [storage] settings") from None  # fmt: skip


def redact(text: str, options: dict[str, str]) -> str:
    for key, value in options.items():
        if (
            value
            and len(value) >= 4
            and any(word in key.upper() for word in ("SECRET", "KEY", "TOKEN", "PASSWORD"))
        ):
            text = text.replace(value, "***")
    return text


@contextmanager
def _file_lock(path: Path, name: str, timeout_s: float) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise _busy(name) from None
                time.sleep(0.05)
        with contextlib.suppress(OSError):  # who holds it, for people; a full disk must not fail a read
            os.ftruncate(handle, 0)
            os.write(handle, json.dumps({"pid": os.getpid(), "since": time.time()}).encode())
        yield
    finally:
        os.close(handle)  # closing releases the flock


def _busy(name: str) -> TransientError:
    return TransientError(
        f"the lake is busy: another lakectl process holds the {name} lock",
        hint="wait for it to finish and try again",
    )


class _ObjectLock:
    """A lease object: created only if absent, renewed and released only by its holder (If-Match)."""

    def __init__(self, store: ObjectStore, path: str, name: str, redactor: Any) -> None:
        self.store, self.path, self.name, self.redact = store, path, name, redactor
        self.owner = uuid.uuid4().hex
        self.etag: str | None = None
        self.lost = False
        self._stop = threading.Event()

    def _body(self) -> bytes:
        return json.dumps({"owner": self.owner, "host": socket.gethostname(), "pid": os.getpid(),
                           "expires": time.time() + LEASE_S}).encode()  # fmt: skip

    def _try_take(self) -> bool:
        try:
            self.etag = self.store.put(self.path, self._body(), mode="create")["e_tag"]
            return True
        except AlreadyExistsError:
            pass
        try:
            current = self.store.get(self.path)
            holder = json.loads(bytes(current.bytes()))
            tag = current.meta["e_tag"]
        except MISSING:
            return False  # released meanwhile: try again at once
        except (BaseError, ValueError):
            holder, tag = {"expires": 0}, None
        if float(holder.get("expires", 0)) > time.time() or tag is None:
            return False
        try:  # the holder stopped renewing (it died): take over, unless someone else just did
            self.etag = self.store.put(self.path, self._body(), mode={"e_tag": tag})["e_tag"]
            log.warning("took over the %s lock from %s (its lease expired)", self.name, holder.get("host"))
            return True
        except (PreconditionError, AlreadyExistsError, *MISSING):
            return False

    def _renew(self) -> None:
        while not self._stop.wait(LEASE_S / 3):
            try:
                self.etag = self.store.put(self.path, self._body(), mode={"e_tag": self.etag})["e_tag"]
            except (BaseError, OSError) as exc:
                self.lost = True
                log.error("lost the %s lock: %s", self.name, self.redact(str(exc).splitlines()[0]))
                return

    @contextmanager
    def held(self, timeout_s: float) -> Iterator[None]:
        deadline = time.monotonic() + timeout_s
        try:
            while not self._try_take():
                if time.monotonic() >= deadline:
                    raise _busy(self.name)
                time.sleep(0.1)
        except (BaseError, OSError) as exc:
            raise StorageError(f"cannot take the {self.name} lock: {self.redact(str(exc).splitlines()[0])}",
                               hint="check the bucket and the [storage] settings") from None  # fmt: skip
        renewer = threading.Thread(target=self._renew, name=f"lakectl-lock-{self.name}", daemon=True)
        renewer.start()
        try:
            yield
        finally:
            self._stop.set()
            renewer.join()
            if not self.lost:
                try:
                    if self.store.head(self.path)["e_tag"] == self.etag:
                        self.store.delete(self.path)
                except (BaseError, OSError) as exc:  # it expires on its own
                    log.warning("could not release the %s lock: %s", self.name, self.redact(str(exc)))


# ----------------------------------------------------------------------------------------- table


@dataclass(frozen=True)
class Changes:
    """The commits of a table after some version (``Table.changes_since``)."""

    version: int  # the snapshot they were read at
    commits: list[tuple[int, dict[str, Any]]]  # (version, commit info), oldest first
    files: set[str] | None  # live data files they added; None when the log no longer says


@dataclass(frozen=True)
class Table:
    """One Delta table of the lake, by name (``bronze/diabetes``)."""

    lake: Lake
    name: str

    @property
    def uri(self) -> str:
        return self.lake.uri(self.name)

    def __str__(self) -> str:
        return self.uri

    def _open(self, version: int | None = None) -> DeltaTable | None:
        try:
            return DeltaTable(self.uri, version=version, storage_options=self.lake.storage_options or None)
        except TableNotFoundError:
            return None

    def _require(self) -> DeltaTable:
        table = self._open()
        if table is None:
            raise StorageError(f"no Delta table at {self.uri}", hint="list tables with 'lakectl report'")
        return table

    def exists(self) -> bool:
        return DeltaTable.is_deltatable(self.uri, storage_options=self.lake.storage_options or None)

    def version(self) -> int:
        """The current version, -1 when the table does not exist yet."""
        table = self._open()
        return -1 if table is None else table.version()

    def columns(self) -> list[str]:
        table = self._open()
        return [] if table is None else [f.name for f in table.schema().fields]

    def data_version(self, search: int = 1000) -> int:
        """The newest version whose commit changed what the table holds: compaction, vacuum and
        property changes rewrite files or the log, never rows, so they do not count (-1: no table)."""
        table = self._open()
        if table is None:
            return -1
        for entry in table.history(search):
            if entry.get("operation") not in MAINTENANCE_OPERATIONS:
                return int(entry["version"])
        return table.version()

    def committed_version(self, app_id: str) -> int | None:
        table = self._open()
        return None if table is None else table.transaction_version(app_id)

    def protocol(self) -> dict[str, Any]:
        """Reader/writer protocol versions and table features (what other engines must support)."""
        table = self._require()
        proto = table.protocol()
        return {
            "min_reader_version": proto.min_reader_version,
            "min_writer_version": proto.min_writer_version,
            "reader_features": sorted(proto.reader_features or []),
            "writer_features": sorted(proto.writer_features or []),
            "configuration": dict(table.metadata().configuration),
        }

    # ---------------------------------------------------------------------------------- read

    def dataset(self, version: int | None = None, files: set[str] | None = None) -> pads.Dataset | None:
        """A pyarrow dataset of the table's live files (DuckDB queries it directly; a raw parquet
        glob would also read files the log removed); with ``files``, of those live files only."""
        table = self._open(version)
        if table is None:
            return None
        dataset = table.to_pyarrow_dataset()
        if files is None:
            return dataset
        chosen = [f for f in dataset.get_fragments() if unquote(f.path) in files]
        return pads.FileSystemDataset(chosen, dataset.schema, dataset.format, dataset.filesystem)

    def read_arrow(self, columns: list[str] | None = None) -> pa.Table | None:
        dataset = self.dataset()
        return None if dataset is None else pa.table(dataset.to_table(columns=columns))

    def scan(self, version: int | None = None) -> pl.LazyFrame:
        """A polars lazy frame (filters and projections are pushed down to the files)."""
        return pl.scan_delta(self.uri, version=version, storage_options=self.lake.storage_options or None)

    def read(self) -> pl.DataFrame | None:
        """The whole table as a polars frame, None when it does not exist."""
        return self.scan().collect() if self.exists() else None

    def latest_metadata(self, key: str, search: int = 1000) -> str | None:
        """The newest value of a custom commit-metadata key (watermarks live in commits)."""
        table = self._open()
        if table is None:
            return None
        limit = 10
        while True:  # newest commits first, a few at a time: the key is nearly always in the last ones
            entries = table.history(limit)
            for entry in entries:
                if key in entry:
                    return str(entry[key])
            if len(entries) < limit or limit >= search:
                return None
            limit = min(limit * 10, search)

    def commits_since(self, after_version: int) -> Iterator[tuple[int, dict[str, Any]]]:
        """(version, commit info) of every commit newer than ``after_version``, oldest first."""
        table = self._open()
        if table is None or table.version() <= after_version:
            return
        for entry in sorted(
            table.history(table.version() - after_version), key=lambda e: e.get("version", 0)
        ):
            if entry.get("version", -1) > after_version:
                yield entry["version"], entry

    def changes_since(self, after_version: int) -> Changes:
        """What the commits after ``after_version`` did, read from their log entries alone (no
        data file is opened): their commit info, and the data files they added that are still
        live. A file holding a row committed after that version was written after it, so these
        files hold every such row (and maybe older ones, after a compaction)."""
        table = self._open()
        if table is None:
            return Changes(-1, [], set())
        current = table.version()
        store = self.lake.store()
        commits, added = [], set()
        for version in range(max(after_version + 1, 0), current + 1):
            try:
                entry = bytes(store.get(f"{self.name}/_delta_log/{version:020d}.json").bytes())
            except MISSING:  # cleaned up by log retention: the log cannot tell any more
                return Changes(current, [], None)
            for line in entry.splitlines():
                action = json.loads(line) if line.strip() else {}
                if "commitInfo" in action:
                    commits.append((version, action["commitInfo"]))
                elif "add" in action:
                    added.add(unquote(action["add"]["path"]))
        live = {unquote(p) for p in pa.table(table.get_add_actions(flatten=True)).column("path").to_pylist()}
        return Changes(current, commits, added & live)

    def history(self, limit: int | None = None) -> list[dict[str, Any]]:
        return self._require().history(limit)

    # --------------------------------------------------------------------------------- write

    def _error(self, exc: BaseException, doing: str = "write") -> StorageError:
        text = self.lake.redact(str(exc))
        if (
            (isinstance(exc, OSError) and exc.errno == errno.ENOSPC)
            or "No space left" in text
            or "os error 28" in text
        ):
            return TransientError(f"disk full while writing {self.uri}",
                                  hint="free disk space; the file stays pending and is retried")  # fmt: skip
        if isinstance(exc, PermissionError) or "Permission denied" in text or "os error 13" in text:
            return StorageError(
                f"permission denied writing {self.uri}", hint="check the owner of the lake folder"
            )
        first = text.splitlines()[0] if text else type(exc).__name__
        return StorageError(f"cannot {doing} {self.uri}: {first}")

    def append_once(
        self,
        data: pa.RecordBatchReader | pa.Table,
        app_ids: list[str],
        metadata: dict[str, str],
        txn_version: int = 1,
    ) -> int | None:
        """Append ``data`` with the given app transactions in one atomic commit.

        Returns the new table version, or None when every app id was already committed at
        ``txn_version`` or later (by us earlier, or by a concurrent writer that won the race).
        ``data`` is consumed at most once: a reader cannot be replayed, so a conflict after the data
        was written is retried only for tables.
        """

        def done(table: DeltaTable | None) -> bool:
            if table is None or not app_ids:
                return False
            return all((table.transaction_version(app) or 0) >= txn_version for app in app_ids)

        for attempt in range(COMMIT_ATTEMPTS):
            if done(self._open()):
                return None
            try:
                write_deltalake(
                    self.uri,
                    data,
                    mode="append",
                    schema_mode="merge",
                    writer_properties=WRITER,
                    storage_options=self.lake.storage_options or None,
                    commit_properties=CommitProperties(
                        app_transactions=[Transaction(app_id=app, version=txn_version) for app in app_ids],
                        custom_metadata=metadata,
                        max_commit_retries=15,
                    ),
                )
            except CommitFailedError as exc:
                log.info(
                    "commit conflict on %s (attempt %d): %s",
                    self.uri,
                    attempt + 1,
                    self.lake.redact(str(exc)),
                )
                if isinstance(data, pa.RecordBatchReader):
                    if done(self._open()):
                        return None
                    raise TransientError(
                        f"commit conflict on {self.uri}", hint="retry; another writer was busy"
                    ) from None
                time.sleep(min(0.05 * 2**attempt, 2.0))
                continue
            except (DeltaError, OSError) as exc:
                raise self._error(exc) from None
            except Exception as exc:  # deltalake raises plain Exception for cast errors (tech-notes D1)
                if "No space left" in str(exc) or "Permission denied" in str(exc):
                    raise self._error(exc) from None
                raise
            return self._require().version()
        raise TransientError(
            f"gave up committing to {self.uri} after {COMMIT_ATTEMPTS} conflicts", hint="retry later"
        )

    def replace(self, data: pa.Table, metadata: dict[str, str], target_file_size: int | None = None) -> int:
        """Replace the table's contents (and schema) in one commit; ``target_file_size`` also
        becomes the table's ``delta.targetFileSize``, so later merges write files of that size."""
        config = {} if target_file_size is None else {"delta.targetFileSize": str(target_file_size)}
        try:
            table = self._open()
            if table is not None and config.items() - table.metadata().configuration.items():
                # an overwrite applies a configuration to a new table only
                table.alter.set_table_properties(config, raise_if_not_exists=False)
            write_deltalake(self.uri, data, mode="overwrite", schema_mode="overwrite", writer_properties=WRITER,
                            target_file_size=target_file_size, configuration=config or None,
                            storage_options=self.lake.storage_options or None,
                            commit_properties=CommitProperties(custom_metadata=metadata))  # fmt: skip
        except (DeltaError, OSError) as exc:
            raise self._error(exc) from None
        return self._require().version()

    def merge(
        self,
        source: pa.Table,
        predicate: str,
        clauses: list[tuple[str, str | dict[str, str] | None, str]],
        metadata: dict[str, str],
        key: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        """MERGE ``source`` into the table (aliases s and t) in one commit, retried on conflicts.

        ``clauses``: (kind, updates, predicate) with kind ``update`` (updates: column -> SQL),
        ``update_all``, ``delete`` or ``insert_all``. ``key``: (group, sorted key) columns the
        predicate matches on, when the table is sorted by them: the merge then reads only the
        files the source's keys can be in (``key_ranges``). Returns the merge metrics (+ ``version``).
        """
        for attempt in range(COMMIT_ATTEMPTS):
            table = self._require()
            where = predicate
            if key is not None:
                ranges = key_ranges(source, *key, _file_minimums(table, key[1]))
                where = predicate if ranges is None else f"({predicate}) AND ({ranges})"
            # not streamed: the source is in memory anyway, and a streamed source keeps delta-rs from
            # skipping target files by the source's statistics
            merger = table.merge(source, predicate=where, source_alias="s", target_alias="t", streamed_exec=False,
                                 writer_properties=WRITER,
                                 commit_properties=CommitProperties(custom_metadata=metadata))  # fmt: skip
            for kind, updates, condition in clauses:
                if kind == "update":
                    assert isinstance(updates, dict)
                    merger = merger.when_matched_update(updates=updates, predicate=condition)
                elif kind == "update_all":
                    merger = merger.when_matched_update_all(predicate=condition)
                elif kind == "delete":
                    merger = merger.when_matched_delete(predicate=condition)
                else:
                    merger = merger.when_not_matched_insert_all(predicate=condition)
            try:
                metrics = merger.execute()
            except CommitFailedError as exc:  # merges conflict with concurrent writers (tech-notes §4)
                log.info(
                    "merge conflict on %s (attempt %d): %s", self.uri, attempt + 1, self.lake.redact(str(exc))
                )
                time.sleep(min(0.05 * 2**attempt, 2.0))
                continue
            except (DeltaError, OSError) as exc:
                raise self._error(exc) from None
            return {**metrics, "version": self._require().version()}
        raise TransientError(
            f"gave up merging into {self.uri} after {COMMIT_ATTEMPTS} conflicts", hint="retry later"
        )

    def delete_where(
        self, predicate: str, metadata: dict[str, str] | None = None, reset_apps: list[str] | None = None
    ) -> dict[str, Any]:
        """Delete matching rows in one commit (none when nothing matches); ``reset_apps``: app ids
        whose transactions this commit sets back to 0, so their source files can be written again."""
        table = self._open()
        if table is None:
            return {}
        try:
            metrics: dict[str, Any] = table.delete(predicate, commit_properties=_commit(metadata, reset_apps))
        except (DeltaError, OSError) as exc:
            raise self._error(exc) from None
        return {**metrics, "version": self._require().version()}

    def version_at(self, timestamp: str) -> int:
        """The version the table had at ``timestamp`` (ISO-8601)."""
        table = self._require()
        try:
            table.load_as_version(timestamp)
        except (DeltaError, OSError, ValueError) as exc:
            raise StorageError(f"{self.uri} has no version at {timestamp}: {str(exc).splitlines()[0]}",
                               hint="see the versions with 'lakectl history'") from None  # fmt: skip
        return table.version()

    # --------------------------------------------------------------------------- maintenance

    def restore(
        self, target: int | str, metadata: dict[str, str] | None = None, reset_apps: list[str] | None = None
    ) -> dict[str, Any]:
        """Bring the table back to an earlier version (or timestamp): a new commit, history kept;
        ``reset_apps`` as in ``delete_where``."""
        table = self._require()
        try:
            metrics = table.restore(target, commit_properties=_commit(metadata, reset_apps))
        except (DeltaError, OSError, ValueError) as exc:
            raise StorageError(f"cannot restore {self.uri} to {target}: {self.lake.redact(str(exc)).splitlines()[0]}",
                               hint="see the versions with 'lakectl history'; vacuumed versions cannot come back") from None  # fmt: skip
        return {**metrics, "version": self._require().version()}

    def maintain(self, retention_hours: int, log_retention_days: int) -> dict[str, Any]:
        """Compact small files, checkpoint, vacuum unreferenced and orphaned files older than the
        retention, and drop log entries older than ``log_retention_days``. Callers hold the lake
        lock, so no write is under way whose files could look orphaned."""
        table = self._open()
        if table is None:
            return {}
        try:
            compacted = table.optimize.compact()
            fault("maintain_after_compact")
            retention = f"interval {log_retention_days} days"
            # only when it changes: a commit on every run would look like new data to every reader
            if table.metadata().configuration.get("delta.logRetentionDuration") != retention:
                table.alter.set_table_properties(
                    {"delta.logRetentionDuration": retention}, raise_if_not_exists=False
                )
            table.create_checkpoint()
            removed = table.vacuum(
                retention_hours=retention_hours, dry_run=False, enforce_retention_duration=False, full=True
            )
            table.cleanup_metadata()
        except (DeltaError, OSError) as exc:
            raise self._error(exc, "maintain") from None
        return {
            "version": table.version(),
            "files_added": compacted.get("numFilesAdded", 0),
            "files_removed": compacted.get("numFilesRemoved", 0),
            "vacuumed": len(removed),
        }

    def snapshot_files(self) -> tuple[int, list[str]]:
        """The version and every file (relative to the lake root) a copy needs to open the table at
        that version: the data files of the version and its log up to it (commits, checkpoints)."""
        table = self._open()
        if table is None:
            return -1, []
        version = table.version()
        actions = table.get_add_actions(flatten=True)
        data = [f"{self.name}/{path}" for path in pa.table(actions).column("path").to_pylist()]
        logs = []
        for item in self.lake.store().list(f"{self.name}/_delta_log").collect():
            leaf = item["path"].rsplit("/", 1)[-1]
            stem = leaf.split(".")[0]
            if leaf == "_last_checkpoint" or (stem.isdigit() and int(stem) <= version):
                logs.append(item["path"])
        return version, data + sorted(logs)


# ------------------------------------------------------------------------------- merge pruning

MAX_KEY_RANGES = 512  # beyond this a predicate costs more to plan than the files it skips
_PLAIN_TEXT = re.compile(r"^[^\x00-\x1f\\]*$")  # no control characters, no backslash: safe in a SQL literal


def _file_minimums(table: DeltaTable, column: str) -> list[str]:
    actions = pa.table(table.get_add_actions(flatten=True))
    name = f"min.{column}"
    return [] if name not in actions.column_names else [v for v in actions.column(name).to_pylist() if v]


def key_ranges(source: pa.Table, group: str, key: str, splits: list[str]) -> str | None:
    """A SQL predicate on the target ``t`` that holds for every row whose (group, key) is in
    ``source``: per group value, ranges of the source's own keys, cut wherever a target file
    begins (``splits``: the files' smallest keys). Matching rows lie in the ranges whatever the
    file statistics say, so the merge stays exact; the statistics only make the ranges skip files.
    None when the ranges would not help (too many, or a value unfit for a SQL literal)."""
    keys = pl.from_arrow(source.select([group, key]))
    assert isinstance(keys, pl.DataFrame)
    keys = keys.drop_nulls().unique().sort(group, key)
    bounds = pl.Series(sorted(splits), dtype=pl.String)
    ranges: list[tuple[str, str, str]] = []
    for (value,), part in keys.group_by(group, maintain_order=True):
        values = part[key].to_list()
        slots = bounds.search_sorted(part[key], side="right").to_list()
        start = 0
        for i in range(1, len(values) + 1):
            if i == len(values) or slots[i] != slots[start]:
                ranges.append((str(value), values[start], values[i - 1]))
                start = i
    if not ranges or len(ranges) > MAX_KEY_RANGES:
        return None
    if not all(_PLAIN_TEXT.match(text) for r in ranges for text in r):
        return None
    quote = lambda text: "'" + text.replace("'", "''") + "'"  # noqa: E731
    return " OR ".join(
        f"(t.{group} = {quote(g)} AND t.{key} >= {quote(lo)} AND t.{key} <= {quote(hi)})"
        for g, lo, hi in ranges
    )


# ---------------------------------------------------------------------------------------- copies


def _commit(metadata: dict[str, str] | None, reset_apps: list[str] | None) -> CommitProperties | None:
    if not metadata and not reset_apps:
        return None
    apps = [Transaction(app_id=app, version=0) for app in reset_apps or []]
    return CommitProperties(custom_metadata=metadata, app_transactions=apps or None)


def copy_file(source: ObjectStore, path: str, target: ObjectStore) -> tuple[int, str]:
    """Stream one file between stores; returns its size and SHA-256."""
    digest = hashlib.sha256()
    size = 0
    with obstore.open_writer(target, path) as writer:
        for chunk in source.get(path).stream(min_chunk_size=8 << 20):
            data = bytes(chunk)
            digest.update(data)
            size += len(data)
            writer.write(data)
    return size, digest.hexdigest()


def file_size(store: ObjectStore, path: str) -> int | None:
    try:
        return int(store.head(path)["size"])
    except MISSING:
        return None


def file_sha256(store: ObjectStore, path: str) -> tuple[int, str] | None:
    """Size and SHA-256 of a file, None when it is missing."""
    digest = hashlib.sha256()
    size = 0
    try:
        for chunk in store.get(path).stream(min_chunk_size=8 << 20):
            data = bytes(chunk)
            digest.update(data)
            size += len(data)
    except MISSING:
        return None
    return size, digest.hexdigest()


def now() -> datetime:
    return datetime.now(UTC)
