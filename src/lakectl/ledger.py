"""The ingest log: one row per file event (ingested, skipped, rejected) in a Delta table.

The bronze commit is the source of truth: its commit metadata carries the same record, so a crash
between the bronze commit and the ledger append is repaired by ``reconcile`` on the next run.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from lakectl import delta

FILES_KEY = "lakectl.files"

LEDGER_SCHEMA = pa.schema(
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


def ledger_path(lake_root: Path) -> Path:
    return lake_root / "_lakectl" / "ingest_log"


def bronze_path(lake_root: Path, cluster: str) -> Path:
    return lake_root / "bronze" / cluster


def now() -> datetime:
    return datetime.now(UTC)


def append(lake_root: Path, records: list[dict[str, Any]]) -> None:
    if not records:
        return
    rows = [{name: record.get(name) for name in LEDGER_SCHEMA.names} for record in records]
    table = pa.Table.from_pylist(rows, schema=LEDGER_SCHEMA)
    delta.append_once(ledger_path(lake_root), table, [], {"lakectl.operation": "ledger"})


def read(lake_root: Path) -> pl.DataFrame:
    table = delta.read_arrow(ledger_path(lake_root))
    return pl.DataFrame(LEDGER_SCHEMA.empty_table() if table is None else table)


def first_ingests(lake_root: Path, shas: list[str]) -> dict[str, dict[str, Any]]:
    """For each of these hashes already ingested, the ledger row of its first successful ingest."""
    if not shas or not delta.table_exists(ledger_path(lake_root)):
        return {}
    frame = (
        pl.scan_delta(str(ledger_path(lake_root)))
        .filter(pl.col("sha256").is_in(shas) & (pl.col("status") == "ingested"))
        .sort("finished_at")
        .unique("sha256", keep="first")
        .collect()
    )
    return {row["sha256"]: row for row in frame.iter_rows(named=True)}


def reconcile(lake_root: Path, clusters: list[str]) -> int:
    """Add ledger rows for files whose bronze commit landed but whose ledger row did not."""
    known = read(lake_root).filter(pl.col("status") == "ingested")
    repaired: list[dict[str, Any]] = []
    for cluster in clusters:
        path = bronze_path(lake_root, cluster)
        if not delta.table_exists(path):
            continue
        versions = known.filter(pl.col("cluster") == cluster)["bronze_version"].drop_nulls()
        after = int(versions.max()) if len(versions) else -1  # type: ignore[arg-type]
        shas = set(known["sha256"].to_list())
        for version, commit in delta.commit_metadata_since(path, after):
            for record in json.loads(commit.get(FILES_KEY, "[]")):
                if record["sha256"] not in shas:
                    # the commit metadata is written before the stream is counted: count from bronze
                    rows = (
                        pl.scan_delta(str(path), version=version)
                        .filter(pl.col("_ingest_id") == record["ingest_id"])
                        .select(pl.len())
                        .collect()
                        .item()
                    )
                    record.update(bronze_version=version, finished_at=now(), rows=rows)
                    if isinstance(record.get("started_at"), str):
                        record["started_at"] = datetime.fromisoformat(record["started_at"])
                    repaired.append(record)
                    shas.add(record["sha256"])
    append(lake_root, repaired)
    return len(repaired)


def commit_record(records: list[dict[str, Any]]) -> str:
    """Ledger records as they travel inside a bronze commit (JSON, timestamps as ISO text)."""
    return json.dumps(
        [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.items()} for r in records]
    )
