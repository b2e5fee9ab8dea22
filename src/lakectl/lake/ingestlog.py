"""The ingest log for people: filtered by status, cluster, time and file; the rows cut from a file."""

from __future__ import annotations

import fnmatch
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from lakectl.config import Settings
from lakectl.errors import ConfigError
from lakectl.lake import Lake, ledger

STATUSES = ("ingested", "skipped", "rejected")
RELATIVE = re.compile(r"^(\d+)\s*([mhdw])$")
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``7d``, ``12h``, ``30m``, ``2w``, a date (``2026-10-01``, midnight UTC) or an ISO-8601 time."""
    now = now or datetime.now(UTC)
    match = RELATIVE.match(text.strip().lower())
    if match:
        return now - timedelta(**{UNITS[match.group(2)]: int(match.group(1))})
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"--since {text!r} is not a time", hint="use e.g. 7d, 12h, 2026-10-01 or 2026-10-01T08:00:00Z"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _matches_file(frame: pl.DataFrame, pattern: str) -> pl.Expr:
    """A glob (``hotmart_*.csv``) over names, else a case-insensitive part of the name or path."""
    if any(ch in pattern for ch in "*?["):
        regex = "(?i)^" + fnmatch.translate(pattern).removeprefix("(?s:").removesuffix(")\\Z") + "$"
        return pl.col("file_name").str.contains(regex)
    part = re.escape(pattern.lower())
    return pl.col("file_name").str.to_lowercase().str.contains(part) | pl.col(
        "path"
    ).str.to_lowercase().str.contains(part)


def entries(
    settings: Settings,
    status: str | None = None,
    cluster: str | None = None,
    since: datetime | None = None,
    file: str | None = None,
) -> pl.DataFrame:
    """Ledger rows, newest first, that pass every filter given."""
    if status is not None and status not in STATUSES:
        raise ConfigError(f"unknown status {status!r}", hint=f"use one of {', '.join(STATUSES)}")
    if cluster is not None:
        settings.check_cluster(cluster)
    frame = ledger.read(Lake.from_settings(settings))
    if status is not None:
        frame = frame.filter(pl.col("status") == status)
    if cluster is not None:
        frame = frame.filter(pl.col("cluster") == cluster)
    if since is not None:
        frame = frame.filter(pl.col("finished_at") >= since)
    if file is not None:
        frame = frame.filter(_matches_file(frame, file))
    return frame.sort("finished_at", descending=True, nulls_last=True)


def rows_left_out(settings: Settings, file: str) -> list[dict[str, Any]]:
    """For each ingest of a file (by name, path part or sha256 prefix): the title, total and footer
    rows that were cut, per sheet, with the header row that was kept."""
    log = ledger.read(Lake.from_settings(settings)).filter(pl.col("status") == "ingested")
    hit = log.filter(_matches_file(log, file) | pl.col("sha256").str.starts_with(file.lower()))
    if hit.is_empty():
        raise ConfigError(
            f"no ingested file matches {file!r}",
            hint="see the file names with 'lakectl log'; rejected files have no rows in bronze",
        )
    found = []
    for row in hit.sort("finished_at").iter_rows(named=True):
        dropped = json.loads(row["dropped_rows"] or "{}")
        headers = json.loads(row["headers_original"] or "{}")
        found.append({"file": row["file_name"], "cluster": row["cluster"], "sha256": row["sha256"],
                      "ingested_at": row["finished_at"], "rows": row["rows"],
                      "sheets": [{"sheet": sheet, "header": headers.get(sheet, []), "left_out": dropped.get(sheet, [])}
                                 for sheet in sorted(set(headers) | set(dropped))]})  # fmt: skip
    return found
