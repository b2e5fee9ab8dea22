"""Keeping a lake healthy for years: compaction and vacuum, time travel, and backups.

Everything here takes the lake lock, so it never runs under an ingest or a promotion: a file being
written can never be mistaken for an orphan, and a backup is a consistent snapshot of every table.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from lakectl import __version__
from lakectl.config import Settings
from lakectl.errors import ConfigError, StorageError
from lakectl.faults import fault
from lakectl.lake import (
    Lake,
    Table,
    copy_file,
    file_app_id,
    file_sha256,
    file_size,
    is_uri,
    ledger,
    store_for,
)

MANIFEST = "lakectl-backup.json"
SALT = "customer.salt"  # the customer_key salt, beside (never inside) the backed-up lake


def tables(settings: Settings, clusters: list[str] | None = None) -> list[Table]:
    """The lake's tables; with ``clusters``, only their bronze and silver tables."""
    found = Lake.from_settings(settings).tables()
    if clusters is None:
        return found
    for cluster in clusters:
        settings.check_cluster(cluster)
    wanted = {f"{layer}/{cluster}" for layer in ("bronze", "silver") for cluster in clusters}
    return [table for table in found if table.name in wanted]


def maintain(settings: Settings, clusters: list[str] | None = None) -> dict[str, dict[str, Any]]:
    config = settings.maintenance
    results = {}
    with Lake.from_settings(settings).lock():
        for table in tables(settings, clusters):
            results[table.name] = table.maintain(config.vacuum_retention_hours, config.log_retention_days)
            fault("maintain_between_tables")
    return results


def existing_table(settings: Settings, name: str) -> Table:
    """``bronze/diabetes`` -> its table, refusing names that are not tables of the lake."""
    lake = Lake.from_settings(settings)
    table = lake.table(name)
    if not table.exists():
        known = ", ".join(t.name for t in lake.tables())
        raise ConfigError(f"no table {name!r} in the lake", hint=f"tables: {known or '(none yet)'}")
    return table


def history(settings: Settings, name: str, limit: int = 20) -> list[dict[str, Any]]:
    entries = existing_table(settings, name).history(limit)
    keep = (
        "version",
        "timestamp",
        "operation",
        "operationParameters",
        "operationMetrics",
        "lakectl.operation",
    )
    rows = []
    for entry in entries:
        row = {k: entry.get(k) for k in keep if k in entry}
        millis = row.get("timestamp")
        if isinstance(millis, int):
            row["timestamp"] = datetime.fromtimestamp(millis / 1000, UTC).isoformat(timespec="seconds")
        rows.append(row)
    return rows


def restore(settings: Settings, name: str, version: int | None, timestamp: str | None) -> dict[str, Any]:
    if (version is None) == (timestamp is None):
        raise ConfigError("give exactly one of --version or --timestamp")
    table = existing_table(settings, name)
    with table.lake.lock():
        if version is not None:
            known = [entry["version"] for entry in table.history()]
            first, last = min(known), max(known)
            if not first <= version <= last:
                raise ConfigError(
                    f"table {name} has versions {first}–{last}; there is no version {version}",
                    hint=f"see what each one holds with 'lakectl history {name}'",
                )
        target = version if version is not None else str(timestamp)
        cluster = name.removeprefix("bronze/")
        if name != f"bronze/{cluster}" or cluster not in settings.clusters:
            return table.restore(target)
        return _restore_bronze(
            settings, table, version if version is not None else table.version_at(str(timestamp))
        )


def _restore_bronze(settings: Settings, table: Table, before: int) -> dict[str, Any]:
    """Restore a bronze table and make the ledger list exactly the files it then holds: those
    committed later leave the log (the next ingest takes them again), and those the target version
    holds but the log no longer lists (forgotten since) come back to it. Both travel in the restore
    commit's metadata, so ``reconcile`` finishes the job if the process dies right after it."""
    lake = table.lake
    if before == table.version():
        return {"version": before, "forgotten": [], "back": []}
    ledger.reconcile(lake, settings.clusters)  # a run killed earlier may have left the log behind
    held = set(table.scan(version=before).select("_ingest_id").unique().collect()["_ingest_id"].to_list())
    known = ledger.ingests(lake)
    mine = known.filter(pl.col("cluster") == table.name.removeprefix("bronze/"))
    gone = mine.filter(~pl.col("ingest_id").is_in(list(held)))
    wanted = held - set(mine["ingest_id"].to_list())
    back = [record for v, commit in table.commits_since(-1) if v <= before
            for record in json.loads(commit.get(ledger.FILES_KEY, "[]")) if record["ingest_id"] in wanted]  # fmt: skip
    staying = known.filter(~pl.col("ingest_id").is_in(gone["ingest_id"].to_list()))
    elsewhere = staying.filter(pl.col("sha256").is_in([r["sha256"] for r in back]))
    if not elsewhere.is_empty():
        row = elsewhere.row(0, named=True)
        raise ConfigError(
            f"version {before} of {table.name} holds {row['file_name']}, which is now in {row['cluster']}: "
            "forget it there first, or the same rows would be in two clusters",
            hint=f"lakectl forget {row['sha256']} --cluster {row['cluster']}, then restore again",
        )
    shas = gone["sha256"].unique().to_list()
    metadata = {**_forgetting(shas, "restore"), ledger.FILES_KEY: ledger.commit_record(back)}
    result = table.restore(before, metadata, [file_app_id(s) for s in shas])
    fault("restore_after_commit")
    ledger.reconcile(lake, settings.clusters)
    return {
        **result,
        "forgotten": sorted(gone["file_name"].to_list()),
        "back": sorted(r["file_name"] for r in back),
    }


def _forgetting(shas: list[str], operation: str) -> dict[str, str]:
    return {"lakectl.operation": operation, ledger.FORGOTTEN_KEY: json.dumps(shas)}


def forget(settings: Settings, target: str, cluster: str | None = None) -> dict[str, Any]:
    """Take a file's rows out of bronze (one commit per cluster it went into) and its ingest out of
    the ledger, so the next ingest of the same bytes takes it again, e.g. into the right cluster."""
    if cluster is not None:
        settings.check_cluster(cluster)
    lake = Lake.from_settings(settings)
    with lake.lock():
        ledger.reconcile(lake, settings.clusters)  # a run killed earlier may have left the log behind
        sha = _sha_of(lake, target)
        rows = ledger.ingests(lake, sha)
        if cluster is not None:
            rows = rows.filter(pl.col("cluster") == cluster)
        if rows.is_empty():
            where = f" into {cluster}" if cluster else ""
            raise ConfigError(
                f"{target} is not in the lake: the ingest log has no ingest of it{where}",
                hint=f"what happened to it: lakectl log --file {Path(target).name}",
            )
        done = []
        for name in sorted(set(rows["cluster"].to_list())):
            ids = rows.filter(pl.col("cluster") == name)["ingest_id"].to_list()
            metrics = lake.bronze(name).delete_where(f"_ingest_id IN {ledger.sql_ids(ids)}",
                                                     _forgetting([sha], "forget"), [file_app_id(sha)])  # fmt: skip
            done.append({"cluster": name, "rows": metrics.get("num_deleted_rows", 0),
                         "bronze_version": metrics.get("version")})  # fmt: skip
        fault("forget_after_commit")
        ledger.forget(lake, rows["ingest_id"].to_list())
    return {"sha256": sha, "file": rows["file_name"][0], "clusters": done}


def _sha_of(lake: Lake, target: str) -> str:
    """A SHA-256 as given, the hash of an existing file, or the one file of that name or path the
    ledger knows."""
    if re.fullmatch(r"[0-9a-fA-F]{64}", target):
        return target.lower()
    if Path(target).is_file():
        with Path(target).open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    known = ledger.ingests(lake).filter(
        (pl.col("path") == target) | (pl.col("file_name") == Path(target).name)
    )
    shas = sorted(set(known["sha256"].to_list()))
    if len(shas) > 1:
        raise ConfigError(
            f"{len(shas)} different files named {Path(target).name} are in the lake",
            hint="name the one to forget by its SHA-256: " + ", ".join(shas),
        )
    if not shas:
        raise ConfigError(
            f"{target}: no such file, and the ingest log has no ingest of that name",
            hint=f"give the file, its path as ingested, or its SHA-256 (lakectl log --file {Path(target).name})",
        )
    return shas[0]


# ---------------------------------------------------------------------------------------- backups


def _inside(dest: Path | str, lake: Lake) -> bool:
    if lake.is_local and not is_uri(dest):
        return Path(dest).resolve().is_relative_to(lake.local_root.resolve())
    return f"{str(dest).rstrip('/')}/".startswith(f"{lake.root}/")


def backup(settings: Settings, dest: Path | str) -> dict[str, Any]:
    """Copy a consistent snapshot of every table to ``dest`` (a folder or ``s3://`` URI): each
    table's log up to its current version and the data files of that version. Files already in
    ``dest`` with the same size are not copied again (Delta files never change once written). A
    manifest lists every file with its checksum."""
    lake = Lake.from_settings(settings)
    if _inside(dest, lake):
        raise ConfigError(
            f"the backup folder {dest} is inside the lake", hint="back up to another disk or folder"
        )
    source, target = lake.store(), store_for(str(dest), lake.storage_options)
    previous = _read_manifest(dest, lake.storage_options, missing_ok=True)
    manifest: dict[str, Any] = {"created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                                "lakectl_version": __version__, "tables": {}, "files": {}}  # fmt: skip
    copied = reused = 0
    with lake.lock():
        for table in lake.tables():
            version, files = table.snapshot_files()
            manifest["tables"][table.name] = version
            sizes = {item["path"]: item["size"] for batch in source.list(table.name) for item in batch}
            for relative in files:
                known = previous["files"].get(relative)
                if (
                    known
                    and known["size"] == sizes.get(relative)
                    and file_size(target, relative) == known["size"]
                ):
                    manifest["files"][relative] = known
                    reused += 1
                    continue
                size, digest = copy_file(source, relative, target)
                manifest["files"][relative] = {"size": size, "sha256": digest}
                copied += 1
                fault("backup_mid_copy")
        fault("backup_before_manifest")
    manifest["salt"] = _backup_salt(settings, dest, target)
    target.put(MANIFEST, json.dumps(manifest, indent=1).encode())
    return {"tables": manifest["tables"], "copied": copied, "already_there": reused, "dest": str(dest),
            "salt": manifest["salt"] is not None}  # fmt: skip


def _backup_salt(settings: Settings, dest: Path | str, target: Any) -> dict[str, Any] | None:
    """Copy the salt file: customer_key is a hash with it, so a lake restored without it cannot
    match a returning customer to their earlier key. A salt given in the settings is not a file and
    stays where it is (None)."""
    source = settings.silver.salt_file
    if settings.silver.customer_salt is not None or not source.exists():
        return None
    data = source.read_bytes()
    target.put(SALT, data)
    if not is_uri(dest):
        (Path(dest) / SALT).chmod(0o600)  # a secret: readable by the backup's owner only
    return {"file": SALT, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _read_manifest(dest: Path | str, options: dict[str, str], missing_ok: bool = False) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(bytes(store_for(str(dest), options).get(MANIFEST).bytes()))
    except FileNotFoundError:
        if missing_ok:
            return {"files": {}}
        raise StorageError(f"{dest} holds no backup manifest", hint="is this a lakectl backup?") from None
    except (OSError, ValueError) as exc:
        raise StorageError(
            f"{dest} holds no readable backup manifest ({exc})", hint="is this a lakectl backup?"
        ) from None
    return data


def verify_backup(dest: Path | str, options: dict[str, str] | None = None) -> dict[str, Any]:
    """Check every file's checksum and that every table opens at its backed-up version."""
    options = options or {}
    manifest = _read_manifest(dest, options)
    store = store_for(str(dest), options)
    problems = []
    for relative, info in manifest["files"].items():
        found = file_sha256(store, relative)
        if found is None:
            problems.append(f"missing: {relative}")
        elif found != (info["size"], info["sha256"]):
            problems.append(f"changed: {relative}")
    copy = Lake(str(dest), options)
    for name, version in manifest["tables"].items():
        try:
            if copy.table(name).version() != version:
                problems.append(f"table {name} does not open at version {version}")
        except Exception as exc:  # a damaged log raises many kinds of errors
            problems.append(f"table {name}: {str(exc).splitlines()[0]}")
    salt = manifest.get("salt")
    if salt and file_sha256(store, salt["file"]) != (salt["size"], salt["sha256"]):
        problems.append(f"the customer_key salt {salt['file']} is missing or changed")
    return {
        "ok": not problems,
        "files": len(manifest["files"]),
        "tables": manifest["tables"],
        "problems": problems,
    }


def restore_backup(settings: Settings, dest: Path | str, force: bool = False) -> dict[str, Any]:
    """Rebuild the lake from a backup: every table opens at its backed-up version, and the salt
    file (silver.salt_file) gets the backed-up salt if it is missing."""
    lake = Lake.from_settings(settings)
    report = verify_backup(dest, lake.storage_options)
    if not report["ok"]:
        raise StorageError(
            f"the backup in {dest} is damaged: {report['problems'][:3]}", hint="use an older backup"
        )
    target = lake.store()
    present = [item["path"] for batch in target.list() for item in batch]
    if present:
        if not force:
            raise ConfigError(f"{lake.root} is not empty",
                              hint="restore into an empty folder, or pass --force to replace it")  # fmt: skip
        target.delete(present)
    source = store_for(str(dest), lake.storage_options)
    manifest = _read_manifest(dest, lake.storage_options)
    salt, salt_file = manifest.get("salt"), settings.silver.salt_file
    saved = bytes(source.get(salt["file"]).bytes()) if salt else None
    if saved is not None and salt_file.exists() and salt_file.read_bytes().strip() != saved.strip():
        raise ConfigError(
            f"{salt_file} holds another customer_key salt than the backup in {dest}",
            hint=f"the restored keys need the backed-up one: move {salt_file} aside and restore again",
        )
    for relative in manifest["files"]:
        copy_file(source, relative, target)
        fault("restore_backup_mid_copy")
    salt_restored = saved is not None and not salt_file.exists()
    if saved is not None and salt_restored:
        salt_file.parent.mkdir(parents=True, exist_ok=True)
        # written beside and renamed: a kill mid-write must not leave an empty salt that refuses the rerun
        partial = salt_file.with_name(salt_file.name + ".partial")
        partial.touch(mode=0o600)
        partial.write_bytes(saved)
        fault("restore_backup_mid_salt")
        os.replace(partial, salt_file)
    return {"lake": lake.root, "tables": manifest["tables"], "salt_restored": salt_restored}
