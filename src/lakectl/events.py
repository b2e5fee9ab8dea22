"""Webhook events: kept in bronze exactly once, then taken into silver like any other sale source.

``bronze/_events/<cluster>`` holds one row per event: the raw JSON body as it arrived plus the flat
fields of ``webhooks.FIELDS`` (text, as all of bronze). An event id is stored once (EventStore),
so a platform re-sending a delivery, or someone replaying one, changes nothing. Events are numbered
in the order they were stored (``seq``); silver's events watermark is the last number it took.
(Commit history is no watermark here: webhooks commit while a promotion reads, and
``DeltaTable.history`` read during a concurrent commit labelled commits with the wrong versions.)

Into silver an event maps to the canonical columns by a dedicated function (the payload schema is
fixed, no recognition needed) and is merged by (platform, transaction_id): a new key becomes a sale;
on a known key the event sets the status (a Hotmart ``PURCHASE_REFUNDED`` after an export said
``Aprovado``) and only fills the values the row lacks.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import polars as pl
import pyarrow as pa

from lakectl.config import Settings
from lakectl.lake import Lake, Table, now
from lakectl.promote import EVENTS_WATERMARK, WATERMARK, salt
from lakectl.transform import parse
from lakectl.transform.silver import KEY, SILVER_SCHEMA, customer_key
from lakectl.transform.webhooks import FIELDS, Event

log = logging.getLogger(__name__)

EVENTS_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("seq", pa.int64()),  # 1, 2, 3… in the order events were stored: promotion's watermark
        ("platform", pa.string()),
        ("event_type", pa.string()),
        ("occurred_at", pa.timestamp("us", tz="UTC")),
        ("received_at", pa.timestamp("us", tz="UTC")),
        *[(name, pa.string()) for name in FIELDS],
        ("body_sha256", pa.string()),
        ("raw", pa.string()),
    ]
)
PLATFORM_PRIORITY = 1  # the same rank as a platform export: never below a hand-kept sheet
_KEEP = {"status", "status_raw", "_source_file", "_source_sha256", "_sheet", "_row", "_bronze_version",
         "_source_priority", "_profile"}  # fmt: skip
# A known sale takes the event's status and lineage; its other values are kept, gaps filled.
_UPDATES = {
    name: (f"s.{name}" if name in _KEEP else f"coalesce(t.{name}, s.{name})")
    for name in SILVER_SCHEMA.names()
    if name not in KEY
}
_CLAUSES: list[tuple[str, str | dict[str, str] | None, str]] = [
    ("update", _UPDATES, "s._source_priority >= t._source_priority"),
    ("insert_all", None, "s.transaction_id IS NOT NULL"),
]


@dataclass
class _Known:
    version: int  # the events table version these ids and seq were read at
    ids: set[tuple[str, str]]
    seq: int


@dataclass
class _Waiting:
    """One event waiting for the commit that stores it."""

    event: Event
    body: bytes
    received_at: Any
    done: bool = False
    version: int | None = None
    error: BaseException | None = None


class EventStore:
    """Appends events to bronze once by (platform, event id), numbering them 1, 2, 3….

    Group commit: events that arrive while a commit of their cluster is under way wait for it to
    end, then go together in the next one, so a burst costs a few commits instead of one each.
    ``record`` returns only once its event's commit is done: an answer is never ahead of the data.

    The ids already stored and the last number are kept in memory and re-read only when the table
    moved under us (another process), so a check costs no scan. The check and the append run under
    the lake's ``events`` lock, so two processes cannot both store one id; it is not the ``write``
    lock, so a webhook is never held up by an ingest or a promotion.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.lake = Lake.from_settings(settings)
        self.known: dict[str, _Known] = {}
        self.changed = threading.Condition()  # guards queued and committing
        self.queued: dict[str, list[_Waiting]] = {}
        self.committing: set[str] = set()

    def _sync(self, table: Table, cluster: str) -> _Known:
        current = table.version()
        known = self.known.get(cluster)
        if known is None or known.version != current:
            ids: set[tuple[str, str]] = set()
            top = 0
            if current >= 0:
                stored = table.scan(version=current).select("platform", "event_id", "seq").collect()
                ids = set(stored.select("platform", "event_id").iter_rows())
                top = int(stored["seq"].max() or 0)  # type: ignore[arg-type]
            known = self.known[cluster] = _Known(current, ids, top)
        return known

    def record(self, cluster: str, event: Event, body: bytes) -> int | None:
        """Store the event; the version of the commit that holds it, or None when its id was stored
        before. Raises what the commit raised: then the event is not stored."""
        waiting = _Waiting(event, body, now())
        with self.changed:
            self.queued.setdefault(cluster, []).append(waiting)
            # the first to find no commit under way commits everything queued (its own event too)
            while cluster in self.committing and not waiting.done:
                self.changed.wait()
            batch: list[_Waiting] = []
            if not waiting.done:
                batch = self.queued.pop(cluster)
                self.committing.add(cluster)
        if batch:
            try:
                self._commit(cluster, batch)
            except BaseException as exc:  # every event of the batch is then not stored
                for each in batch:
                    each.error = each.error or exc
            finally:
                with self.changed:
                    for each in batch:
                        each.done = True
                    self.committing.discard(cluster)
                    self.changed.notify_all()
        if waiting.error is not None:
            raise waiting.error
        return waiting.version

    def _commit(self, cluster: str, batch: list[_Waiting]) -> None:
        table = self.lake.events(cluster)
        with self.lake.lock("events"):
            known = self._sync(table, cluster)
            fresh: list[_Waiting] = []
            keys: set[tuple[str, str]] = set()
            rows: list[dict[str, Any]] = []
            for each in batch:
                key = (each.event.platform, each.event.event_id)
                if key in known.ids or key in keys:
                    continue  # stored before, or earlier in this batch: a duplicate (None)
                keys.add(key)
                fresh.append(each)
                rows.append(self._row(each, known.seq + len(rows) + 1))
            if not rows:
                return
            data = pa.Table.from_pylist(rows, schema=EVENTS_SCHEMA)
            version = table.append_once(data, [], {"lakectl.operation": "webhook_event"})
            if version is not None:  # only maintenance commits can come in between (not events)
                known.version, known.seq = version, known.seq + len(rows)
                known.ids |= keys
            for each in fresh:
                each.version = version

    @staticmethod
    def _row(waiting: _Waiting, seq: int) -> dict[str, Any]:
        event, body = waiting.event, waiting.body
        return {
            "event_id": event.event_id,
            "seq": seq,
            "platform": event.platform,
            "event_type": event.event_type,
            "occurred_at": event.occurred_at,
            "received_at": waiting.received_at,
            **{name: event.fields.get(name) for name in FIELDS},
            "body_sha256": hashlib.sha256(body).hexdigest(),
            "raw": body.decode("utf-8", errors="replace"),
        }


def to_silver(events: pl.DataFrame, cluster: str, customer_salt: str) -> pl.DataFrame:
    """Bronze event rows -> canonical silver rows, one per key (the latest event wins; a value an
    event leaves out is taken from an earlier event of the same sale). Pure."""
    text = pl.col(*FIELDS, "event_id", "platform", "event_type", "body_sha256").cast(pl.String)
    useful = events.with_columns(text).filter(
        pl.col("status").is_not_null() & pl.col("transaction_id").is_not_null()
    )
    if useful.is_empty():
        return pl.DataFrame(schema=SILVER_SCHEMA)
    typed = useful.sort("occurred_at", "seq", nulls_last=False).select(
        pl.lit(cluster).alias("cluster"),
        pl.col("platform"),
        pl.col("transaction_id"),
        pl.col("status"),
        pl.col("status_raw"),
        pl.col("product_id"),
        pl.col("product_name"),
        *[
            parse.amount(pl.col(m), False).alias(m)
            for m in ("gross_amount", "net_amount", "commission_amount")
        ],
        pl.col("currency").str.to_uppercase().fill_null("BRL").alias("currency"),
        *[parse.timestamp(pl.col(t), "America/Sao_Paulo").alias(t) for t in ("purchased_at", "approved_at")],
        pl.col("payment_method"),
        pl.col("installments").cast(pl.Int32, strict=False).alias("installments"),
        pl.col("customer_name"),
        parse.email(pl.col("customer_email")).alias("customer_email"),
        parse.phone(pl.col("customer_phone")).alias("customer_phone"),
        parse.document_digits(pl.col("customer_document")).alias("customer_document"),
        pl.lit(None, pl.String).alias("extras"),
        pl.format("webhook:{}:{}", pl.col("platform"), pl.col("event_id")).alias("_source_file"),
        pl.col("body_sha256").alias("_source_sha256"),
        pl.col("event_type").alias("_sheet"),
        pl.lit(None, pl.Int64).alias("_row"),
        pl.col("_bronze_version").cast(pl.Int64),
        pl.lit(PLATFORM_PRIORITY, pl.Int8).alias("_source_priority"),
        pl.format("{}_webhook", pl.col("platform")).alias("_profile"),
    )
    latest = typed.group_by(KEY, maintain_order=True).agg(
        pl.col("status", "status_raw", "_source_file", "_source_sha256", "_sheet", "_bronze_version").last(),
        pl.all()
        .exclude(*KEY, "status", "status_raw", "_source_file", "_source_sha256", "_sheet", "_bronze_version")
        .drop_nulls()
        .last(),
    )
    emails = latest["customer_email"].to_list()
    documents = latest["customer_document"].to_list()
    return (
        latest.with_columns(
            pl.Series("customer_key", [customer_key(e, customer_salt) if e else None for e in emails]),
            pl.Series(
                "customer_document_valid",
                [parse.is_valid_document(d) if d else None for d in documents],
                pl.Boolean,
            ),
        )
        .select(SILVER_SCHEMA.names())
        .cast(SILVER_SCHEMA)
    )


def _new_events(table: Table, after: int) -> tuple[pl.DataFrame, int]:
    """Events numbered after ``after``, from one snapshot (webhooks keep landing meanwhile), with
    that snapshot's version as their ``_bronze_version``; and the last number read."""
    current = table.version()
    frame = (
        table.scan(version=current)
        .filter(pl.col("seq") > after)
        .with_columns(pl.lit(current, pl.Int64).alias("_bronze_version"))
        .collect()
    )
    return frame, int(frame["seq"].max() or after) if frame.height else after  # type: ignore[arg-type]


def promote_events(settings: Settings, cluster: str, full: bool = False) -> dict[str, Any]:
    """Merge the cluster's events newer than the silver events watermark into silver."""
    started = time.monotonic()
    lake = Lake.from_settings(settings)
    table, silver = lake.events(cluster), lake.silver(cluster)
    if not table.exists():
        return {"status": "no_events"}
    with lake.lock():
        watermark = -1 if full else int(silver.latest_metadata(EVENTS_WATERMARK) or -1)
        events, last = _new_events(table, watermark)
        if last <= watermark:
            return {"status": "up_to_date", "events_seq": last}
        rows = to_silver(events, cluster, salt(settings))
        metadata = {EVENTS_WATERMARK: str(last), "lakectl.operation": "promote_events"}
        files_watermark = silver.latest_metadata(WATERMARK)
        if files_watermark is not None:  # keep the bronze watermark in the newest commit too
            metadata[WATERMARK] = files_watermark
        result: dict[str, Any] = {"status": "promoted", "events": events.height, "sales": rows.height}
        if rows.is_empty():
            if silver.exists():
                result["silver_version"] = silver.append_once(rows.to_arrow(), [], metadata)
        elif not silver.exists():
            result["silver_version"] = silver.replace(rows.to_arrow(), metadata)
            result["inserted"] = rows.height
        else:
            predicate = " AND ".join(f"t.{k} = s.{k}" for k in KEY)
            metrics = silver.merge(rows.to_arrow(), predicate, _CLAUSES, metadata, key=KEY)
            result.update(silver_version=metrics["version"], inserted=metrics.get("num_target_rows_inserted", 0),
                          updated=metrics.get("num_target_rows_updated", 0))  # fmt: skip
    result["duration_s"] = round(time.monotonic() - started, 3)
    return result
