"""bronze/<cluster> -> silver/<cluster>: incremental, idempotent, accounted for.

Only bronze commits newer than the silver watermark are read; the watermark is written in the same
silver commit as the data (commit metadata), so a crash anywhere leaves the previous watermark and a
re-run redoes the same, idempotent merge. Rejects are appended once per watermark (app transaction).
Every run leaves a row in ``_lakectl/runs``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pyarrow as pa

from lakectl.config import Settings
from lakectl.errors import AlreadyRunning, ConfigError, TransientError
from lakectl.faults import fault
from lakectl.lake import FILES_KEY, RUNS_SCHEMA, Lake, Table, ledger, now
from lakectl.transform import gold
from lakectl.transform.profiles import Profile, profile_from_config
from lakectl.transform.recognise import MATCHER_VERSION
from lakectl.transform.silver import (
    KEY,
    REJECTS_SCHEMA,
    SILVER_SCHEMA,
    Batch,
    orphan_events,
    settle_unknown,
    summary,
    transform,
)

log = logging.getLogger(__name__)

WATERMARK = "lakectl.silver.bronze_version"
PROFILES_KEY = "lakectl.silver.profiles"  # fingerprint of the profiles the layouts were mapped with
LAYOUT_RULES = ("layout_known", "column_found")
EVENTS_WATERMARK = "lakectl.silver.events_version"  # webhook events promoted (events.py)
SILVER_FILE_BYTES = 8 << 20  # ~100k rows a file: a merge rewrites a few of them, not the table


@dataclass
class Promotion:
    cluster: str
    status: str  # promoted | up_to_date | no_bronze | dry_run
    bronze_from: int = -1
    bronze_to: int = -1
    inserted: int = 0
    updated: int = 0
    silver_version: int | None = None
    duration_s: float = 0.0
    report: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def salt(settings: Settings) -> str:
    """The customer_key salt: from settings, else a file created once next to (never in) the lake."""
    if settings.silver.customer_salt is not None:
        return settings.silver.customer_salt.get_secret_value()
    path = settings.silver.salt_file
    lake = Lake.from_settings(settings)
    if lake.is_local and path.resolve().is_relative_to(lake.local_root.resolve()):
        raise ConfigError(
            f"silver.salt_file {path} is inside the lake",
            hint="keep the salt outside lake_root (it must never be shared with the data)",
        )
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
        log.warning("created a new customer_key salt in %s: back it up; a new salt changes every key", path)
    return path.read_text().strip()


def user_profiles(settings: Settings, cluster: str) -> list[Profile]:
    configured = settings.silver.profiles.get(cluster, {}) | settings.silver.profiles.get("*", {})
    return [profile_from_config(name, cfg.model_dump()) for name, cfg in configured.items()]


def _new_bronze(lake: Lake, cluster: str, after: int) -> tuple[pl.DataFrame, int]:
    """Bronze rows committed after version ``after``, with their ``_bronze_version``: read from
    the files those commits added, not from a scan of the table."""
    bronze = lake.bronze(cluster)
    changes = bronze.changes_since(after)
    versions: dict[str, int] = {}
    for version, commit in changes.commits:
        for record in json.loads(commit.get(FILES_KEY, "[]")):
            versions[record["ingest_id"]] = version
    if changes.files is None:  # log retention removed commits since: the ledger knows the ingests
        versions = _ingests_after(lake, cluster, after)
    if not versions:
        return pl.DataFrame(), changes.version
    ids = pl.DataFrame({"_ingest_id": list(versions), "_bronze_version": list(versions.values())})
    wanted = pl.col("_ingest_id").is_in(ids["_ingest_id"].implode())
    if changes.files is None:
        frame = bronze.scan(version=changes.version).filter(wanted).collect()
    else:
        dataset = bronze.dataset(changes.version, changes.files)
        assert dataset is not None
        frame = pl.DataFrame(pl.from_arrow(dataset.to_table())).filter(wanted)
    return frame.join(ids, on="_ingest_id", how="left"), changes.version


def _ingests_after(lake: Lake, cluster: str, after: int) -> dict[str, int]:
    """ingest_id -> bronze version of the cluster's ingests committed after ``after``, per the ledger."""
    ingests = ledger.read(lake).filter(
        pl.col("cluster") == cluster, pl.col("status") == "ingested", pl.col("bronze_version") > after
    )
    return dict(ingests.select("ingest_id", "bronze_version").iter_rows())


def _known_keys(silver: Table, batch: Batch) -> pl.DataFrame:
    if batch.events.is_empty() or not silver.exists():
        return pl.DataFrame(schema={"platform": pl.String, "transaction_id": pl.String})
    wanted = batch.events.select(KEY).unique()
    return (
        silver.scan()
        .select(KEY)
        .filter(pl.col("transaction_id").is_in(wanted["transaction_id"].implode()))
        .collect()
        .join(wanted, on=list(KEY), how="semi")
    )


def _same_ids(silver: Table, batch: Batch) -> pl.DataFrame:
    """Silver's sales with a transaction id this batch names (to tell one sale under two platforms)."""
    ids = pl.concat([batch.sales.select("transaction_id"), batch.events.select("transaction_id")]) \
        if batch.events.height else batch.sales.select("transaction_id")  # fmt: skip
    return (
        silver.scan()
        .select(*KEY, "customer_email")
        .filter(pl.col("transaction_id").is_in(ids["transaction_id"].unique().implode()))
        .collect()
    )


def profiles_fingerprint(settings: Settings, cluster: str) -> str:
    """What the mapping of a cluster's layouts depends on: its user profiles and the matcher."""
    configured = settings.silver.profiles.get(cluster, {}) | settings.silver.profiles.get("*", {})
    text = json.dumps({n: c.model_dump() for n, c in sorted(configured.items())}, sort_keys=True, default=str)
    return hashlib.sha256(f"{MATCHER_VERSION}\x1f{text}".encode()).hexdigest()[:16]


def _layout_rejects(lake: Lake, cluster: str) -> int:
    rejects = lake.rejects()
    if not rejects.exists():
        return 0
    return int(
        rejects.scan()
        .filter(pl.col("cluster") == cluster, pl.col("rule").is_in(list(LAYOUT_RULES)))
        .select(pl.len())
        .collect()
        .item()
    )


def _remap_needed(lake: Lake, cluster: str, silver: Table, fingerprint: str) -> bool:
    """A profile or the matcher changed since the last promotion and some layout's rows were
    rejected as a layout problem: they are read again (the cluster is rebuilt, rejects replaced)."""
    if not silver.exists() or silver.latest_metadata(PROFILES_KEY) == fingerprint:
        return False
    rejected = _layout_rejects(lake, cluster)
    if rejected:
        log.info("%s: profiles changed; re-reading %d row(s) rejected for their layout", cluster, rejected)
    return bool(rejected)


def promote_cluster(settings: Settings, cluster: str, full: bool = False, dry_run: bool = False) -> Promotion:
    started = time.monotonic()
    started_at = now()
    lake = Lake.from_settings(settings)
    run_id = uuid.uuid4().hex[:16]
    bronze = lake.bronze(cluster)
    silver = lake.silver(cluster)
    if not bronze.exists():
        return Promotion(cluster, "no_bronze")
    with lake.lock():
        fingerprint = profiles_fingerprint(settings, cluster)
        full = full or _remap_needed(lake, cluster, silver, fingerprint)
        watermark = int(silver.latest_metadata(WATERMARK) or -1) if not full else -1
        rows, current = _new_bronze(lake, cluster, watermark)
        # commits without new rows (compaction, forget, restore) leave silver as it is: moving the
        # watermark alone would be a commit, and a gold rebuild, after every maintain
        if not full and (current <= watermark or rows.is_empty()):
            return Promotion(cluster, "up_to_date", watermark, current)
        batch = transform(rows, cluster, salt(settings), settings.silver.expectations, user_profiles(settings, cluster)) \
            if rows.height else Batch(pl.DataFrame(schema=SILVER_SCHEMA), pl.DataFrame(), pl.DataFrame())  # fmt: skip
        if not full and silver.exists():
            settle_unknown(batch, _same_ids(silver, batch))
        orphan_events(
            batch,
            _known_keys(silver, batch)
            if not full
            else pl.DataFrame(schema={"platform": pl.String, "transaction_id": pl.String}),
            cluster,
        )
        result = Promotion(
            cluster, "dry_run" if dry_run else "promoted", watermark, current, report=summary(batch)
        )
        if dry_run:
            result.duration_s = round(time.monotonic() - started, 3)
            return result
        _write_rejects(lake, cluster, batch, run_id, current, full)
        fault("silver_after_rejects")
        metadata = {WATERMARK: str(current), PROFILES_KEY: fingerprint, "lakectl.operation": "promote_silver",
                    "lakectl.run_id": run_id}  # fmt: skip
        events_mark = None if full else silver.latest_metadata(EVENTS_WATERMARK)
        if events_mark is not None:  # a rebuild drops it, so that every webhook event is applied again
            metadata[EVENTS_WATERMARK] = events_mark
        sales = batch.sales.select(SILVER_SCHEMA.names()).cast(SILVER_SCHEMA).to_arrow()
        if full or not silver.exists():
            # sorted by key in modest files: a later merge rewrites only the files its keys fall in
            ordered = sales.sort_by([(k, "ascending") for k in KEY])
            result.silver_version = silver.replace(ordered, metadata, target_file_size=SILVER_FILE_BYTES)
            result.inserted = sales.num_rows
        elif sales.num_rows == 0 and batch.events.is_empty():
            # nothing to merge: still move the watermark, in a commit of its own
            result.silver_version = silver.append_once(sales, [], metadata)
        else:
            metrics = silver.merge(_merge_source(batch), " AND ".join(f"t.{k} = s.{k}" for k in KEY),
                                   _MERGE_CLAUSES, metadata, key=KEY)  # fmt: skip
            result.silver_version = metrics["version"]
            result.inserted = metrics.get("num_target_rows_inserted", 0)
            result.updated = metrics.get("num_target_rows_updated", 0)
    fault("silver_after_commit")
    result.duration_s = round(time.monotonic() - started, 3)
    _log_run(lake, result, run_id, full, started_at)
    return result


# Later rows win; a hand-kept sheet (priority 0) never overwrites a platform export (priority 1);
# an event row only changes the status of the sale it names.
_EVENT_UPDATES = {c: f"s.{c}" for c in ("status", "status_raw", "_source_file", "_source_sha256", "_sheet", "_row",
                                        "_bronze_version")}  # fmt: skip
_MERGE_CLAUSES: list[tuple[str, str | dict[str, str] | None, str]] = [
    ("delete", None, "s._row_kind = 'retire'"),  # an 'unknown' copy of a platform's sale
    ("update", _EVENT_UPDATES, "s._row_kind = 'event'"),
    ("update_all", None, "s._row_kind = 'sale' AND s._source_priority >= t._source_priority"),
    ("insert_all", None, "s._row_kind = 'sale'"),
]


def _merge_source(batch: Batch) -> pa.Table:
    sales = (
        batch.sales.select(SILVER_SCHEMA.names())
        .cast(SILVER_SCHEMA)
        .with_columns(pl.lit("sale").alias("_row_kind"))
    )
    events = batch.events.with_columns(pl.lit("event").alias("_row_kind"))
    retired = batch.retired.with_columns(pl.lit("retire").alias("_row_kind"))
    return pl.concat([sales, events, retired], how="diagonal_relaxed").to_arrow()


def _write_rejects(lake: Lake, cluster: str, batch: Batch, run_id: str, current: int, full: bool) -> None:
    rejects = lake.rejects()
    if full:
        rejects.delete_where(f"cluster = '{cluster}'")  # a rebuild replaces the cluster's rejects
    if batch.rejects.is_empty():
        return
    frame = batch.rejects.with_columns(pl.lit(run_id).alias("run_id")).select(REJECTS_SCHEMA.names())
    table = frame.cast(REJECTS_SCHEMA).to_arrow()
    app = f"lakectl:silver-rejects:{cluster}" + (f":full:{run_id}" if full else "")
    # once per watermark: a re-run after a crash between this append and the silver commit skips it
    rejects.append_once(table, [app], {"lakectl.operation": "silver_rejects"}, txn_version=current + 1)


def _log_run(lake: Lake, result: Promotion, run_id: str, full: bool, started_at: Any) -> None:
    report = result.report
    row = {
        "run_id": run_id,
        "layer": "silver",
        "cluster": result.cluster,
        "full": full,
        "dry_run": False,
        "bronze_from": result.bronze_from,
        "bronze_to": result.bronze_to,
        "rows_in": report.get("rows_in", 0),
        "transactions": report.get("transactions", 0),
        "inserted": result.inserted,
        "updated": result.updated,
        "status_updates": report.get("status_updates", 0),
        "folded": report.get("folded", 0),
        "rejected": json.dumps(report.get("rejected", {})),
        "warnings": json.dumps(report.get("warnings", {})),
        "unknown_layouts": json.dumps(report.get("unknown_layouts", []), ensure_ascii=False),
        "layouts": json.dumps(report.get("layouts", []), ensure_ascii=False, default=str),
        "silver_version": result.silver_version,
        "started_at": started_at,
        "duration_s": result.duration_s,
    }
    try:
        lake.runs().append_once(
            pa.Table.from_pylist([row], schema=RUNS_SCHEMA),
            [],
            {"lakectl.operation": "run_log"},
        )
    except Exception as exc:  # the run log is a record, never a reason to fail a promotion
        log.warning("could not write the run log: %s", exc)


def promote_silver(
    settings: Settings, clusters: list[str] | None = None, full: bool = False, dry_run: bool = False
) -> list[Promotion]:
    chosen = clusters or settings.clusters
    from lakectl.events import promote_events  # events builds on this module

    for cluster in chosen:
        settings.check_cluster(cluster)
    results = []
    for cluster in chosen:
        result = promote_cluster(settings, cluster, full=full, dry_run=dry_run)
        if not dry_run:  # then the webhook events, which may change what the files said
            result.report["webhook_events"] = promote_events(settings, cluster, full=full)
        results.append(result)
    return results


# ------------------------------------------------------------------------------------------- gold

GOLD_INPUTS = "lakectl.gold.silver_versions"


@contextmanager
def promotion_slot(lake: Lake) -> Iterator[None]:
    """Only one `promote gold|all` at a time: a second one (cron firing twice) leaves at once."""
    try:
        with lake.lock("promote", timeout_s=0):
            yield
    except TransientError:
        raise AlreadyRunning(
            "another 'lakectl promote' is already running; nothing was done",
            hint="it finishes on its own; the next scheduled run catches up",
        ) from None


def _silver_versions(settings: Settings) -> dict[str, int]:
    lake = Lake.from_settings(settings)
    return {cluster: lake.silver(cluster).data_version() for cluster in settings.clusters}


def read_silver(settings: Settings, columns: list[str] | None = None) -> pl.DataFrame:
    """The silver rows of every cluster (only ``columns``, when given)."""
    schema = SILVER_SCHEMA if columns is None else pl.Schema({c: SILVER_SCHEMA[c] for c in columns})
    lake = Lake.from_settings(settings)
    silvers = [lake.silver(c) for c in settings.clusters]
    frames = [table.scan().select(schema.names()).collect() for table in silvers if table.exists()]
    return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame(schema=schema)


def _stale_gold(lake: Lake, versions: dict[str, int]) -> list[str]:
    """The gold tables not built from these silver versions: each table records its own inputs
    in its commit, so a run killed between tables leaves exactly the unwritten ones stale."""
    stale = []
    for name in gold.TABLES:
        built_from = lake.gold(name).latest_metadata(GOLD_INPUTS)
        if built_from is None or json.loads(built_from) != versions:
            stale.append(name)
    return stale


def promote_gold_tables(settings: Settings, full: bool = False) -> dict[str, Any]:
    """Rebuild from silver every gold table whose recorded silver versions differ from the current
    ones (every table with ``full``); each is replaced in one commit that records its inputs."""
    started = time.monotonic()
    lake = Lake.from_settings(settings)
    versions = _silver_versions(settings)
    stale = list(gold.TABLES) if full else _stale_gold(lake, versions)
    if not stale:
        return {"status": "up_to_date", "silver_versions": versions, "tables": {}}
    tables = gold.build(read_silver(settings, list(gold.SILVER_COLUMNS)), settings.clusters, stale)
    metadata = {GOLD_INPUTS: json.dumps(versions), "lakectl.operation": "promote_gold"}
    written = {}
    with lake.lock():
        for name, frame in tables.items():
            lake.gold(name).replace(frame.to_arrow(), metadata)
            written[name] = frame.height
            fault("gold_between_tables")
    return {"status": "promoted", "silver_versions": versions, "tables": written,
            "duration_s": round(time.monotonic() - started, 3)}  # fmt: skip


def promote_gold(settings: Settings, full: bool = False) -> dict[str, Any]:
    with promotion_slot(Lake.from_settings(settings)):
        return promote_gold_tables(settings, full=full)


def promote_all(settings: Settings, full: bool = False) -> dict[str, Any]:
    """Silver for every cluster, then gold, as one scheduled job."""
    with promotion_slot(Lake.from_settings(settings)):
        silver_results = promote_silver(settings, full=full)
        return {
            "silver": [r.to_dict() for r in silver_results],
            "gold": promote_gold_tables(settings, full=full),
        }
