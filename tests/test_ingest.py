"""Exactly once: duplicates, renamed copies, concurrent ingests and crashes at every fault point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from lakectl.faults import INGEST_POINTS
from lakectl.lake import Lake, ledger
from lakectl.pipeline import ingest_file
from lakectl.read import delimited as read_csv

CSV = "Código da transação;Valor\n" + "".join(f"HP{i:04d};{i},50\n" for i in range(500))


def bronze(settings, cluster="diabetes") -> pl.DataFrame:
    return pl.read_delta(str(settings.lake_root / "bronze" / cluster))


def drop(settings, cluster: str, name: str, text: str = CSV) -> Path:
    folder = settings.landing_zone / cluster
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_same_file_renamed_copy_and_other_cluster_are_skipped(settings):
    first = drop(settings, "diabetes", "a.csv")
    assert ingest_file(first, "diabetes", settings).status == "ingested"
    again = ingest_file(first, "diabetes", settings)
    assert again.status == "skipped" and "a.csv" in again.reason
    renamed = drop(settings, "diabetes", "copy of a.csv")
    assert ingest_file(renamed, "diabetes", settings).status == "skipped"
    other = drop(settings, "renda_extra", "a.csv")
    assert ingest_file(other, "renda_extra", settings).status == "skipped"
    assert bronze(settings).height == 500
    assert not (settings.lake_root / "bronze" / "renda_extra").exists()
    log = ledger.read(Lake.from_settings(settings))
    assert sorted(log["status"].to_list()) == ["ingested", "skipped", "skipped", "skipped"]


def test_new_columns_merge_and_missing_ones_are_null(settings):
    ingest_file(drop(settings, "diabetes", "sep.csv", "id;valor\n1;10\n"), "diabetes", settings)
    result = ingest_file(
        drop(settings, "diabetes", "oct.csv", "id;valor;cupom\n2;20;X\n"), "diabetes", settings
    )
    assert result.sheets[0].new_columns == ["cupom"]
    data = bronze(settings).sort("id")
    assert data["cupom"].to_list() == [None, "X"]
    assert data["_schema_id"].n_unique() == 2


def _run_ingest(
    settings, path: Path, fault: str | None = None, isolate: bool = True
) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "LAKECTL_LAKE_ROOT": str(settings.lake_root),
        "LAKECTL_LANDING_ZONE": str(settings.landing_zone),
        "LAKECTL_READER__ISOLATE": str(isolate).lower(),
    }
    if fault:
        env["LAKECTL_FAULT"] = fault
    return subprocess.run(
        [sys.executable, "-m", "lakectl", "ingest", str(path), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_two_processes_ingesting_the_same_file_commit_it_once(settings):
    path = drop(settings, "diabetes", "race.csv")
    env = {
        **os.environ,
        "LAKECTL_LAKE_ROOT": str(settings.lake_root),
        "LAKECTL_LANDING_ZONE": str(settings.landing_zone),
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "lakectl", "ingest", str(path)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    assert bronze(settings).height == 500
    statuses = sorted(ledger.read(Lake.from_settings(settings))["status"].to_list())
    assert statuses == ["ingested", "skipped"]


@pytest.mark.parametrize("isolate", [True, False], ids=["isolated", "in_process"])
@pytest.mark.parametrize("fault", INGEST_POINTS)
def test_crash_at_any_point_then_rerun_gives_exactly_one_copy(settings, fault, isolate):
    path = drop(settings, "diabetes", "crash.csv")
    crashed = _run_ingest(settings, path, fault, isolate)  # isolated: the child's death is a power cut
    assert crashed.returncode == 137
    table = settings.lake_root / "bronze" / "diabetes"
    rows_after_crash = pl.read_delta(str(table)).height if (table / "_delta_log").exists() else 0
    assert rows_after_crash in (0, 500)  # all or nothing
    rerun = _run_ingest(settings, path)
    assert rerun.returncode == 0, rerun.stderr
    assert bronze(settings).height == 500
    log = ledger.read(Lake.from_settings(settings)).filter(pl.col("status") == "ingested")
    assert log.height == 1 and log["rows"].to_list() == [500]


def test_header_only_file_is_recorded_once(settings):
    path = drop(settings, "diabetes", "vazio.csv", "id;valor\n")
    assert ingest_file(path, "diabetes", settings).status == "ingested"
    assert ingest_file(path, "diabetes", settings).status == "skipped"


def test_unreadable_file_is_rejected_and_the_next_still_goes_in(settings):
    bad = drop(settings, "diabetes", "bad.xlsx", "not a workbook")
    good = drop(settings, "diabetes", "good.csv")
    results = [ingest_file(p, "diabetes", settings) for p in (bad, good)]
    assert [r.status for r in results] == ["rejected", "ingested"]
    assert "bad.xlsx" in results[0].reason and results[0].hint


@pytest.mark.parametrize("bad_line", ["1;2;3;extra", "1"])
def test_ragged_line_deep_in_a_big_csv_keeps_every_field(settings, bad_line, monkeypatch):
    """The fast reader fails mid-stream, inside the Delta writer; the file is re-read leniently."""
    monkeypatch.setattr(read_csv, "BLOCK_BYTES", 1 << 16)  # many blocks: the bad line is far from the first
    body = "".join(f"HP{i:06d};{i}\n" for i in range(100_000))
    path = drop(settings, "diabetes", "grande.csv", "id;valor\n" + body + bad_line + "\nHPZ;9\n")
    result = ingest_file(path, "diabetes", settings)
    assert result.status == "ingested", result.reason
    data = bronze(settings)
    assert data.height == 100_002
    last = data.filter(pl.col("_row") == 100_002)
    assert last["id"].to_list() == ["1"]
    if bad_line.count(";") == 3:
        assert last["column_3"].to_list() == ["3"] and last["column_4"].to_list() == ["extra"]
    assert data.filter(pl.col("_row") == 100_003)["id"].to_list() == ["HPZ"]


def test_blank_lines_keep_record_numbers_exact(settings):
    path = drop(settings, "diabetes", "buracos.csv", "id;valor\nA;1\n\n\nB;2\n;\nC;3\n")
    ingest_file(path, "diabetes", settings)
    data = bronze(settings).sort("_row")
    assert data.select("id", "_row").rows() == [("A", 2), ("B", 5), ("C", 7)]


def test_a_batch_is_one_commit_and_each_file_keeps_its_own_outcome(settings, monkeypatch):
    from collections import Counter

    from lakectl.pipeline import ingest_batch

    monkeypatch.setattr(read_csv, "BLOCK_BYTES", 1 << 16)
    paths = [drop(settings, "diabetes", f"v{i:03d}.csv", f"id;valor\nA{i};{i}\n") for i in range(50)]
    paths.append(drop(settings, "diabetes", "copia.csv", "id;valor\nA7;7\n"))  # same bytes as v007
    paths.append(drop(settings, "diabetes", "quebrado.xlsx", "not a workbook"))
    paths.append(drop(settings, "diabetes", "so_cabecalho.csv", "id;valor\n"))
    ragged = "id;valor\n" + "".join(f"R{i};{i}\n" for i in range(20_000)) + "R;1;extra\n"
    paths.append(drop(settings, "diabetes", "torto.csv", ragged))
    results = ingest_batch(paths, "diabetes", settings)
    assert [r.file for r in results] == [p.name for p in paths]
    by_name = {r.file: r for r in results}
    assert Counter(r.status for r in results) == {"ingested": 52, "skipped": 1, "rejected": 1}
    assert "same batch" in by_name["copia.csv"].reason
    assert "quebrado.xlsx" in by_name["quebrado.xlsx"].reason
    assert by_name["torto.csv"].rows == 20_001
    versions = {r.bronze_version for r in results if r.status == "ingested" and r.rows}
    assert versions == {0}  # one commit for every file with rows
    data = bronze(settings)
    assert data.height == 50 + 20_001
    assert data["_source_file"].n_unique() == 51
    log = ledger.read(Lake.from_settings(settings))
    assert log.height == len(paths)
    # Again: every file is a duplicate now, nothing is written.
    again = ingest_batch(paths, "diabetes", settings)
    assert Counter(r.status for r in again) == {"skipped": 53, "rejected": 1}
    assert bronze(settings).height == 50 + 20_001
