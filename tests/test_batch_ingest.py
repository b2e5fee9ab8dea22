"""Batch ingest that never blames a good file, never doubles a row and never hangs or orphans.

Real files, real Delta tables, real child processes; failures are provoked with real bytes and
real filesystem states (a table path that is a file, a file that grows), never with mocks.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

from lakectl import pipeline
from lakectl.config import load_settings
from lakectl.errors import SourceError, StorageError
from lakectl.lake import Lake, ledger
from lakectl.read.spool import EXTRA_COLUMNS, parse_file
from lakectl.service import runner
from lakectl.service.worker import CappedChild, ChildTimeout

from .conftest import write_far_cell_xlsx
from .hostile import corrupt_zip_entry, left_alive, lie_about_size, processes_with, rewrite_entry, write_xlsx
from .test_firstday import lakectl, read_only_lake  # noqa: F401  (a fixture, used by name)


def drop(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def small_csv(tag: str, rows: int = 5) -> str:
    return "id;valor\n" + "".join(f"{tag}-{i};{i},50\n" for i in range(rows))


def bronze_rows(lake: Path, cluster: str = "diabetes") -> dict[str, int]:
    frame = pl.read_delta(str(lake / "bronze" / cluster))
    return dict(frame.group_by("_source_file").len().iter_rows())


def bronze(settings, cluster: str = "diabetes") -> pl.DataFrame:
    return pl.read_delta(str(settings.lake_root / "bronze" / cluster))


def isolated(tmp_path: Path, **reader) -> object:
    return load_settings(
        landing_zone=tmp_path / "landing_zone",
        lake_root=tmp_path / "lake",
        reader={"isolate": True, **reader},
    )


def test_a_writer_failure_fails_the_run_and_blames_no_file(settings):
    """The lake cannot take the commit (its table path is a file): StorageError, no file rejected."""
    folder = settings.landing_zone / "diabetes"
    paths = [drop(folder, f"bom_{i}.csv", small_csv(f"b{i}")) for i in range(3)]
    (settings.lake_root / "bronze").mkdir(parents=True)
    (settings.lake_root / "bronze" / "diabetes").write_text("not a table")
    with pytest.raises(StorageError) as caught:
        runner.ingest_paths([(p, "diabetes") for p in paths], settings)
    assert "bronze/diabetes" in caught.value.message
    log = ledger.read(Lake.from_settings(settings))
    assert log.filter(pl.col("status") == "rejected").height == 0, "a good file was blamed"


@pytest.mark.parametrize("how", ["crc", "flip", "method9"])
def test_a_corrupt_zip_entry_is_that_files_rejection_and_the_batch_goes_on(tmp_path, how):
    settings = isolated(tmp_path)
    folder = settings.landing_zone / "diabetes"
    folder.mkdir(parents=True)
    corrupt_zip_entry(write_xlsx(folder / "a_quebrado.xlsx", rows=3000), how)
    drop(folder, "b_bom.csv", small_csv("b"))
    results = runner.ingest_paths(runner.plan([folder], None, settings), settings)
    assert {r.file: r.status for r in results} == {"a_quebrado.xlsx": "rejected", "b_bom.csv": "ingested"}
    bad = next(r for r in results if r.status == "rejected")
    assert bad.reason.startswith("a_quebrado.xlsx") and bad.hint
    assert bronze(settings).height == 5


def test_watch_quarantines_a_corrupt_zip_and_keeps_going(tmp_path):
    folder = tmp_path / "landing_zone" / "diabetes"
    folder.mkdir(parents=True)
    corrupt_zip_entry(write_xlsx(folder / "quebrado.xlsx", rows=3000), "crc")
    drop(folder, "bom.csv", small_csv("b"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKECTL_")}
    env.update(LAKECTL_LANDING_ZONE=str(tmp_path / "landing_zone"), LAKECTL_LAKE_ROOT=str(tmp_path / "lake"),
               LAKECTL_WATCH__STABILITY_WINDOW_S="0.2")  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "lakectl", "watch", "--once"], env=env,
                          capture_output=True, text=True, timeout=180)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "landing_zone" / "_quarantine" / "diabetes" / "quebrado.xlsx").exists()
    assert [p.name for p in (tmp_path / "landing_zone" / "_archive").rglob("*.csv")] == ["bom.csv"]


def test_a_file_that_grows_between_hash_and_parse_is_never_doubled(settings):
    """The bytes hashed must be the bytes committed: growth after hashing stops the commit."""
    path = drop(settings.landing_zone / "diabetes", "crescendo.csv", small_csv("c", 100))

    def parse_while_it_grows(target: Path, options, spool_dir):
        with target.open("a", encoding="utf-8") as handle:  # the producer appends meanwhile
            handle.write("".join(f"c-late-{i};1,00\n" for i in range(50)))
        return parse_file(target, options, spool_dir)

    first = pipeline.ingest_batch([path], "diabetes", settings, parse=parse_while_it_grows)[0]
    assert first.status == "rejected" and first.transient and "changed while" in first.reason
    assert not (settings.lake_root / "bronze" / "diabetes" / "_delta_log").exists()
    again = pipeline.ingest_file(path, "diabetes", settings)  # the producer is done now
    assert again.status == "ingested" and again.rows == 150
    assert pipeline.ingest_file(path, "diabetes", settings).status == "skipped"
    assert bronze(settings).height == 150


def test_the_cli_waits_for_a_file_still_being_written(tmp_path):
    """The watcher's stability rule on the command line: the whole file, once."""
    import threading

    settings = load_settings(landing_zone=tmp_path / "lz", lake_root=tmp_path / "lake",
                             reader={"isolate": False}, watch={"stability_window_s": 1.0})  # fmt: skip
    path = drop(settings.landing_zone / "diabetes", "lento.csv", "id;valor\n")
    stop = threading.Event()

    def produce() -> None:
        with path.open("a", encoding="utf-8") as handle:
            for i in range(40):
                handle.write(f"L{i};{i}\n")
                handle.flush()
                time.sleep(0.05)
        stop.set()

    writer = threading.Thread(target=produce)
    writer.start()
    results = runner.ingest_paths([(path, "diabetes")], settings)
    writer.join()
    assert stop.is_set()
    assert [(r.status, r.rows) for r in results] == [("ingested", 40)]


def test_a_wide_file_keeps_its_extra_columns_as_json_and_bronze_stays_narrow(tmp_path):
    settings = load_settings(landing_zone=tmp_path / "lz", lake_root=tmp_path / "lake",
                             reader={"isolate": False, "max_columns": 100})  # fmt: skip
    folder = settings.landing_zone / "renda_extra"
    header = ",".join(f"campo {i}" for i in range(2000))
    wide = drop(folder, "largo.csv", header + "\n" + "\n".join(",".join(f"r{r}c{i}" for i in range(2000)) for r in range(3)) + "\n")  # fmt: skip
    narrow = drop(folder, "normal.csv", "id,valor\n1,2\n3,4\n")
    results = pipeline.ingest_batch([wide, narrow], "renda_extra", settings)
    assert [r.status for r in results] == ["ingested", "ingested"]
    assert any("kept as JSON" in note for note in results[0].sheets[0].notes)
    data = bronze(settings, "renda_extra")
    source_columns = [c for c in data.columns if not c.startswith("_")]
    assert len(source_columns) == 100 + 2  # 100 of the wide file, id and valor
    extra = json.loads(
        data.filter((pl.col("_row") == 3) & (pl.col("_source_file") == "largo.csv"))[EXTRA_COLUMNS].item()
    )
    assert extra["campo_1999"] == "r1c1999" and len(extra) == 1900
    assert data.filter(pl.col("_source_file") == "normal.csv")[EXTRA_COLUMNS].null_count() == 2


def test_files_whose_nulls_would_swell_a_commit_get_their_own(settings):
    folder = settings.landing_zone / "diabetes"
    long_file = drop(folder, "longo.csv", "id;valor\n" + "".join(f"L{i};{i}\n" for i in range(60_000)))
    wide = drop(folder, "largo.csv", ";".join(f"c{i}" for i in range(60)) + "\n" + ";".join("x" * 60) + "\n")
    small = drop(folder, "pequeno.csv", small_csv("p"))
    results = pipeline.ingest_batch([long_file, wide, small], "diabetes", settings)
    versions = [r.bronze_version for r in results]
    assert versions[0] != versions[1], "60,000 rows x 60 null columns in one commit"
    assert versions[1] == versions[2], "small files still share a commit"


def test_a_child_never_outlives_its_parent_killed_with_sigkill(tmp_path):
    marker = f"LAKECTL_TEST_TAG={uuid.uuid4().hex}"
    script = (
        "import time, sys\n"
        "from lakectl.service.worker import CappedChild\n"
        "child = CappedChild(1024)\n"
        "child.call(int, '1', timeout=60)\n"
        "print(child.process.pid, flush=True)\n"
        "child.call(time.sleep, 120, timeout=300)\n"
    )
    env = {**os.environ, marker.split("=")[0]: marker.split("=")[1]}
    parent = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
        assert child_pid in processes_with(marker)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        assert left_alive(marker) == [], "the parser child outlived its parent"
    finally:
        parent.kill()
        for pid in processes_with(marker):
            os.kill(pid, signal.SIGKILL)


def _parser_children() -> list[int]:
    """Pids of the parser processes this process started (multiprocessing's spawned children; its
    resource tracker does not count)."""
    found = []
    for task in Path("/proc/self/task").iterdir():
        for pid in (task / "children").read_text().split():
            with contextlib.suppress(OSError):
                if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.append(int(pid))
    return found


def test_a_one_shot_ingest_stops_its_parser_before_the_last_commit(settings):
    """The parser's memory is gone before the writer's peak: by the time the last batch is committed
    (its files' outcomes are heard after the commit) no parser process is left; earlier batches
    keep the warm one."""
    files = [drop(settings.landing_zone / cluster, f"{cluster}.csv", small_csv(cluster, 50))
             for cluster in ("diabetes", "renda_extra")]  # fmt: skip
    children_heard: dict[str, list[int]] = {}

    def heard(result) -> None:  # type: ignore[no-untyped-def]
        children_heard[result.file] = _parser_children()

    jobs = runner.plan([settings.landing_zone], None, settings)
    results = runner.ingest_paths(jobs, settings, on_result=heard)
    assert [(r.file, r.status, r.rows) for r in results] == [(p.name, "ingested", 50) for p in files]
    assert len(children_heard["diabetes.csv"]) == 1, "the first batch's commit kept the warm parser"
    assert children_heard["renda_extra.csv"] == [], "the parser outlived the last parse"
    assert bronze(settings).height == 50


def test_small_spools_are_written_uncompressed_and_large_ones_with_lz4(tmp_path, monkeypatch):
    """lz4 costs the spool's writer more than anything else for a small file; a large one keeps it
    (the temp folder's disk use). Both kinds read back the same rows."""
    from lakectl.read import spool
    from lakectl.read.sheets import ReadOptions

    path = drop(tmp_path, "v.csv", "id;produto\n" + "".join(f"{i};produto repetido\n" for i in range(20_000)))
    plain = parse_file(path, ReadOptions(), tmp_path).sheets[0].spool
    monkeypatch.setattr(spool, "UNCOMPRESSED_BELOW", path.stat().st_size)  # the file is now "large"
    lz4 = parse_file(path, ReadOptions(), tmp_path).sheets[0].spool
    assert plain is not None and lz4 is not None
    assert plain.stat().st_size > 2 * lz4.stat().st_size  # the repeated text compresses well
    rows = [pa.Table.from_batches(list(spool.read_spool(p))) for p in (plain, lz4)]
    assert rows[0].equals(rows[1]) and rows[0].num_rows == 20_000


@pytest.mark.parametrize("root", ["lake", "lake/", "file:///tmp/some/lake/", "s3://bucket/prefix/"])
def test_the_state_folder_is_where_the_lake_says_without_loading_deltalake(tmp_path, root):
    """workspace.state_dir computes what Lake.from_settings says (it must not import deltalake: the
    parser process starts before the writer's engines load)."""
    from lakectl import workspace

    settings = load_settings(
        landing_zone=tmp_path / "lz", lake_root=root if "://" in root else tmp_path / root
    )
    lake = Lake.from_settings(settings)
    expected = lake.local_root / "_lakectl" if lake.is_local else settings.landing_zone / ".lakectl"
    assert workspace.state_dir(settings) == expected


def test_the_runner_imports_no_engine_before_its_parser_starts():
    code = ("import sys, lakectl.service.runner; "
            "print([m for m in ('polars', 'pyarrow', 'deltalake', 'fastexcel') if m in sys.modules])")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


def test_every_call_has_a_deadline():
    with CappedChild(1024) as child:
        assert child.call(int, "7", timeout=60) == 7
        with pytest.raises(ChildTimeout):
            child.call(time.sleep, 60, timeout=0.5)
        assert child.process is None, "the hung child was killed"
        assert child.call(int, "8", timeout=60) == 8  # a fresh child takes the next call
        with pytest.raises(ValueError):  # the child's own exception comes back as itself
            child.call(int, "not a number", timeout=60)


def test_a_small_batch_shaped_like_the_real_one_ingests_completely_with_no_orphan(tmp_path):
    """The fast version of the chaos batch: a wide CSV, a sparse xlsx, an xls and small files."""
    run_shaped_batch(tmp_path, wide_columns=2_000, xlsx_rows=20_000, xls_rows=2_000, small_files=12, runs=2)


def run_shaped_batch(
    tmp_path: Path, wide_columns: int, xlsx_rows: int, xls_rows: int, small_files: int, runs: int
) -> None:
    """Each run a fresh lake: every file ingested, rows exact, and no process of ours left behind."""
    import xlwt

    zone = tmp_path / "landing_zone" / "renda_extra"
    zone.mkdir(parents=True)
    header = ",".join(f"col {i}" for i in range(wide_columns))
    (zone / "wide.csv").write_text(header + "\n" + "\n".join(",".join(f"v{r}.{i}" for i in range(wide_columns)) for r in range(3)) + "\n")  # fmt: skip
    write_xlsx(zone / "sparse.xlsx", rows=xlsx_rows, sparse=True)
    book = xlwt.Workbook()
    sheet = book.add_sheet("vendas")
    for col, name in enumerate(["pedido", "produto", "valor", "cliente"]):
        sheet.write(0, col, name)
    for row in range(1, xls_rows + 1):
        for col, value in enumerate(
            [f"P{row}", f"produto numero {row % 97}", row * 2.5, f"cliente{row}@x.com"]
        ):
            sheet.write(row, col, value)
    book.save(str(zone / "legacy.xls"))
    for i in range(small_files):
        (zone / f"small_{i:02d}.csv").write_text(f"id{i % 4};valor;data\n" + "".join(f"S{i}-{r};{r},00;01/10/2026\n" for r in range(20)))  # fmt: skip
    expected = {"wide.csv": 3, "sparse.xlsx": xlsx_rows, "legacy.xls": xls_rows} | {
        f"small_{i:02d}.csv": 20 for i in range(small_files)
    }
    for run in range(runs):
        marker = f"LAKECTL_TEST_TAG={uuid.uuid4().hex}"
        lake = tmp_path / f"lake_{run}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("LAKECTL_")}
        # the default parser cap: it is an address-space cap, and under 2 GiB the CSV reader's threads
        # sometimes cannot even start on a loaded machine (a known limit, not what this test is about)
        env.update(LAKECTL_LANDING_ZONE=str(tmp_path / "landing_zone"), LAKECTL_LAKE_ROOT=str(lake),
                   LAKECTL_WATCH__STABILITY_WINDOW_S="0")  # fmt: skip
        env[marker.split("=")[0]] = marker.split("=")[1]
        done = subprocess.run([sys.executable, "-m", "lakectl", "ingest", str(zone.parent), "--json"],
                              env=env, capture_output=True, text=True, timeout=900)  # fmt: skip
        assert done.returncode == 0, done.stderr + done.stdout
        summary = json.loads(done.stdout)["summary"]
        assert summary == {"ingested": len(expected), "skipped": 0, "rejected": 0}
        frame = pl.read_delta(str(lake / "bronze" / "renda_extra"))
        assert Counter(dict(frame.group_by("_source_file").len().iter_rows())) == Counter(expected)
        assert left_alive(marker) == [], "a process of the run is still alive"
        assert list((lake / "_lakectl" / "tmp").iterdir()) == [], "temporary files left behind"


@pytest.mark.chaos
def test_the_real_shaped_batch_ingests_completely_three_runs_in_a_row(tmp_path):
    """Issue 9's batch: a 9,000-column CSV, a 150k-row sparse xlsx, a 4 MB .xls (issue: 1.9 MB) and 70 small files."""
    run_shaped_batch(tmp_path, wide_columns=9_000, xlsx_rows=150_000, xls_rows=40_000, small_files=70, runs=3)


# ------------------------------------------------------------------ hostile names, FIFOs, dry runs


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKECTL_")}
    env.update(LAKECTL_LANDING_ZONE=str(tmp_path / "landing_zone"), LAKECTL_LAKE_ROOT=str(tmp_path / "lake"),
               LAKECTL_WATCH__STABILITY_WINDOW_S="0.2", **extra)  # fmt: skip
    return env


def cli(tmp_path: Path, *args: str | bytes, **extra: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "lakectl", *args], env=cli_env(tmp_path, **extra),
                          capture_output=True, timeout=180)  # fmt: skip


def test_a_fifo_never_blocks_ingest_given_explicitly_or_in_a_folder(tmp_path):
    folder = tmp_path / "landing_zone" / "diabetes"
    folder.mkdir(parents=True)
    os.mkfifo(folder / "cano.csv")
    drop(folder, "bom.csv", small_csv("b"))
    explicit = cli(tmp_path, "ingest", str(folder / "cano.csv"), "--json")
    assert explicit.returncode == 4, explicit.stderr
    (result,) = json.loads(explicit.stdout)["files"]
    assert "not a regular file" in result["reason"]
    whole = cli(tmp_path, "ingest", str(folder), "--json")
    assert whole.returncode == 0, whole.stderr
    assert [f["file"].rsplit("/", 1)[-1] for f in json.loads(whole.stdout)["files"]] == ["bom.csv"]


def test_a_name_that_is_not_utf8_is_rejected_alone_and_the_output_stays_utf8(tmp_path):
    folder = tmp_path / "landing_zone" / "diabetes"
    folder.mkdir(parents=True)
    bad = os.fsencode(folder) + b"/vendas_\xff\xfe.csv"
    with open(bad, "w") as handle:
        handle.write(small_csv("x"))
    drop(folder, "vizinho.csv", small_csv("v"))
    done = cli(tmp_path, "ingest", str(folder), "--json")
    assert done.returncode == 4, done.stderr
    files = json.loads(done.stdout.decode("utf-8"))["files"]  # strict UTF-8: no raw 0xFF
    by_status = {f["status"]: f for f in files}
    assert set(by_status) == {"rejected", "ingested"}
    assert "not valid UTF-8" in by_status["rejected"]["reason"]
    assert by_status["ingested"]["file"].endswith("vizinho.csv")
    assert "Traceback" not in done.stderr.decode("utf-8", "replace")


def test_watch_settles_a_non_utf8_name_and_a_250_character_name(tmp_path):
    folder = tmp_path / "landing_zone" / "diabetes"
    folder.mkdir(parents=True)
    with open(os.fsencode(folder) + b"/nome_\xff.csv", "w") as handle:
        handle.write(small_csv("x"))
    long_name = "v" * 246 + ".csv"  # 250 characters: the .error.json sibling would not fit
    drop(folder, long_name, small_csv("l"))
    long_bad = drop(folder, "q" * 245 + ".xlsx", "not a workbook")
    done = cli(tmp_path, "watch", "--once")
    assert done.returncode == 0, done.stderr
    assert os.listdir(folder) == []
    quarantine = tmp_path / "landing_zone" / "_quarantine" / "diabetes"
    records = [json.loads(p.read_text(encoding="utf-8")) for p in quarantine.glob("*.error.json")]
    assert sorted(r["error_class"] for r in records) == ["FileName", "SourceError"]
    assert all(r["reason"] for r in records) and any(long_bad.name[:200] in r["file"] for r in records)
    (archived,) = [p.name for p in (tmp_path / "landing_zone" / "_archive").rglob("*.csv")]
    assert archived.endswith(".csv") and long_name.startswith(archived[:-4])  # cut to fit, never lost
    assert bronze_rows(tmp_path / "lake") == {long_name: 5}


def test_a_file_named_dot_dot_csv_is_ingested_not_skipped(tmp_path):
    folder = tmp_path / "landing_zone" / "diabetes"
    drop(folder, "..csv", small_csv("d"))
    drop(folder, ".oculto.csv", small_csv("h"))  # a hidden file is still left alone
    done = cli(tmp_path, "ingest", str(folder), "--json")
    assert done.returncode == 0, done.stderr
    assert [f["file"].rsplit("/", 1)[-1] for f in json.loads(done.stdout)["files"]] == ["..csv"]


def test_a_dry_run_writes_nothing_at_all_and_says_would_ingest(tmp_path):
    drop(tmp_path / "landing_zone" / "diabetes", "v.csv", small_csv("v"))
    done = cli(tmp_path, "ingest", str(tmp_path / "landing_zone"), "--dry-run")
    assert done.returncode == 0, done.stderr
    assert b"would ingest" in done.stdout
    assert not (tmp_path / "lake").exists(), "a dry run wrote to the lake"
    as_json = cli(tmp_path, "ingest", str(tmp_path / "landing_zone"), "--dry-run", "--json")
    assert json.loads(as_json.stdout)["summary"]["would ingest"] == 1
    assert not (tmp_path / "lake").exists()


def test_a_rejected_file_is_remembered_by_hash_until_settings_change_or_retry(settings, tmp_path):
    bad = drop(settings.landing_zone / "diabetes", "ruim.xlsx", "not a workbook")
    first = pipeline.ingest_file(bad, "diabetes", settings)
    assert first.status == "rejected" and "not read again" not in first.reason
    again = pipeline.ingest_file(bad, "diabetes", settings)
    assert again.status == "rejected" and "not read again" in again.reason
    assert ledger.read(Lake.from_settings(settings)).height == 1, "a remembered verdict adds no ledger row"
    changed = settings.model_copy(update={"reader": settings.reader.model_copy(update={"max_cells": 10**7})})
    assert "not read again" not in pipeline.ingest_file(bad, "diabetes", changed).reason
    ledger.forget_rejection(pipeline.state_dir(settings), again.sha256 or "")  # what quarantine retry does
    assert "not read again" not in pipeline.ingest_file(bad, "diabetes", settings).reason


def test_temp_folders_of_dead_processes_are_swept_at_start(settings):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True, timeout=60).stdout.strip()  # fmt: skip
    leftover = pipeline.temp_root(settings) / f"{dead}-deadbeef"
    leftover.mkdir(parents=True)
    (leftover / "lakectl-utf16-copy.csv").write_bytes(b"x" * 1000)
    alive = pipeline.temp_root(settings) / f"{os.getpid()}-cafecafe"
    alive.mkdir()
    pipeline.ingest_file(
        drop(settings.landing_zone / "diabetes", "v.csv", small_csv("v")), "diabetes", settings
    )
    assert not leftover.exists() and alive.exists()


def test_ingest_into_a_read_only_lake_blames_no_file_and_exits_6(read_only_lake):  # noqa: F811
    drop(read_only_lake / "lz" / "diabetes", "novo.csv", small_csv("n"))
    done = lakectl(read_only_lake, "ingest", str(read_only_lake / "lz"), as_reader=True)
    assert done.returncode == 6, done.stderr
    lines = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr and len(lines) == 2, done.stderr
    assert lines[0].startswith("Error: permission denied") and str(read_only_lake / "lake") in lines[0]
    assert "write access to the lake" in lines[1] and "malformed" not in done.stderr


def test_watch_promote_and_promote_silver_give_a_customer_one_key(tmp_path):
    """The salt reaches every promotion unmasked: one customer, one customer_key, either way."""
    text = (
        "Código da transação;Status da transação;Data da transação;Valor de compra com impostos;Email\n"
        "HP1;Aprovado;01/10/2026 10:00:00;97,00;Ana@Exemplo.com\nHP2;Aprovado;02/10/2026 11:00:00;47,00;bia@x.com\n"
    )
    keys = []
    for way in ("watch", "promote"):
        home = tmp_path / way
        drop(home / "landing_zone" / "diabetes", "hotmart.csv", text)
        extra = {"LAKECTL_SILVER__CUSTOMER_SALT": "um sal qualquer"}
        if way == "watch":
            done = cli(home, "watch", "--once", "--promote", **extra)
        else:
            assert cli(home, "ingest", str(home / "landing_zone"), **extra).returncode == 0
            done = cli(home, "promote", "silver", **extra)
        assert done.returncode == 0, done.stderr
        silver = pl.read_delta(str(home / "lake" / "silver" / "diabetes")).sort("transaction_id")
        keys.append(silver["customer_key"].to_list())
    assert keys[0] == keys[1] and len(set(keys[0])) == 2 and None not in keys[0]


# ------------------------------------------------------------------ zips that lie to the preflight

TRANSITIONAL = b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"
STRICT = b"http://purl.oclc.org/ooxml/spreadsheetml/main"
RELATIONSHIPS = b"http://schemas.openxmlformats.org/officeDocument/2006/relationships"
STRICT_RELATIONSHIPS = b"http://purl.oclc.org/ooxml/officeDocument/relationships"


def test_a_zip_whose_local_headers_lie_about_sizes_is_refused_before_any_parser(tmp_path):
    from lakectl.read.safety import Limits, check_file

    path = lie_about_size(write_xlsx(tmp_path / "mentira.xlsx"))
    with pytest.raises(SourceError, match=r"local header of part xl/worksheets/sheet1\.xml says"):
        check_file(path, Limits())


@pytest.mark.parametrize(
    "change",
    [
        lambda xml: re.sub(rb' xmlns(:\w+)?="[^"]*"', b"", xml).replace(b"r:id=", b"id="),
        lambda xml: xml.replace(TRANSITIONAL, STRICT).replace(RELATIONSHIPS, STRICT_RELATIONSHIPS),
    ],
    ids=["no namespace", "strict OOXML"],
)
def test_a_far_cell_cannot_hide_behind_the_workbooks_namespace(tmp_path, change):
    from lakectl.read.safety import Limits, check_file

    path = rewrite_entry(write_far_cell_xlsx(tmp_path / "longe.xlsx"), "xl/workbook.xml", change)
    with pytest.raises(SourceError, match="spans 1,048,576 rows"):
        check_file(path, Limits())
