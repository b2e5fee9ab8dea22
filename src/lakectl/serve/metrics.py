"""/metrics in the Prometheus text format: what the lake holds (read at scrape time) plus what
this server did (counters and latencies)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import polars as pl
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from lakectl.config import Settings
from lakectl.lake import Lake, ledger
from lakectl.service.watch import quarantined


class LakeCollector(Collector):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        lake = Lake.from_settings(self.settings)
        files = GaugeMetricFamily("lakectl_files", "Files in the ingest log by outcome",
                                  labels=["cluster", "status"])  # fmt: skip
        rows = GaugeMetricFamily("lakectl_rows_ingested", "Rows ingested into bronze", labels=["cluster"])
        last = GaugeMetricFamily("lakectl_last_ingest_timestamp_seconds", "Last successful ingest (Unix time)",
                                 labels=["cluster"])  # fmt: skip
        if lake.ingest_log().exists():
            log = ledger.read(lake)
            for cluster, status, count in log.group_by("cluster", "status").len().iter_rows():
                files.add_metric([cluster or "", status or ""], count)
            ingested = log.filter(pl.col("status") == "ingested")
            for cluster, total, finished in (
                ingested.group_by("cluster")
                .agg(pl.col("rows").sum(), pl.col("finished_at").max())
                .iter_rows()
            ):
                rows.add_metric([cluster or ""], total or 0)
                last.add_metric([cluster or ""], finished.timestamp() if finished else 0)
        yield from (files, rows, last)
        duration = GaugeMetricFamily("lakectl_promotion_duration_seconds", "Duration of the last promotion",
                                     labels=["layer", "cluster"])  # fmt: skip
        promoted = GaugeMetricFamily("lakectl_last_promotion_timestamp_seconds", "Last promotion (Unix time)",
                                     labels=["layer", "cluster"])  # fmt: skip
        runs = lake.runs().read_arrow(["layer", "cluster", "duration_s", "started_at"])
        if runs is not None and runs.num_rows:
            latest = pl.DataFrame(runs).sort("started_at").group_by("layer", "cluster").last()
            for layer, cluster, seconds, started in latest.iter_rows():
                duration.add_metric([layer or "", cluster or ""], seconds or 0.0)
                promoted.add_metric([layer or "", cluster or ""], started.timestamp() if started else 0)
        yield from (duration, promoted)
        size = GaugeMetricFamily("lakectl_quarantine_files", "Files waiting in the quarantine")
        size.add_metric([], len(quarantined(self.settings)))
        yield size


class Metrics:
    """One registry per app, so tests (and two apps in one process) never share counters."""

    def __init__(self, settings: Settings) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(LakeCollector(settings))
        self.uploads = Counter(
            "lakectl_uploads", "Uploaded files by outcome", ["status"], registry=self.registry
        )
        self.webhooks = Counter(
            "lakectl_webhook_events", "Webhook requests by platform and outcome", ["platform", "outcome"],
            registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "lakectl_http_request_duration_seconds", "Request latency by route", ["route"],
            registry=self.registry, buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )  # fmt: skip

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def observe(self, route: Any, seconds: float) -> None:
        self.latency.labels(str(route)).observe(seconds)
