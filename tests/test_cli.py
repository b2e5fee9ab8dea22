from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from lakectl.cli import app

runner = CliRunner()


def env_for(tmp_path):
    return {
        "LAKECTL_LAKE_ROOT": str(tmp_path / "lake"),
        "LAKECTL_LANDING_ZONE": str(tmp_path / "lz"),
        "LAKECTL_READER__ISOLATE": "false",
    }


def drop(tmp_path, cluster="diabetes", name="v.csv", text="id;valor\n1;10\n2;20\n"):
    folder = tmp_path / "lz" / cluster
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder / name


def test_ingest_json_then_skip(tmp_path):
    path = drop(tmp_path)
    first = runner.invoke(app, ["ingest", str(path), "--json"], env=env_for(tmp_path))
    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    assert data["files"][0]["status"] == "ingested" and data["files"][0]["rows"] == 2
    again = runner.invoke(app, ["ingest", str(tmp_path / "lz"), "--json"], env=env_for(tmp_path))
    assert json.loads(again.stdout)["summary"] == {"ingested": 0, "skipped": 1, "rejected": 0}


def test_dry_run_writes_nothing(tmp_path):
    path = drop(tmp_path)
    result = runner.invoke(app, ["ingest", str(path), "--dry-run"], env=env_for(tmp_path))
    assert result.exit_code == 0, result.output
    assert "header at row 1" in result.stdout and "2 rows" in result.stdout
    assert not (tmp_path / "lake" / "bronze").exists()


def test_rejected_file_exits_4_and_others_go_in(tmp_path):
    drop(tmp_path, name="ok.csv")
    drop(tmp_path, name="broken.xlsx", text="nope")
    result = runner.invoke(app, ["ingest", str(tmp_path / "lz"), "--json"], env=env_for(tmp_path))
    assert result.exit_code == 4
    summary = json.loads(result.stdout)["summary"]
    assert summary == {"ingested": 1, "skipped": 0, "rejected": 1}


def test_unknown_cluster_and_bad_settings_exit_3(tmp_path):
    path = drop(tmp_path)
    result = runner.invoke(app, ["ingest", str(path), "--cluster", "nope"], env=env_for(tmp_path))
    assert result.exit_code == 3 and "unknown cluster 'nope'" in result.output
    bad = runner.invoke(app, ["ingest", str(path)], env={**env_for(tmp_path), "LAKECTL_CLUSTERS": "Bad Name"})
    assert bad.exit_code == 3 and "clusters" in bad.output


def test_file_outside_landing_zone_needs_a_cluster(tmp_path):
    outside = tmp_path / "x.csv"
    outside.write_text("a,b\n1,2\n")
    result = runner.invoke(app, ["ingest", str(outside)], env=env_for(tmp_path))
    assert result.exit_code == 3 and "--cluster" in result.output


def test_missing_path_is_usage_error(tmp_path):
    result = runner.invoke(app, ["ingest", str(tmp_path / "nope.csv")], env=env_for(tmp_path))
    assert result.exit_code == 2


def test_init_and_version(tmp_path):
    result = runner.invoke(app, ["init", str(tmp_path)], env=env_for(tmp_path))
    assert result.exit_code == 0
    assert (tmp_path / "lakectl.toml").exists()
    config = runner.invoke(app, ["--config", str(tmp_path / "lakectl.toml"), "ingest", "--help"])
    assert config.exit_code == 0
    assert runner.invoke(app, ["--version"]).stdout.startswith("lakectl ")


def test_missing_config_file_exits_3(tmp_path):
    path = drop(tmp_path)
    result = runner.invoke(
        app, ["--config", str(tmp_path / "none.toml"), "ingest", str(path)], env=env_for(tmp_path)
    )
    assert result.exit_code == 3


@pytest.mark.parametrize(
    "command",
    ["init", "ingest", "watch", "health", "report", "maintain", "history", "restore", "backup", "restore-backup",
     "promote silver", "promote gold", "promote all", "quarantine list", "quarantine retry", "query", "log"],
)  # fmt: skip
def test_every_command_has_help(command):
    result = runner.invoke(app, [*command.split(), "--help"])
    assert result.exit_code == 0 and "Usage" in result.output
