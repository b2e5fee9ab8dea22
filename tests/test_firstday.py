"""First-day defects (issue 10): what a new user hits on a fresh lake, each pinned by a test."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from lakectl import delta
from lakectl.cli import app
from lakectl.promote import gold_path

cli = CliRunner()


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "LAKECTL_LAKE_ROOT": str(tmp_path / "lake"),
        "LAKECTL_LANDING_ZONE": str(tmp_path / "lz"),
        "LAKECTL_READER__ISOLATE": "false",
        "LAKECTL_SILVER__CUSTOMER_SALT": "t",
        **extra,
    }


def drop(tmp_path: Path, cluster: str = "diabetes", name: str = "v.csv", text: str = "id;valor\n1;10\n2;20\n") -> Path:
    folder = tmp_path / "lz" / cluster
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder / name


# ------------------------------------------------------------------ 1. an empty silver


def test_promote_all_on_an_empty_lake_gives_empty_gold_tables(tmp_path):
    result = cli.invoke(app, ["promote", "all", "--json"], env=env_for(tmp_path))
    assert result.exit_code == 0, result.output
    gold = json.loads(result.stdout)["gold"]
    assert gold["status"] == "promoted" and gold["tables"]["customers"] == 0
    customers = pl.read_delta(str(gold_path(tmp_path / "lake", "customers")))
    assert customers.height == 0 and customers.schema["cluster_count"] == pl.Int64


def test_promote_all_when_every_file_has_an_unknown_layout(tmp_path):
    drop(tmp_path)  # columns no profile knows: silver gets no sales
    env = env_for(tmp_path)
    assert cli.invoke(app, ["ingest", str(tmp_path / "lz")], env=env).exit_code == 0
    result = cli.invoke(app, ["promote", "all", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["gold"]["tables"]["daily_sales"] == 0
    assert delta.table_exists(gold_path(tmp_path / "lake", "daily_sales"))
