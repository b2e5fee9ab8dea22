"""Crash tests for promotion and maintenance: `lakectl promote all` and `lakectl maintain` are
killed at each fault point (LAKECTL_FAULT, as a power cut would), run again, and the lake must then
hold exactly what a full rebuild gives: the same silver rows, each reject counted once, the same
gold tables. Maintenance killed half-way loses no row and leaves every table readable.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from lakectl.config import Settings, load_settings
from lakectl.faults import FAULT_EXIT, MAINTAIN_POINTS, PROMOTE_POINTS
from lakectl.lake import Lake
from lakectl.pipeline import ingest_file
from lakectl.promote import promote_all, promote_silver
from lakectl.service import runner

from .conftest import load_examples_module, run_lakectl

SALT = {"LAKECTL_SILVER__CUSTOMER_SALT": "crash"}
VOLATILE = {"run_id"}  # a rebuild gives the rejects a new run id; everything else must match


def settings_for(home: Path) -> Settings:
    return load_settings(landing_zone=home / "landing_zone", lake_root=home / "lake",
                         silver={"customer_salt": "crash", "salt_file": home / "salt"})  # fmt: skip


@pytest.fixture(scope="module")
def bronze_home(tmp_path_factory) -> Path:
    """Bronze of three example clusters, the first two already promoted once: the crash then hits
    an incremental promotion (one cluster new, two with new bronze commits)."""
    home = tmp_path_factory.mktemp("bronze")
    settings = settings_for(home)
    load_examples_module().generate(settings.landing_zone)
    first = [settings.landing_zone / c for c in ("diabetes", "relacionamento")]
    runner.ingest_paths(runner.plan(first, None, settings), settings)
    assert run_lakectl(settings, "promote", "all", env=SALT).returncode == 0
    later = [settings.landing_zone / c for c in ("renda_extra", "emagrecimento")]
    runner.ingest_paths(runner.plan(later, None, settings), settings)
    extra = settings.landing_zone / "diabetes" / "late.csv"
    extra.write_text("Código da transação;Status da transação;Data da transação;Produto;Valor de compra com impostos\n"
                     "LATE1;Aprovado;02/10/2026 10:00:00;Glico;10,00\nLATE2;Aprovado;02/10/2026 11:00:00;Glico;-5,00\n")  # fmt: skip
    assert ingest_file(extra, "diabetes", settings).status == "ingested"
    return home


def copy_lake(source: Path, tmp_path: Path) -> Settings:
    shutil.copytree(source / "lake", tmp_path / "lake")
    return settings_for(tmp_path)


def contents(lake: Path) -> dict[str, list[str]]:
    """Every silver and gold table (and the rejects) as sorted rows: what 'the same lake' means."""
    out = {}
    for table in Lake(str(lake)).tables():
        name = table.name
        if name.split("/")[0] not in ("silver", "gold"):
            continue
        frame = pl.read_delta(table.uri)
        frame = frame.select(sorted(c for c in frame.columns if c not in VOLATILE))
        out[name] = sorted(map(str, frame.rows()))
    return out


def all_rows(lake: Path) -> dict[str, list[str]]:
    return {t.name: sorted(map(str, pl.read_delta(t.uri).rows())) for t in Lake(str(lake)).tables()}


@pytest.fixture(scope="module")
def rebuilt_home(bronze_home, tmp_path_factory) -> Path:
    """The same lake after a full rebuild, without faults: the oracle."""
    home = tmp_path_factory.mktemp("rebuilt")
    promote_all(copy_lake(bronze_home, home), full=True)
    return home


def test_the_crash_lake_has_rejects_and_pending_bronze(bronze_home, rebuilt_home, tmp_path):
    """The fixture is a fair test: there are rejects to double and bronze commits to promote."""
    rejects = pl.read_delta(str(rebuilt_home / "lake" / "silver" / "_rejects"))
    assert "amount_not_negative" in set(rejects["rule"])  # the late file's -5,00
    settings = copy_lake(bronze_home, tmp_path)
    pending = {p.cluster: p.status for p in promote_silver(settings, dry_run=True)}
    assert pending == {"diabetes": "dry_run", "emagrecimento": "dry_run", "rejuvenescimento": "no_bronze",
                       "relacionamento": "up_to_date", "renda_extra": "dry_run"}  # fmt: skip


@pytest.mark.parametrize("point", PROMOTE_POINTS)
def test_promotion_killed_then_rerun_equals_a_full_rebuild(bronze_home, rebuilt_home, tmp_path, point):
    settings = copy_lake(bronze_home, tmp_path)
    crashed = run_lakectl(settings, "promote", "all", env={**SALT, "LAKECTL_FAULT": point})
    assert crashed.returncode == FAULT_EXIT, crashed.stderr
    rerun = run_lakectl(settings, "promote", "all", env=SALT)
    assert rerun.returncode == 0, rerun.stderr
    assert contents(settings.lake_root) == contents(rebuilt_home / "lake")


@pytest.mark.parametrize("point", MAINTAIN_POINTS)
def test_maintenance_killed_then_rerun_loses_nothing(bronze_home, rebuilt_home, tmp_path, point):
    settings = copy_lake(rebuilt_home, tmp_path)
    before = all_rows(settings.lake_root)
    crashed = run_lakectl(settings, "maintain", env={**SALT, "LAKECTL_FAULT": point})
    assert crashed.returncode == FAULT_EXIT, crashed.stderr
    rerun = run_lakectl(settings, "maintain", env=SALT)
    assert rerun.returncode == 0, rerun.stderr
    assert "compacted" in rerun.stdout
    assert all_rows(settings.lake_root) == before
    # the exactly-once state and the watermark survive: nothing is ingested or promoted twice
    landed = sorted((bronze_home / "landing_zone" / "diabetes").glob("*.csv"))
    assert {ingest_file(path, "diabetes", settings).status for path in landed} == {"skipped"}
    promote_all(settings)
    assert contents(settings.lake_root) == contents(rebuilt_home / "lake")
