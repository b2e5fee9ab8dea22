"""Keeping a lake healthy for years: compaction and vacuum, time travel, and backups.

Everything here takes the lake lock, so it never runs under an ingest or a promotion: a file being
written can never be mistaken for an orphan, and a backup is a consistent snapshot of every table.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lakectl import __version__, delta
from lakectl.config import Settings
from lakectl.errors import ConfigError, StorageError
from lakectl.faults import fault

MANIFEST = "lakectl-backup.json"


def tables(settings: Settings, clusters: list[str] | None = None) -> list[Path]:
    """The lake's tables; with ``clusters``, only their bronze and silver tables."""
    lake = settings.lake_root
    found = delta.find_tables(lake)
    if clusters is None:
        return found
    for cluster in clusters:
        settings.check_cluster(cluster)
    wanted = {lake / layer / cluster for layer in ("bronze", "silver") for cluster in clusters}
    return [table for table in found if table in wanted]


def maintain(settings: Settings, clusters: list[str] | None = None) -> dict[str, dict[str, Any]]:
    config = settings.maintenance
    results = {}
    with delta.lake_lock(settings.lake_root):
        for table in tables(settings, clusters):
            name = str(table.relative_to(settings.lake_root))
            results[name] = delta.maintain_table(
                table, config.vacuum_retention_hours, config.log_retention_days
            )
            fault("maintain_between_tables")
    return results


def table_path(settings: Settings, name: str) -> Path:
    """``bronze/diabetes`` -> its folder, refusing names that leave the lake."""
    lake = settings.lake_root.resolve()
    path = (lake / name).resolve()
    if not path.is_relative_to(lake) or not (path / "_delta_log").is_dir():
        known = ", ".join(
            str(t.relative_to(settings.lake_root)) for t in delta.find_tables(settings.lake_root)
        )
        raise ConfigError(f"no table {name!r} in the lake", hint=f"tables: {known or '(none yet)'}")
    return path


def history(settings: Settings, name: str, limit: int = 20) -> list[dict[str, Any]]:
    entries = delta.history_of(table_path(settings, name), limit)
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
    path = table_path(settings, name)
    with delta.lake_lock(settings.lake_root):
        return delta.restore_table(path, version if version is not None else str(timestamp))


# ---------------------------------------------------------------------------------------- backups


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def backup(settings: Settings, dest: Path) -> dict[str, Any]:
    """Copy a consistent snapshot of every table to ``dest``: each table's log up to its current
    version and the data files of that version. Files already in ``dest`` with the same size and
    checksum are not copied again. A manifest lists every file with its checksum."""
    lake = settings.lake_root.resolve()  # data files come back from deltalake as absolute paths
    if dest.resolve().is_relative_to(lake):
        raise ConfigError(
            f"the backup folder {dest} is inside the lake", hint="back up to another disk or folder"
        )
    dest.mkdir(parents=True, exist_ok=True)
    previous = _read_manifest(dest) if (dest / MANIFEST).exists() else {"files": {}}
    manifest: dict[str, Any] = {"created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                                "lakectl_version": __version__, "tables": {}, "files": {}}  # fmt: skip
    copied = reused = 0
    with delta.lake_lock(lake):
        for table in delta.find_tables(lake):
            version, files = delta.snapshot_files(table)
            name = str(table.relative_to(lake))
            manifest["tables"][name] = version
            for source in files:
                relative = str(source.relative_to(lake))
                known = previous["files"].get(relative)
                target = dest / relative
                size = source.stat().st_size
                # Delta files never change once written: same name and size means same bytes
                if known and known["size"] == size and target.exists() and target.stat().st_size == size:
                    manifest["files"][relative] = known
                    reused += 1
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
                manifest["files"][relative] = {"size": size, "sha256": _sha256(target)}
                copied += 1
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return {"tables": manifest["tables"], "copied": copied, "already_there": reused, "dest": str(dest)}


def _read_manifest(dest: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads((dest / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise StorageError(
            f"{dest} holds no readable backup manifest ({exc})", hint="is this a lakectl backup?"
        ) from None
    return data


def verify_backup(dest: Path) -> dict[str, Any]:
    """Check every file's checksum and that every table opens at its backed-up version."""
    manifest = _read_manifest(dest)
    problems = []
    for relative, info in manifest["files"].items():
        path = dest / relative
        if not path.exists():
            problems.append(f"missing: {relative}")
        elif path.stat().st_size != info["size"] or _sha256(path) != info["sha256"]:
            problems.append(f"changed: {relative}")
    for name, version in manifest["tables"].items():
        try:
            table = delta.open_table(dest / name)
            if table is None or table.version() != version:
                problems.append(f"table {name} does not open at version {version}")
        except Exception as exc:  # a damaged log raises many kinds of errors
            problems.append(f"table {name}: {str(exc).splitlines()[0]}")
    return {
        "ok": not problems,
        "files": len(manifest["files"]),
        "tables": manifest["tables"],
        "problems": problems,
    }


def restore_backup(dest: Path, lake: Path, force: bool = False) -> dict[str, Any]:
    """Rebuild a lake from a backup: every table opens at its backed-up version."""
    report = verify_backup(dest)
    if not report["ok"]:
        raise StorageError(
            f"the backup in {dest} is damaged: {report['problems'][:3]}", hint="use an older backup"
        )
    if lake.exists() and any(lake.iterdir()):
        if not force:
            raise ConfigError(
                f"{lake} is not empty", hint="restore into an empty folder, or pass --force to replace it"
            )
        shutil.rmtree(lake)
    manifest = _read_manifest(dest)
    for relative in manifest["files"]:
        target = lake / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(dest / relative, target)
    return {"lake": str(lake), "tables": manifest["tables"]}
