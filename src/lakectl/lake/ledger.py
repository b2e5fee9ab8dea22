"""The ingest log: one row per file event (ingested, skipped, rejected) in a Delta table.

The bronze commit is the source of truth: its commit metadata carries the same record, so a crash
between the bronze commit and the ledger append is repaired by ``reconcile`` on the next run.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from lakectl.lake import FILES_KEY, INGEST_LOG_SCHEMA, Lake, now

__all__ = ["FILES_KEY", "FORGOTTEN_KEY", "append", "commit_record", "first_ingests", "forget", "ingests", "now",
           "read", "reconcile", "sql_ids"]  # fmt: skip
# sha256s whose rows a bronze commit removed (forget, restore): reconcile never brings them back
FORGOTTEN_KEY = "lakectl.forgotten"


def append(lake: Lake, records: list[dict[str, Any]]) -> None:
    if not records:
        return
    rows = [{name: record.get(name) for name in INGEST_LOG_SCHEMA.names} for record in records]
    table = pa.Table.from_pylist(rows, schema=INGEST_LOG_SCHEMA)
    lake.ingest_log().append_once(table, [], {"lakectl.operation": "ledger"})


def read(lake: Lake) -> pl.DataFrame:
    table = lake.ingest_log().read_arrow()
    return pl.DataFrame(INGEST_LOG_SCHEMA.empty_table() if table is None else table)


def first_ingests(lake: Lake, shas: list[str]) -> dict[str, dict[str, Any]]:
    """For each of these hashes already ingested, the ledger row of its first successful ingest."""
    log = lake.ingest_log()
    if not shas or not log.exists():
        return {}
    frame = (
        log.scan()
        .filter(pl.col("sha256").is_in(shas) & (pl.col("status") == "ingested"))
        .sort("finished_at")
        .unique("sha256", keep="first")
        .collect()
    )
    return {row["sha256"]: row for row in frame.iter_rows(named=True)}


def ingests(lake: Lake, sha256: str | None = None) -> pl.DataFrame:
    """The ledger's ``ingested`` rows (of one file, given its hash)."""
    frame = read(lake).filter(pl.col("status") == "ingested")
    return frame if sha256 is None else frame.filter(pl.col("sha256") == sha256)


def sql_ids(ingest_ids: list[str]) -> str:
    """``('a', 'b')`` for a predicate; ingest ids are hex, anything else is left out."""
    return "(" + ", ".join(f"'{i}'" for i in ingest_ids if i.isalnum()) + ")"


def forget(lake: Lake, ingest_ids: list[str]) -> None:
    """Drop these ingests from the ledger, after the bronze commit (with FORGOTTEN_KEY) that removed
    their rows: the next ingest of the same bytes takes them again. Running it twice is harmless."""
    if ingest_ids:
        lake.ingest_log().delete_where(f"status = 'ingested' AND ingest_id IN {sql_ids(ingest_ids)}")


def reconcile(lake: Lake, clusters: list[str]) -> int:
    """Make the ledger agree with bronze after a crash: add the rows of files whose bronze commit
    landed without its ledger row, and drop the rows of files a later bronze commit took out
    (forget, restore) when the process died before the ledger forgot them.

    Each cluster's commits newer than its newest ledger row are replayed in order, on their own:
    a forget or restore in one cluster says nothing of the same bytes in another (a file forgotten
    from the wrong cluster and ingested into the right one)."""
    known = read(lake).filter(pl.col("status") == "ingested")
    repaired: list[dict[str, Any]] = []
    stale: list[str] = []
    for cluster in clusters:
        bronze = lake.bronze(cluster)
        if not bronze.exists():
            continue
        mine = known.filter(pl.col("cluster") == cluster)
        versions = mine["bronze_version"].drop_nulls()
        after = int(versions.max()) if len(versions) else -1  # type: ignore[arg-type]
        present = set(mine["sha256"].to_list())  # this cluster's files, as the replay goes
        found: list[dict[str, Any]] = []
        for version, commit in bronze.commits_since(after):
            for sha in json.loads(commit.get(FORGOTTEN_KEY, "[]")):
                found = [r for r in found if r["sha256"] != sha]
                present.discard(sha)
                older = mine.filter((pl.col("sha256") == sha) & ~(pl.col("bronze_version") >= version))
                stale += older["ingest_id"].to_list()
            for record in json.loads(commit.get(FILES_KEY, "[]")):
                if record["sha256"] not in present:
                    # the commit metadata is written before the stream is counted: count from bronze
                    rows = (
                        bronze.scan(version=version)
                        .filter(pl.col("_ingest_id") == record["ingest_id"])
                        .select(pl.len())
                        .collect()
                        .item()
                    )
                    record.update(bronze_version=version, finished_at=now(), rows=rows)
                    if isinstance(record.get("started_at"), str):
                        record["started_at"] = datetime.fromisoformat(record["started_at"])
                    found.append(record)
                    present.add(record["sha256"])
        repaired += found
    forget(lake, stale)
    append(lake, repaired)
    return len(repaired) + len(stale)


def commit_record(records: list[dict[str, Any]]) -> str:
    """Ledger records as they travel inside a bronze commit (JSON, timestamps as ISO text)."""
    return json.dumps(
        [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.items()} for r in records]
    )


# ------------------------------------------------------------------------------ remembered rejections
# A file rejected for its bytes is not parsed again (a lying zip bomb costs seconds and gigabytes each
# time): its verdict is kept by hash, with the settings that reached it, until those settings change
# or `lakectl quarantine retry` asks. One small JSON file per hash: cheap, atomic, no Delta commit.


def rejections_path(state: Path) -> Path:
    return state / "rejected"


def remember_rejection(state: Path, sha256: str, settings_id: str, verdict: dict[str, Any]) -> None:
    folder = rejections_path(state)
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{sha256}.{os.getpid()}.tmp"
    temporary.write_text(json.dumps({**verdict, "settings_id": settings_id}, default=str), encoding="utf-8")
    temporary.replace(folder / f"{sha256}.json")  # atomic: a reader never sees half a verdict


def remembered_rejection(state: Path, sha256: str, settings_id: str) -> dict[str, Any] | None:
    """The verdict on these bytes under these settings, if there is one."""
    try:
        verdict: dict[str, Any] = json.loads((rejections_path(state) / f"{sha256}.json").read_text())
    except (OSError, ValueError):
        return None
    return verdict if verdict.get("settings_id") == settings_id else None


def forget_rejection(state: Path, sha256: str) -> None:
    (rejections_path(state) / f"{sha256}.json").unlink(missing_ok=True)
