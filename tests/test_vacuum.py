"""Vacuum past the retention: replaced files older than `maintenance.vacuum_retention_hours` go,
fresh ones stay, and time travel works for exactly the versions whose files remain.

No sleeps and no retention of 0 (the setting cannot go below 1 h): a table's first commits are
moved eight days into the past through its real log, as if they had been written then (the commit
timestamps, the add and remove times in the log, and the files' mtimes).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from lakectl.cli import app
from lakectl.config import load_settings
from lakectl.lake.maintenance import maintain
from lakectl.pipeline import ingest_file
from lakectl.promote import promote_all

HOTMART = "Código da transação;Status da transação;Data da transação;Produto;Valor de compra com impostos\n"
AGE_MS = 8 * 24 * 3600 * 1000  # older than the default retention, 168 h


def commit_path(table: Path, version: int) -> Path:
    return table / "_delta_log" / f"{version:020d}.json"


def actions(table: Path, version: int) -> list[dict]:
    return [json.loads(line) for line in commit_path(table, version).read_text().splitlines() if line]


def backdate(table: Path, versions: list[int], age_ms: int) -> None:
    """Rewrite these commits as if made ``age_ms`` earlier: every time in them, and the mtimes of
    the commit files and of the data files they added."""
    for version in versions:
        path = commit_path(table, version)
        lines = []
        for action in actions(table, version):
            (kind, body), *_ = action.items()
            for key in {"commitInfo": ["timestamp"], "add": ["modificationTime"], "remove": ["deletionTimestamp"]}.get(kind, []):  # fmt: skip
                if key in body:
                    body[key] -= age_ms
            if kind == "add":
                data = table / body["path"]
                os.utime(data, ns=(data.stat().st_atime_ns, data.stat().st_mtime_ns - age_ms * 1_000_000))
            lines.append(json.dumps(action, separators=(",", ":")))
        stat = path.stat()
        path.write_text("\n".join(lines) + "\n")
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns - age_ms * 1_000_000))


def added(table: Path, version: int) -> list[Path]:
    return [table / a["add"]["path"] for a in actions(table, version) if "add" in a]


def rows(table: Path, version: int) -> list[tuple]:
    return sorted(pl.read_delta(str(table), version=version).rows())


@pytest.fixture()
def settings(tmp_path):
    settings = load_settings(landing_zone=tmp_path / "landing_zone", lake_root=tmp_path / "lake",
                             reader={"isolate": False}, silver={"customer_salt": "t", "salt_file": tmp_path / "salt"})  # fmt: skip
    assert settings.maintenance.vacuum_retention_hours == 168  # the default: a week of time travel
    return settings


def sale(settings, day: int) -> None:
    """One more export with one sale, ingested and promoted: every gold table is overwritten."""
    path = settings.landing_zone / "diabetes" / f"vendas_{day}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HOTMART + f"T{day};Aprovado;{day:02d}/10/2026 10:00:00;Glico;{day},00\n")
    assert ingest_file(path, "diabetes", settings).status == "ingested"
    assert promote_all(settings)["gold"]["status"] == "promoted"


def test_vacuum_removes_replaced_files_past_the_retention_and_keeps_fresh_ones(settings):
    lake = settings.lake_root
    daily = lake / "gold" / "daily_sales"
    bronze = lake / "bronze" / "diabetes"
    sale(settings, 1)  # gold v0
    sale(settings, 2)  # gold v1 overwrites v0: v0's file is replaced
    backdate(daily, [0, 1], AGE_MS)  # ... eight days ago
    sale(settings, 3)  # gold v2 overwrites v1: v1's file (itself eight days old) replaced just now
    old, fresh = added(daily, 0), added(daily, 1)
    before = {version: rows(daily, version) for version in (0, 1, 2)}
    assert len({tuple(r) for r in before.values()}) == 3  # each version holds other rows
    bronze_files = set(bronze.glob("*.parquet"))
    assert len(bronze_files) == 3  # one small file per ingest: maintain compacts them now

    results = maintain(settings)

    assert results["gold/daily_sales"]["vacuumed"] == 1, results["gold/daily_sales"]
    assert not any(p.exists() for p in old)  # replaced eight days ago: gone
    assert all(p.exists() for p in fresh)  # replaced just now: kept, although the file is old
    assert results["bronze/diabetes"]["files_removed"] == 3 and results["bronze/diabetes"]["vacuumed"] == 0
    assert all(p.exists() for p in bronze_files)  # compacted just now: kept for time travel
    # every version whose files remain still opens, with the same rows
    for version in (1, 2):
        assert rows(daily, version) == before[version]
    assert sorted(pl.read_delta(str(daily)).rows()) == before[2]
    assert pl.read_delta(str(bronze), version=0).height == 1  # the first file's one sale
    # time travel before the retention point fails, and says why
    with pytest.raises(OSError, match=re.escape(old[0].name)):  # the engine names the vacuumed file
        pl.read_delta(str(daily), version=0)
    env = {"LAKECTL_LAKE_ROOT": str(lake), "LAKECTL_LANDING_ZONE": str(settings.landing_zone),
           "LAKECTL_SILVER__CUSTOMER_SALT": "t", "LAKECTL_READER__ISOLATE": "false"}  # fmt: skip
    gone = CliRunner().invoke(app, ["restore", "gold/daily_sales", "--version", "0"], env=env)
    assert gone.exit_code != 0 and "gold/daily_sales" in gone.output, gone.output
    assert "vacuumed versions cannot come back" in gone.output, gone.output
    kept = CliRunner().invoke(app, ["restore", "gold/daily_sales", "--version", "1"], env=env)
    assert kept.exit_code == 0, kept.output
    assert sorted(pl.read_delta(str(daily)).rows()) == before[1]
    # a second run finds nothing more to remove
    assert maintain(settings)["gold/daily_sales"]["vacuumed"] == 0
