"""The watch service with real processes, real folders and real files.

Invariant checked after every scenario: each dropped file ends exactly once in bronze and in the
archive, or in the quarantine with a reason; nothing is left pending, nothing is doubled.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import polars as pl
import pytest

from lakectl.config import load_settings
from lakectl.faults import INGEST_POINTS, WATCH_POINTS
from lakectl.lake import Lake, ledger
from lakectl.models import IngestResult
from lakectl.service.heartbeat import health
from lakectl.service.watch import Watcher

from .conftest import SUBPROCESS_TIMEOUT_S, write_far_cell_xlsx


def csv_text(name: str, rows: int = 5) -> str:
    return "id;valor\n" + "".join(f"{name}-{i};{i},50\n" for i in range(rows))


@pytest.fixture()
def zone(tmp_path: Path) -> dict[str, Path]:
    return {"landing": tmp_path / "landing_zone", "lake": tmp_path / "lake", "home": tmp_path}


def service_env(zone: dict[str, Path], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKECTL_")}
    env.update(
        LAKECTL_LANDING_ZONE=str(zone["landing"]),
        LAKECTL_LAKE_ROOT=str(zone["lake"]),
        LAKECTL_WATCH__STABILITY_WINDOW_S="0.6",
        LAKECTL_WATCH__RECONCILE_INTERVAL_S="2",
    )
    env.update(extra)
    return env


def start_watch(zone: dict[str, Path], *args: str, **extra: str) -> subprocess.Popen[str]:
    """A running service, returned once it has written its first heartbeat."""
    heartbeat = zone["lake"] / "_lakectl" / "heartbeat.json"
    heartbeat.unlink(missing_ok=True)
    service = subprocess.Popen(
        [sys.executable, "-m", "lakectl", "watch", "--log-format", "json", *args],
        env=service_env(zone, **extra),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    wait_for(heartbeat.exists, what="the service to start")
    return service


def run_once(zone: dict[str, Path], *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lakectl", "watch", "--once", "--log-format", "json", *args],
        env=service_env(zone, **extra),
        capture_output=True,
        text=True,
        timeout=180,
    )


def drop(zone: dict[str, Path], relative: str, text: str) -> Path:
    path = zone["landing"] / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def wait_for(condition, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def archived(zone: dict[str, Path]) -> list[str]:
    return [p.name for p in files_under(zone["landing"] / "_archive")]


def quarantined(zone: dict[str, Path]) -> list[str]:
    return [
        p.name for p in files_under(zone["landing"] / "_quarantine") if not p.name.endswith(".error.json")
    ]


def bronze_rows_by_file(zone: dict[str, Path], cluster: str = "diabetes") -> Counter[str]:
    table = zone["lake"] / "bronze" / cluster
    if not (table / "_delta_log").exists():
        return Counter()
    frame = pl.read_delta(str(table))
    return Counter(dict(frame.group_by("_source_file").len().iter_rows()))


def assert_settled(zone: dict[str, Path], expected_rows: dict[str, int], bad: set[str] = frozenset()) -> None:
    """The invariant: good files once in bronze and once in the archive, bad ones in quarantine."""
    assert Counter(archived(zone)) == Counter(expected_rows.keys())
    assert sorted(quarantined(zone)) == sorted(bad)
    assert bronze_rows_by_file(zone) == Counter(expected_rows)
    log = ledger.read(Lake(str(zone["lake"]))).filter(pl.col("status") == "ingested")
    assert sorted(log["file_name"].to_list()) == sorted(expected_rows), "one ingested ledger row per file"
    left = files_under(zone["landing"] / "diabetes")
    assert left == [], f"left pending: {left}"


def test_once_settles_every_file_and_leaves_strangers_alone(zone):
    for i in range(3):
        drop(zone, f"diabetes/v{i}.csv", csv_text(f"v{i}"))
    drop(zone, "diabetes/quebrado.xlsx", "not a workbook")
    drop(zone, "diabetes/~$aberto.xlsx", "lock")
    drop(zone, "diabetes/.~lock.v0.csv#", "lock")
    drop(zone, "diabetes/baixando.csv.crdownload", "partial")
    drop(zone, "outra_pasta/x.csv", csv_text("x"))
    drop(zone, "solto.csv", csv_text("s"))
    result = run_once(zone)
    assert result.returncode == 0, result.stderr
    assert Counter(archived(zone)) == Counter({"v0.csv": 1, "v1.csv": 1, "v2.csv": 1})
    assert quarantined(zone) == ["quebrado.xlsx"]
    error = json.loads(next((zone["landing"] / "_quarantine" / "diabetes").glob("*.error.json")).read_text())
    assert "quebrado.xlsx" in error["reason"] and error["hint"] and error["sha256"] and error["size"] == 14
    # lock files, downloads in progress, unknown folders and top-level files stay, with one warning each
    assert sorted(p.name for p in files_under(zone["landing"] / "diabetes")) == [
        ".~lock.v0.csv#", "baixando.csv.crdownload", "~$aberto.xlsx"]  # fmt: skip
    assert (zone["landing"] / "outra_pasta" / "x.csv").exists() and (zone["landing"] / "solto.csv").exists()
    warnings = [json.loads(line)["message"] for line in result.stderr.splitlines() if '"warning"' in line]
    assert sum("outra_pasta" in w for w in warnings) == 1 and sum("solto.csv" in w for w in warnings) == 1
    lines = [json.loads(line) for line in result.stderr.splitlines() if '"status"' in line]
    assert {(line["file"].split("/")[-1], line["status"]) for line in lines} >= {("v0.csv", "ingested")}
    assert bronze_rows_by_file(zone) == Counter({"v0.csv": 5, "v1.csv": 5, "v2.csv": 5})


def test_service_takes_slow_writes_renames_and_new_nested_folders(zone):
    # the gate's rule itself is tested with a stepped clock (test_timing.py); here, a real writer with
    # a wide margin (pauses of 0.2 s against a 3 s window), so a busy machine cannot make it flaky
    service = start_watch(zone, LAKECTL_WATCH__STABILITY_WINDOW_S="3")
    try:
        # a slow writer: 6 chunks 0.2 s apart; the file must not be taken half-written
        slow = zone["landing"] / "diabetes" / "lento.csv"
        text = csv_text("lento", 600)
        with slow.open("w", encoding="utf-8") as handle:
            for start in range(0, len(text), len(text) // 6 + 1):
                handle.write(text[start : start + len(text) // 6 + 1])
                handle.flush()
                time.sleep(0.2)
        # a rename into place
        part = zone["landing"] / "diabetes" / ".renomeado.csv.part"
        part.write_text(csv_text("ren", 7))
        part.rename(part.with_name("renomeado.csv"))
        # a brand-new nested folder with a file written at once (inotify alone misses these)
        nested = zone["landing"] / "diabetes" / "2026" / "11"
        nested.mkdir(parents=True)
        (nested / "aninhado.csv").write_text(csv_text("nest", 3))
        wait_for(lambda: len(archived(zone)) == 3, what="three archived files")
        ok, message = health(load_settings(landing_zone=zone["landing"], lake_root=zone["lake"]), 30)
        assert ok, message
    finally:
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=20) == 0
    assert bronze_rows_by_file(zone) == Counter({"lento.csv": 600, "renomeado.csv": 7, "aninhado.csv": 3})
    healthy, message = health(load_settings(landing_zone=zone["landing"], lake_root=zone["lake"]), 30)
    assert not healthy and "stopped" in message


def test_two_hundred_files_at_once_take_few_commits(zone):
    for i in range(200):
        drop(zone, f"diabetes/lote_{i:03d}.csv", csv_text(f"l{i}", 3))
    result = run_once(zone)
    assert result.returncode == 0, result.stderr
    assert_settled(zone, {f"lote_{i:03d}.csv": 3 for i in range(200)})
    from deltalake import DeltaTable

    writes = [
        h
        for h in DeltaTable(str(zone["lake"] / "bronze" / "diabetes")).history()
        if h["operation"] == "WRITE"
    ]
    assert len(writes) <= 3  # batches of up to reader.batch_max_files (100)


def test_a_file_that_kills_the_parser_does_not_kill_the_service(zone):
    # let the far cell reach calamine; its failure is a shortage (transient): quarantined at the 2nd try
    service = start_watch(zone, LAKECTL_READER__MAX_CELLS=str(10**18), LAKECTL_WATCH__MAX_ATTEMPTS="2")
    try:
        # written outside, then moved in whole: the watcher must never see it half-written
        far = write_far_cell_xlsx(zone["home"] / "longe.xlsx")
        far.rename(zone["landing"] / "diabetes" / "longe.xlsx")
        drop(zone, "diabetes/depois.csv", csv_text("d"))
        wait_for(
            lambda: "longe.xlsx" in quarantined(zone) and "depois.csv" in archived(zone), what="both settled"
        )
        assert service.poll() is None, "the service died"
        drop(zone, "diabetes/mais_tarde.csv", csv_text("m"))
        wait_for(lambda: "mais_tarde.csv" in archived(zone), what="a later file")
    finally:
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=20) == 0
    error = json.loads((zone["landing"] / "_quarantine" / "diabetes" / "longe.xlsx.error.json").read_text())
    assert "memory allocation" in error["reason"] and "reader.memory_limit_mb" in error["reason"]
    assert_settled(zone, {"depois.csv": 5, "mais_tarde.csv": 5}, bad={"longe.xlsx"})


def test_sigterm_mid_batch_then_restart_loses_and_doubles_nothing(zone):
    names = [f"grande_{i}.csv" for i in range(4)]
    for name in names:
        drop(zone, f"diabetes/{name}", csv_text(name, 150_000))
    service = start_watch(zone)
    wait_for(lambda: (zone["lake"] / "_lakectl" / "locks").exists(), what="the first ingest to start")
    service.send_signal(signal.SIGTERM)
    assert service.wait(timeout=20) == 0  # the 5 s grace, then exit 0 (the timeout fails the test)
    result = run_once(zone)
    assert result.returncode == 0, result.stderr
    assert_settled(zone, dict.fromkeys(names, 150_000))


@pytest.mark.parametrize("point", INGEST_POINTS + WATCH_POINTS)
def test_kill_at_each_fault_point_then_restart(zone, point):
    for i in range(3):
        drop(zone, f"diabetes/f{i}.csv", csv_text(f"f{i}", 50))
    crashed = run_once(zone, LAKECTL_FAULT=point)
    assert crashed.returncode == 137, crashed.stderr
    restarted = run_once(zone)
    assert restarted.returncode == 0, restarted.stderr
    assert_settled(zone, {f"f{i}.csv": 50 for i in range(3)})


def test_only_a_temp_name_renamed_into_place_skips_the_stability_gate(zone):
    from watchfiles import Change

    settings = load_settings(landing_zone=zone["landing"], lake_root=zone["lake"])
    folder = zone["landing"] / "diabetes"
    for name in ("novo.csv", "ao_mesmo_tempo.csv", "pronto.csv"):
        drop(zone, f"diabetes/{name}", csv_text(name))
    watcher = Watcher(settings)
    watcher.on_changes(
        [
            (Change.deleted, str(folder / "arquivado.csv")),  # our own archive move
            (Change.added, str(folder / "novo.csv")),
            (Change.deleted, str(folder / ".pronto.csv.part")),  # a finished upload renamed into place
            (Change.added, str(folder / "pronto.csv")),
            (Change.added, str(folder / "ao_mesmo_tempo.csv")),
        ]
    )
    assert [p.name for p in watcher.ready()] == ["pronto.csv"]
    watcher.worker.close()


def test_transient_failures_are_retried_then_quarantined(zone):
    settings = load_settings(landing_zone=zone["landing"], lake_root=zone["lake"], watch={"max_attempts": 3})
    path = drop(zone, "diabetes/travado.csv", csv_text("t"))
    watcher = Watcher(settings)
    watcher.scan()
    busy = IngestResult(file=path.name, path=str(path), cluster="diabetes", status="rejected",
                        reason="travado.csv: the lake is busy", transient=True)  # fmt: skip
    watcher.settle(path, busy)
    assert path.exists() and watcher.pending[path].attempts == 1 and not watcher.ready()
    watcher.settle(path, busy)
    assert path.exists() and watcher.pending[path].attempts == 2
    watcher.settle(path, busy)
    assert not path.exists() and quarantined(zone) == ["travado.csv"]
    watcher.worker.close()


def test_quarantine_list_and_retry(zone):
    drop(zone, "diabetes/quebrado.xlsx", "not a workbook")
    run_once(zone)
    env = service_env(zone)
    listed = subprocess.run([sys.executable, "-m", "lakectl", "quarantine", "list", "--json"], env=env,
                            capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)  # fmt: skip
    entries = json.loads(listed.stdout)
    assert [Path(e["quarantined_file"]).name for e in entries] == ["quebrado.xlsx"]
    retried = subprocess.run([sys.executable, "-m", "lakectl", "quarantine", "retry", "--all"], env=env,
                             capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)  # fmt: skip
    assert retried.returncode == 0 and (zone["landing"] / "diabetes" / "quebrado.xlsx").exists()
    assert quarantined(zone) == []


def test_systemd_notify_ready_watchdog_stopping(zone, tmp_path):
    address = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(0.5)
    messages: list[str] = []

    def listen() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any("STOPPING=1" in m for m in messages):
            try:
                messages.append(sock.recv(4096).decode())
            except TimeoutError:
                continue

    listener = threading.Thread(target=listen)
    listener.start()
    service = start_watch(zone, NOTIFY_SOCKET=address, WATCHDOG_USEC="400000")
    try:
        wait_for(lambda: sum("WATCHDOG=1" in m for m in messages) >= 2, what="watchdog pings")
    finally:
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=20) == 0
        listener.join(timeout=30)
        sock.close()
    joined = "\n".join(messages)
    assert "READY=1" in joined and "STATUS=watching" in joined and "STOPPING=1" in joined


@pytest.mark.parametrize("how", ["flag", "setting"])
def test_watch_promote_brings_silver_up_to_date(zone, how):
    header = "Código da transação;Status da transação;Data da transação;Valor de compra com impostos\n"
    drop(
        zone,
        "diabetes/hotmart.csv",
        header + "HP1;Aprovado;01/10/2026 10:00:00;97,00\nHP2;Pendente;02/10/2026 11:00:00;47,00\n",
    )
    if how == "flag":  # the command-line flag itself, not only the setting behind it
        result = run_once(zone, "--promote", LAKECTL_SILVER__CUSTOMER_SALT="s")
    else:
        result = run_once(zone, LAKECTL_WATCH__PROMOTE="true", LAKECTL_SILVER__CUSTOMER_SALT="s")
    assert result.returncode == 0, result.stderr
    silver = pl.read_delta(str(zone["lake"] / "silver" / "diabetes")).sort("transaction_id")
    assert silver.select("transaction_id", "status").rows() == [("HP1", "approved"), ("HP2", "pending")]
    assert any("promote silver diabetes: promoted" in line for line in result.stderr.splitlines())


def test_a_relative_landing_zone_tracks_each_file_once(tmp_path, monkeypatch):
    """Scans and inotify events must name a file the same way, or it is taken twice."""
    from watchfiles import Change

    monkeypatch.chdir(tmp_path)
    settings = load_settings(landing_zone=Path("landing_zone"), lake_root=Path("lake"))
    (tmp_path / "landing_zone" / "diabetes").mkdir(parents=True)
    (tmp_path / "landing_zone" / "diabetes" / "v.csv").write_text(csv_text("v"))
    watcher = Watcher(settings)
    watcher.scan()
    watcher.on_changes([(Change.added, str(tmp_path / "landing_zone" / "diabetes" / "v.csv"))])
    assert len(watcher.pending) == 1
    watcher.worker.close()


def test_a_second_watcher_on_the_same_landing_zone_exits_75_naming_the_first(zone):
    service = start_watch(zone)
    try:
        second = run_once(zone)
        assert second.returncode == 75, second.stderr
        assert f"PID {service.pid}" in second.stderr and "already watching" in second.stderr
        assert service.poll() is None, "the first watcher must keep running"
    finally:
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=20) == 0
    assert run_once(zone).returncode == 0  # the lock went with the first watcher
