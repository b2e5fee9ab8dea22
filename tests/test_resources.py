"""What lakectl holds while it runs: disk, memory, file descriptors, child processes.

A full disk is a real one (a small tmpfs the test mounts, as root), a read-only lake a real one;
every process a test starts carries a marker in its environment, and none may outlive the test.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from bench.measure import tree_rss_kib
from lakectl.config import load_settings
from lakectl.service.heartbeat import health

from .hostile import left_alive, wait_until, write_xlsx
from .tools import in_ci

CLUSTER = "diabetes"


def text(tag: str, rows: int = 50) -> str:
    return "id;valor\n" + "".join(f"{tag}-{i};{i},50\n" for i in range(rows))


def env_of(root: Path, marker: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKECTL_")}
    env.update(LAKECTL_LANDING_ZONE=str(root / "lz"), LAKECTL_LAKE_ROOT=str(root / "lake"),
               LAKECTL_WATCH__STABILITY_WINDOW_S="0.3", LAKECTL_WATCH__RECONCILE_INTERVAL_S="1",
               LAKECTL_TEST_TAG=marker, COLUMNS="300", **extra)  # fmt: skip
    return env


def lakectl(root: Path, marker: str, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lakectl", *args], env=env_of(root, marker, **extra),
                          capture_output=True, text=True, timeout=300)  # fmt: skip


@contextlib.contextmanager
def watching(root: Path, marker: str, **extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """A running `lakectl watch` (JSON log in root/watch.log), stopped with SIGTERM at the end."""
    heartbeat = Path(
        extra.get("LAKECTL_WATCH__HEARTBEAT_FILE", root / "lake" / "_lakectl" / "heartbeat.json")
    )
    with (root / "watch.log").open("ab") as log:
        service = subprocess.Popen([sys.executable, "-m", "lakectl", "watch", "--log-format", "json"],
                                   env=env_of(root, marker, **extra), stdout=log, stderr=log)  # fmt: skip
    try:
        wait_until(heartbeat.exists, 120, "the watcher to start", service)
        yield service
    finally:
        service.send_signal(signal.SIGTERM)
        try:
            assert service.wait(timeout=60) == 0, (root / "watch.log").read_text()[-2000:]
        finally:
            service.kill()


def archived(root: Path) -> set[str]:
    folder = root / "lz" / "_archive"
    return {p.name for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


def bronze_rows(root: Path) -> dict[str, int]:
    frame = pl.read_delta(str(root / "lake" / "bronze" / CLUSTER))
    return dict(frame.group_by("_source_file").len().iter_rows())


def heartbeat(path: Path) -> dict:
    return json.loads(path.read_text())


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


# ------------------------------------------------------------------ a full disk


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs at tmp_path/lake (root and a working `mount` needed: skipped, or failed in CI)."""
    lake = tmp_path / "lake"
    lake.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(lake)], capture_output=True, timeout=30
    ).returncode == 0  # fmt: skip
    if not mounted:
        if in_ci():
            pytest.fail("cannot mount a tmpfs for the disk-full test; CI runs as root", pytrace=False)
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield lake
    finally:
        subprocess.run(["umount", "-l", str(lake)], capture_output=True, timeout=30)


def fill(disk: Path) -> Path:
    """Fill the disk to the last byte with one file."""
    filler = disk / "enchimento"
    with filler.open("wb") as handle, contextlib.suppress(OSError):
        while True:
            handle.write(b"\0" * (1 << 16))
            handle.flush()
    return filler


def test_a_full_disk_fails_the_run_clearly_blames_no_file_and_watch_waits_for_space(tmp_path, small_disk):
    marker = uuid.uuid4().hex
    folder = tmp_path / "lz" / CLUSTER
    folder.mkdir(parents=True)
    names = [f"cheio_{i}.csv" for i in range(3)]
    for name in names:
        (folder / name).write_text(text(name, 2000))
    assert lakectl(tmp_path, marker, "ingest", str(tmp_path / "lz")).returncode == 0  # a lake to fill
    assert sorted(bronze_rows(tmp_path)) == names
    filler = fill(small_disk)
    late = [f"depois_{i}.csv" for i in range(3)]
    for name in late:
        (folder / name).write_text(text(name, 2000))
    done = lakectl(tmp_path, marker, "ingest", str(tmp_path / "lz"))
    assert done.returncode == 6, done.stderr
    assert done.stderr.startswith(f"Error: disk full: cannot write {small_disk}"), done.stderr
    assert "free disk space" in done.stderr
    assert "Traceback" not in done.stderr and "panicked" not in done.stderr, done.stderr
    assert sorted(bronze_rows(tmp_path)) == names, "the table changed on a full disk"
    beat = tmp_path / "heartbeat.json"  # off the full disk, so that the test can read it
    with watching(tmp_path, marker, LAKECTL_WATCH__HEARTBEAT_FILE=str(beat)) as service:
        wait_until(lambda: "disk full" in (heartbeat(beat).get("last_error") or ""), 120,
                   "the watcher to report the full disk", service)  # fmt: skip
        assert all((folder / name).exists() for name in late), "a file left the zone on a full disk"
        settings = load_settings(
            landing_zone=tmp_path / "lz", lake_root=small_disk, watch={"heartbeat_file": beat}
        )
        healthy, message = health(settings, 60)
        assert not healthy and "disk full" in message, message
        filler.unlink()
        wait_until(lambda: archived(tmp_path) >= set(late), 180, "the files once there is space", service)
        wait_until(lambda: health(settings, 60)[0], 60, "health to turn green again", service)
    log = (tmp_path / "watch.log").read_text()
    assert "Traceback" not in log and "panicked" not in log and '"rejected"' not in log, log[-3000:]
    assert bronze_rows(tmp_path) == dict.fromkeys(names + late, 2000)
    assert left_alive(marker) == []


# ------------------------------------------------------------------ a read-only lake under watch


def test_watch_over_a_read_only_lake_exits_6_naming_the_path(tmp_path):
    from .test_hostile_inputs import unprivileged

    marker = uuid.uuid4().hex
    (tmp_path / "lz" / CLUSTER).mkdir(parents=True)
    (tmp_path / "lz" / CLUSTER / "v.csv").write_text(text("v"))
    assert lakectl(tmp_path, marker, "ingest", str(tmp_path / "lz")).returncode == 0
    (tmp_path / "lz" / CLUSTER / "w.csv").write_text(text("w"))
    lake = tmp_path / "lake"
    for path in [lake, *lake.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)
    try:
        done = subprocess.run([*unprivileged(), sys.executable, "-m", "lakectl", "watch", "--once"],
                              env=env_of(tmp_path, marker), capture_output=True, text=True, timeout=300)  # fmt: skip
    finally:
        for path in [lake, *lake.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
    assert done.returncode == 6, done.stderr
    assert "permission denied" in done.stderr and str(lake) in done.stderr and "Traceback" not in done.stderr
    assert (tmp_path / "lz" / CLUSTER / "w.csv").exists(), "the file must stay for the next start"
    assert left_alive(marker) == []


# ------------------------------------------------------------------ descriptors and memory of watch


def drop_round(folder: Path, round_no: int, files: int) -> set[str]:
    names = set()
    for i in range(files):
        name = f"r{round_no:02d}_{i:02d}.csv"
        staged = folder.parent.parent / name
        staged.write_text(text(name, 30))
        staged.rename(folder / name)  # whole at once
        names.add(name)
    return names


def test_open_file_descriptors_of_watch_stay_flat(tmp_path):
    """After a warm-up round, every round of files leaves the watcher with the descriptors it had."""
    marker = uuid.uuid4().hex
    folder = tmp_path / "lz" / CLUSTER
    folder.mkdir(parents=True)
    counts = []
    with watching(tmp_path, marker) as service:
        expected: set[str] = set()
        for round_no in range(5):
            expected |= drop_round(folder, round_no, 8)
            wait_until(
                lambda want=frozenset(expected): archived(tmp_path) >= want, 180, f"round {round_no}", service
            )
            time.sleep(1.0)  # the heartbeat and the commit's files are closed by now
            counts.append(open_fds(service.pid))
    assert max(counts[1:]) <= counts[1], f"descriptors grew round after round: {counts}"
    assert left_alive(marker) == []


@pytest.mark.chaos
@pytest.mark.timeout(1800)
def test_memory_of_watch_stays_bounded_under_100_files_with_the_largest_real_shaped_ones(tmp_path):
    """100 files at once: a 9,000-column CSV, a 150,000-row sparse xlsx, a 40,000-row .xls and 97 small
    ones. The tree's RSS (watcher + parser child) is sampled throughout; figures go to the README."""
    import xlwt

    marker = uuid.uuid4().hex
    staging = tmp_path / "staging"
    staging.mkdir()
    wide = ",".join(f"col {i}" for i in range(9000))
    (staging / "wide.csv").write_text(wide + "\n" + "\n".join(",".join(f"v{r}.{i}" for i in range(9000)) for r in range(3)) + "\n")  # fmt: skip
    write_xlsx(staging / "sparse.xlsx", rows=150_000, sparse=True)
    book = xlwt.Workbook()
    sheet = book.add_sheet("vendas")
    for col, name in enumerate(["pedido", "produto", "valor", "cliente"]):
        sheet.write(0, col, name)
    for row in range(1, 40_001):
        for col, value in enumerate([f"P{row}", f"produto {row % 97}", row * 2.5, f"c{row}@x.com"]):
            sheet.write(row, col, value)
    book.save(str(staging / "legacy.xls"))
    for i in range(97):
        (staging / f"small_{i:02d}.csv").write_text(text(f"s{i}", 20))
    folder = tmp_path / "lz" / CLUSTER
    folder.mkdir(parents=True)
    samples: list[int] = []
    started = time.monotonic()
    with watching(tmp_path, marker) as service:  # the default parser cap, reader.memory_limit_mb
        idle = tree_rss_kib(service.pid)
        fds_before = open_fds(service.pid)
        names = {p.name for p in staging.iterdir()}
        for path in sorted(staging.iterdir()):
            path.rename(folder / path.name)
        deadline = time.monotonic() + 1200
        while not archived(tmp_path) >= names:
            assert service.poll() is None and time.monotonic() < deadline, "the batch did not settle"
            samples.append(tree_rss_kib(service.pid))
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        time.sleep(1.0)
        fds_after = open_fds(service.pid)
        settled = tree_rss_kib(service.pid)
    peak = max(samples) / 1024
    print(f"\nwatch, 100 files: {elapsed:.0f} s, tree RSS idle {idle / 1024:.0f} MiB, peak {peak:.0f} MiB, "
          f"after {settled / 1024:.0f} MiB; fds {fds_before} (cold) -> {fds_after} (warm)")  # fmt: skip
    assert peak < load_settings().reader.memory_limit_mb + 512, (
        "the tree outgrew the parser's cap plus the watcher"
    )
    rows = bronze_rows(tmp_path)
    assert rows["sparse.xlsx"] == 150_000 and rows["legacy.xls"] == 40_000 and rows["wide.csv"] == 3
    assert len(rows) == 100
    assert left_alive(marker) == []


# ------------------------------------------------------------------ first-attack regressions


def test_a_native_abort_stays_off_the_console_and_in_the_files_reason(tmp_path):
    """A far cell that reaches calamine (the preflight bypassed) aborts the parser with Rust's
    'memory allocation of N bytes failed': that line belongs in the rejection, not on the console."""
    from .conftest import write_far_cell_xlsx

    marker = uuid.uuid4().hex
    folder = tmp_path / "lz" / CLUSTER
    folder.mkdir(parents=True)
    write_far_cell_xlsx(folder / "longe.xlsx")
    done = lakectl(tmp_path, marker, "ingest", str(folder), "--json", LAKECTL_READER__MAX_CELLS=str(10**18))
    assert done.returncode == 4, done.stderr
    (result,) = json.loads(done.stdout)["files"]
    assert "reader.memory_limit_mb" in result["reason"] and "memory allocation" in result["reason"], result
    assert "memory allocation" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert left_alive(marker) == []


def test_a_kill_mid_ingest_leaves_no_temporary_copy_outside_the_lakes_temp_folder(tmp_path):
    """A UTF-16 file is re-encoded into a temporary copy: it lives under the lake's temp folder (swept
    at the next start), never in the system's, where a kill -9 during the copy would leak it for good."""
    marker = uuid.uuid4().hex
    folder = tmp_path / "lz" / CLUSTER
    folder.mkdir(parents=True)
    (folder / "utf16.csv").write_bytes("\ufeff".encode("utf-16-le") + text("u", 400_000).encode("utf-16-le"))
    system_temp = tmp_path / "system_temp"
    system_temp.mkdir()
    lake_temp = tmp_path / "lake" / "_lakectl" / "tmp"
    command = [sys.executable, "-m", "lakectl", "ingest", str(folder)]
    env = env_of(tmp_path, marker, TMPDIR=str(system_temp), LAKECTL_READER__ISOLATE="false")
    run = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while not (copies := [*system_temp.rglob("lakectl-*"), *lake_temp.rglob("lakectl-*")]):
            assert run.poll() is None and time.monotonic() < deadline, "never saw the re-encoded copy"
            time.sleep(0.005)
        run.kill()  # kill -9 while the copy exists
        run.wait(timeout=60)
    finally:
        run.kill()
    assert all(lake_temp in c.parents for c in copies) and list(system_temp.iterdir()) == [], copies
    again = lakectl(tmp_path, marker, "ingest", str(folder), TMPDIR=str(system_temp))
    assert again.returncode == 0, again.stderr
    assert list(lake_temp.iterdir()) == [], "the dead run's folder stayed"
    assert bronze_rows(tmp_path) == {"utf16.csv": 400_000}
    assert left_alive(marker) == []


def test_a_large_file_never_holds_its_batch_mates_hostage(tmp_path):
    """The files before a large (slow) one are committed and reported before it is parsed, so watch
    archives them meanwhile instead of after it."""
    from lakectl import pipeline
    from lakectl.read.spool import parse_file

    settings = load_settings(
        landing_zone=tmp_path / "lz", lake_root=tmp_path / "lake", reader={"isolate": False}
    )
    folder = tmp_path / "lz" / CLUSTER
    folder.mkdir(parents=True)
    small = [folder / f"a_{i}.csv" for i in range(3)]
    for path in small:
        path.write_text(text(path.name, 10))
    large = folder / "z_largo.csv"
    large.write_text(
        ";".join(f"c{i}" for i in range(2000)) + "\n" + (";".join("v" * 2000) + "\n") * 400
    )  # 1.6 MB
    events: list[str] = []

    def parse(path: Path, options, spool_dir):  # the real parser, with a note of when it starts
        events.append(f"parse {path.name}")
        return parse_file(path, options, spool_dir)

    pipeline.ingest_batch([*small, large], CLUSTER, settings, parse=parse,
                          on_result=lambda r: events.append(f"done {r.file}"))  # fmt: skip
    assert events.index("parse z_largo.csv") > max(events.index(f"done {p.name}") for p in small), events
    assert bronze_rows(tmp_path) == {**{p.name: 10 for p in small}, "z_largo.csv": 400}


def test_an_unexpected_failure_of_a_batch_keeps_the_watcher_up_and_the_files_pending(tmp_path):
    """A bronze table broken under a running watcher (its first commit file is garbage) makes the
    engine raise its own error: the watcher logs it, keeps the file, turns health red, and takes the
    file once the table is repaired."""
    marker = uuid.uuid4().hex
    folder = tmp_path / "lz" / CLUSTER
    folder.mkdir(parents=True)
    beat = tmp_path / "heartbeat.json"
    settings = load_settings(
        landing_zone=tmp_path / "lz", lake_root=tmp_path / "lake", watch={"heartbeat_file": beat}
    )
    with watching(tmp_path, marker, LAKECTL_WATCH__HEARTBEAT_FILE=str(beat)) as service:
        log_dir = tmp_path / "lake" / "bronze" / CLUSTER / "_delta_log"
        log_dir.mkdir(parents=True)
        (log_dir / "00000000000000000000.json").write_text("{not json")
        (folder / "v.csv").write_text(text("v"))
        wait_until(
            lambda: "unexpected" in (heartbeat(beat).get("last_error") or ""), 120, "the failure", service
        )
        assert (folder / "v.csv").exists() and not health(settings, 60)[0]
        import shutil

        shutil.rmtree(log_dir.parent)  # repaired: the table starts afresh
        wait_until(
            lambda: archived(tmp_path) == {"v.csv"}, 180, "the file once the table is repaired", service
        )
    assert bronze_rows(tmp_path) == {"v.csv": 50}
    assert left_alive(marker) == []


# ------------------------------------------------------------- the parser short of memory or threads


def test_a_parser_cap_too_small_for_its_threads_is_refused_when_the_settings_load():
    from lakectl.config import MIN_PARSER_MEMORY_MB
    from lakectl.errors import ConfigError

    with pytest.raises(ConfigError) as refused:
        load_settings(reader={"memory_limit_mb": 2048})
    assert "reader.memory_limit_mb" in str(refused.value) and f"minimum of {MIN_PARSER_MEMORY_MB} MiB" in str(
        refused.value
    )
    assert load_settings(reader={"memory_limit_mb": MIN_PARSER_MEMORY_MB}).reader.memory_limit_mb == 4096


def test_a_parser_short_of_memory_blames_no_file_and_says_which_setting_to_raise(tmp_path):
    """A cap too small for the parser's own start-up (its libraries cannot even be mapped, or its
    allocator's threads cannot start): every file fails in the fresh child too, but as ours: transient, naming the file, the cap and its setting, never remembered as a
    verdict on the bytes; with room, the same files go in."""
    from lakectl.service import runner

    folder = tmp_path / "lz" / CLUSTER
    folder.mkdir(parents=True)
    for name in ("a.csv", "b.csv"):
        (folder / name).write_text(text(name))
    settings = load_settings(landing_zone=tmp_path / "lz", lake_root=tmp_path / "lake")
    settings.reader.memory_limit_mb = 256  # past the floor, which the settings would refuse
    jobs = runner.plan([folder], None, settings)
    results = runner.ingest_paths(jobs, settings)
    for result in results:
        assert result.status == "rejected" and result.transient and result.error_class == "OutOfResources", (
            result
        )
        assert result.reason.startswith(f"{result.file}: the parser ran out of memory or threads"), (
            result.reason
        )
        assert "256 MiB (reader.memory_limit_mb)" in result.reason and "LAKECTL_READER__MEMORY_LIMIT_MB" in (
            result.hint or ""
        )
    assert not list((tmp_path / "lake" / "_lakectl").rglob("rejected/*.json")), (
        "remembered as the files' fault"
    )
    again = runner.ingest_paths(
        jobs, load_settings(landing_zone=tmp_path / "lz", lake_root=tmp_path / "lake")
    )
    assert [r.status for r in again] == ["ingested", "ingested"], [r.reason for r in again]
    assert bronze_rows(tmp_path) == {"a.csv": 50, "b.csv": 50}


ABORT = "import os; os.write(2, {text!r}.encode()); os.abort()"
RUST_THREAD_PANIC = (
    "thread '<unnamed>' panicked at rayon-core/src/registry.rs:168:10:\n"
    "failed to spawn thread: Os { code: 11, kind: WouldBlock, message: \"Resource temporarily unavailable\" }\n"
    "stack backtrace:\n" + "".join(f"  {i}: frame_{i}\n             at /rustc/src/lib.rs:{i}\n" for i in range(40))
    + "note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.\n"
)  # fmt: skip


def test_a_parser_death_is_told_by_the_line_that_says_why(tmp_path):
    """A native abort ends with backtrace frames and notes: the death is described by the line that
    says why (a thread that could not start), and it counts as a shortage; another abort does not."""
    from lakectl.service.worker import CappedChild, ChildDied

    with CappedChild(1024, tmp_path) as child:
        with pytest.raises(ChildDied) as died:
            child.call(exec, ABORT.format(text=RUST_THREAD_PANIC), timeout=60)
        assert died.value.starved and "failed to spawn thread: Os { code: 11" in str(died.value), str(
            died.value
        )
        with pytest.raises(ChildDied) as died:
            child.call(
                exec,
                ABORT.format(text="thread 'main' panicked at src/ods.rs:9:\nbad cell index\n"),
                timeout=60,
            )
        assert not died.value.starved and "bad cell index" in str(died.value), str(died.value)


def test_a_warm_parser_is_judged_by_what_it_said_during_this_file_only(tmp_path):
    """A warm child that wrote a memory-related line for an earlier file (and survived it), then
    dies of something else on the next: the death is not a shortage and is told by its own line."""
    from lakectl.service.worker import CappedChild, ChildDied

    survived = "import os; os.write(2, b'memory allocation of 4096 bytes failed (retried)\\n')"
    with CappedChild(4096, tmp_path) as child:
        assert child.call(exec, survived, timeout=60) is None  # the earlier file: answered
        with pytest.raises(ChildDied) as died:
            child.call(exec, ABORT.format(text="thread 'main' panicked at src/ods.rs:9:\nbad cell index\n"),
                       timeout=60)  # fmt: skip
        assert not died.value.starved, str(died.value)
        assert "bad cell index" in str(died.value) and "4096 bytes" not in str(died.value), str(died.value)
        # the next child is new: what it says during its start-up and first call counts
        with pytest.raises(ChildDied) as died:
            child.call(exec, ABORT.format(text=RUST_THREAD_PANIC), timeout=60)
        assert died.value.starved and "failed to spawn thread" in str(died.value), str(died.value)
