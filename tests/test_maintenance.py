"""Maintenance, time travel and backups on real tables."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable
from typer.testing import CliRunner

from lakectl.cli import app
from lakectl.config import load_settings
from lakectl.errors import ConfigError
from lakectl.faults import FAULT_EXIT
from lakectl.lake import Lake, file_app_id
from lakectl.lake.maintenance import MANIFEST, backup, maintain, restore_backup, verify_backup
from lakectl.pipeline import ingest_file
from lakectl.promote import promote_all
from lakectl.service import runner

from .conftest import load_examples_module, run_lakectl


def lake_settings(tmp_path: Path, lake: str = "lake"):
    return load_settings(landing_zone=tmp_path / "landing_zone", lake_root=tmp_path / lake, reader={"isolate": False},
                         silver={"customer_salt": "t", "salt_file": tmp_path / "salt"},
                         maintenance={"vacuum_retention_hours": 1})  # fmt: skip


def env_for(settings) -> dict[str, str]:
    return {"LAKECTL_LAKE_ROOT": str(settings.lake_root), "LAKECTL_LANDING_ZONE": str(settings.landing_zone),
            "LAKECTL_SILVER__CUSTOMER_SALT": "t"}  # fmt: skip


def snapshot(root: Path | str) -> dict[str, tuple[int, list]]:
    """Every table's version and sorted rows: what 'the same lake' means."""
    out = {}
    for table in Lake(str(root)).tables():
        frame = pl.read_delta(table.uri)
        out[table.name] = (DeltaTable(table.uri).version(), sorted(map(str, frame.rows())))
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The example diabetes exports ingested and promoted once for this module (never written to)."""
    home = tmp_path_factory.mktemp("built")
    settings = lake_settings(home)
    load_examples_module().generate(settings.landing_zone)
    runner.ingest_paths(runner.plan([settings.landing_zone / "diabetes"], None, settings), settings)
    promote_all(settings)
    return home


@pytest.fixture()
def lake(built, tmp_path):
    """A copy of the built lake (and its landing zone) that the test may change."""
    shutil.copytree(built, tmp_path, dirs_exist_ok=True)
    return lake_settings(tmp_path)


def test_maintain_compacts_and_keeps_every_row(lake, tmp_path):
    extra = lake.landing_zone / "diabetes" / "extra"
    for i in range(6):  # many small commits -> many small files
        path = extra / f"x{i}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"Código da transação;Valor\nX{i};{i},00\n")
        ingest_file(path, "diabetes", lake)
    before = snapshot(lake.lake_root)
    bronze = lake.lake_root / "bronze" / "diabetes"
    files_before = len(DeltaTable(bronze).file_uris())
    results = maintain(lake)
    assert results["bronze/diabetes"]["files_removed"] >= files_before > 1
    assert len(DeltaTable(bronze).file_uris()) == 1
    after = snapshot(lake.lake_root)
    assert {k: v[1] for k, v in after.items()} == {k: v[1] for k, v in before.items()}  # same rows everywhere
    sha = next(iter(pl.read_delta(str(bronze))["_source_sha256"]))
    assert DeltaTable(bronze).transaction_version(file_app_id(sha)) == 1  # exactly-once state survives


def test_history_and_restore(lake):
    cli = CliRunner()
    silver = lake.lake_root / "silver" / "diabetes"
    rows = pl.read_delta(str(silver)).height
    DeltaTable(silver).delete("status = 'approved'")
    assert pl.read_delta(str(silver)).height < rows
    shown = cli.invoke(app, ["history", "silver/diabetes"], env=env_for(lake))
    assert shown.exit_code == 0 and json.loads(shown.stdout)[0]["operation"] == "DELETE"
    restored = cli.invoke(app, ["restore", "silver/diabetes", "--version", "0"], env=env_for(lake))
    assert restored.exit_code == 0, restored.output
    assert pl.read_delta(str(silver)).height == rows
    unknown = cli.invoke(app, ["history", "../../etc"], env=env_for(lake))
    assert unknown.exit_code == 3 and "no table" in unknown.output


def test_backup_change_restore_compare(lake, tmp_path):
    dest = tmp_path / "backups"
    before = snapshot(lake.lake_root)
    first = backup(lake, dest)
    assert first["copied"] > 0 and first["already_there"] == 0
    again = backup(lake, dest)
    assert again["copied"] == 0 and again["already_there"] == first["copied"]  # incremental
    assert verify_backup(dest)["ok"]
    # change the lake after the backup
    promote_all(lake, full=True)
    DeltaTable(lake.lake_root / "silver" / "diabetes").delete("status = 'approved'")
    assert snapshot(lake.lake_root) != before
    with pytest.raises(ConfigError, match="not empty"):
        restore_backup(lake, dest)
    restore_backup(lake, dest, force=True)
    assert snapshot(lake.lake_root) == before


def test_verify_catches_a_damaged_backup(lake, tmp_path):
    dest = tmp_path / "backups"
    backup(lake, dest)
    manifest = json.loads((dest / MANIFEST).read_text())
    victim = dest / next(f for f in manifest["files"] if f.endswith(".parquet"))
    victim.write_bytes(victim.read_bytes()[:-10] + b"0123456789")
    report = verify_backup(dest)
    assert not report["ok"] and any("changed" in p for p in report["problems"])
    result = CliRunner().invoke(app, ["backup", "verify", str(dest)], env=env_for(lake))
    assert result.exit_code == 6


def test_backup_refuses_a_folder_inside_the_lake(lake):
    with pytest.raises(ConfigError, match="inside the lake"):
        backup(lake, lake.lake_root / "backups")


def test_backup_and_restore_from_a_relative_lake_root(tmp_path, monkeypatch):
    """The default lake_root is relative ('delta_lake'); deltalake hands back absolute file paths."""
    monkeypatch.chdir(tmp_path)
    settings = load_settings(
        landing_zone=Path("landing_zone"), lake_root=Path("delta_lake"), reader={"isolate": False}
    )
    path = Path("landing_zone/diabetes/v.csv")
    path.parent.mkdir(parents=True)
    path.write_text("Código da transação;Valor\nA1;1,00\n")
    ingest_file(path, "diabetes", settings)
    before = snapshot(Path("delta_lake"))
    assert backup(settings, Path("backups"))["copied"] > 0
    assert verify_backup(Path("backups"))["ok"]
    maintain(settings)
    restore_backup(settings.model_copy(update={"lake_root": Path("restored")}), Path("backups"))
    assert snapshot(Path("restored")) == before


def test_a_restore_killed_while_writing_the_salt_is_completed_by_the_rerun(tmp_path):
    """The salt file is written beside and renamed: a kill mid-write leaves no empty salt that would
    make the rerun refuse ('holds another customer_key salt')."""
    settings = load_settings(landing_zone=tmp_path / "landing_zone", lake_root=tmp_path / "lake",
                             reader={"isolate": False}, silver={"salt_file": tmp_path / "salt"})  # fmt: skip
    (tmp_path / "salt").write_text("the-original-salt\n")
    path = tmp_path / "landing_zone" / "diabetes" / "v.csv"
    path.parent.mkdir(parents=True)
    path.write_text("Código da transação;Valor\nA1;1,00\n")
    ingest_file(path, "diabetes", settings)
    assert backup(settings, tmp_path / "backups")["salt"]
    restored = settings.model_copy(update={"lake_root": tmp_path / "restored"})
    env = {"LAKECTL_SILVER__SALT_FILE": str(tmp_path / "new-salt")}
    killed = run_lakectl(restored, "restore-backup", str(tmp_path / "backups"),
                         env={**env, "LAKECTL_FAULT": "restore_backup_mid_salt"})  # fmt: skip
    assert killed.returncode == FAULT_EXIT, killed.stderr
    again = run_lakectl(restored, "restore-backup", str(tmp_path / "backups"), "--force", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert (tmp_path / "new-salt").read_text() == "the-original-salt\n"
