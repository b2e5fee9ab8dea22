"""kill -9 at every fault point of every command that writes, and at random moments: then the
rerun must leave 0 rows lost, 0 doubled, every file in exactly one place, every table at its latest
version, and a second run must change nothing.

Each round is a seeded random pick of example-generator and corpus files (tests/chaos.py). Round 0
of every fault point runs in `make test`; rounds 1-N and N random-moment kills of each command under
`make chaos`, N = LAKECTL_CHAOS_ROUNDS (20, what the issue asks; `make chaos LAKECTL_CHAOS_ROUNDS=2`
for a quick look).
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from lakectl.faults import (
    BACKUP_POINTS,
    FAULT_EXIT,
    FORGET_POINTS,
    INGEST_POINTS,
    MAINTAIN_POINTS,
    PROMOTE_POINTS,
    RESTORE_BACKUP_POINTS,
    RESTORE_POINTS,
    UPLOAD_POINTS,
    WATCH_POINTS,
)
from lakectl.lake import Lake
from lakectl.lake.maintenance import verify_backup
from lakectl.promote import promote_all

from . import serve_client
from .chaos import (
    Placed,
    Pool,
    Round,
    Run,
    assert_exactly_once,
    assert_second_run_changes_nothing,
    assert_tables_open_at_latest,
    lakectl,
    new_round,
    no_traceback,
    settings_for,
    temp_leftovers,
    versions,
)
from .test_promotion_crash import all_rows, contents

ROUNDS = int(os.environ.get("LAKECTL_CHAOS_ROUNDS", "20"))  # seeded rounds per point under `chaos`


def crashed(run: Run, fault: str | None) -> None:
    """A fault point reached kills the process with FAULT_EXIT; a random kill may land anywhere,
    even after the end. Neither prints a traceback."""
    if fault is not None:
        assert run.returncode == FAULT_EXIT, f"fault point {fault} not reached: {run.stderr[-3000:]}"
    no_traceback(run)


def ok(run: Run, *codes: int) -> None:
    assert run.returncode in (codes or (0, 4)), run.stderr[-3000:]
    no_traceback(run)


def kill_moment(round_: Round, seed: int, *args: str) -> float:
    """A random moment within a clean run of the same command on a copy of this round's lake."""
    probe = Round(round_.home / "probe", settings_for(round_.home / "probe"), round_.placed)
    for name in ("landing_zone", "lake"):
        if (round_.home / name).exists():
            shutil.copytree(round_.home / name, round_.home / "probe" / name, symlinks=True)
    clean = lakectl(probe, *(a.replace(str(round_.home), str(probe.home)) for a in args))
    shutil.rmtree(probe.home)
    return random.Random(seed).uniform(0.0, clean.seconds)


# ----------------------------------------------------------------------------------------- ingest


def landing_scenario(
    pool: Pool, tmp_path: Path, seed: int, fault: str | None, moment: bool, watch: bool
) -> None:
    """`ingest` (files stay in place) or `watch --once` (files go to the archive or quarantine)."""
    round_ = new_round(tmp_path, pool, seed, count=3 if seed == 0 else 6)
    args = ("watch", "--once") if watch else ("ingest", str(round_.settings.landing_zone))
    after = kill_moment(round_, seed, *args) if moment else None
    crashed(lakectl(round_, *args, fault=fault, kill_after=after), fault)
    ok(lakectl(round_, *args), *((0,) if watch else (0, 4)))
    assert_exactly_once(round_, moved=watch)
    assert_second_run_changes_nothing(round_, *args)
    assert temp_leftovers(round_.settings) == []


# ---------------------------------------------------------------------------- forget and restore


def forget_scenario(pool: Pool, tmp_path: Path, seed: int, fault: str | None, moment: bool) -> None:
    """A file is forgotten; the kill may leave bronze without its rows and the ledger still
    listing it. The next ingest must take the file again, whatever the kill left."""
    round_ = new_round(tmp_path, pool, seed, count=3 if seed == 0 else 6)
    round_.ingest_in_process()
    target = str(round_.placed[0].path)  # the pick puts an ingestable file first
    killed_then_ingested(round_, seed, ("forget", target), fault, moment)


def killed_then_ingested(
    round_: Round, seed: int, args: tuple[str, ...], fault: str | None, moment: bool
) -> None:
    """``lakectl ARGS`` killed, then the next ingest: every file once, whatever the kill left."""
    after = kill_moment(round_, seed, *args) if moment else None
    crashed(lakectl(round_, *args, fault=fault, kill_after=after), fault)
    zone = str(round_.settings.landing_zone)
    ok(lakectl(round_, "ingest", zone))
    assert_exactly_once(round_)
    assert_second_run_changes_nothing(round_, "ingest", zone)


def restore_scenario(pool: Pool, tmp_path: Path, seed: int, fault: str | None, moment: bool) -> None:
    """Two ingests into one cluster, then bronze restored to the first: the second's files must
    come back with the next ingest, whatever the kill left."""
    rng = random.Random(seed)
    cluster = rng.choice(settings_for(tmp_path).clusters)
    round_ = new_round(tmp_path, pool, seed, count=2 if seed == 0 else 4, clusters=[cluster])
    round_.ingest_in_process()
    first = Lake.from_settings(round_.settings).bronze(cluster).version()
    taken = {p.source.sha256 for p in round_.placed}
    fresh = [s for s in pool.ingestable() if s.sha256 not in taken]
    round_.place(rng.sample(fresh, 1 if seed == 0 else 2), rng, [cluster])
    round_.ingest_in_process()
    killed_then_ingested(
        round_, seed, ("restore", f"bronze/{cluster}", "--version", str(first)), fault, moment
    )


# --------------------------------------------------------------------------- promote and maintain


def promoted_round(pool: Pool, tmp_path: Path, seed: int) -> Round:
    """Bronze of a round promoted once, then more files ingested: the next promotion is incremental."""
    rng = random.Random(seed)
    round_ = new_round(tmp_path, pool, seed, count=3 if seed == 0 else 5)
    round_.ingest_in_process()
    promote_all(round_.settings)
    taken = {p.source.sha256 for p in round_.placed}
    round_.place(rng.sample([s for s in pool.ingestable() if s.sha256 not in taken], 2), rng)
    round_.ingest_in_process()
    return round_


def promote_scenario(pool: Pool, tmp_path: Path, seed: int, fault: str | None, moment: bool) -> None:
    round_ = promoted_round(pool, tmp_path, seed)
    oracle = settings_for(tmp_path / "oracle")
    shutil.copytree(round_.settings.lake_root, oracle.lake_root)
    promote_all(oracle, full=True)
    after = kill_moment(round_, seed, "promote", "all") if moment else None
    crashed(lakectl(round_, "promote", "all", fault=fault, kill_after=after), fault)
    ok(lakectl(round_, "promote", "all"), 0)
    assert contents(round_.settings.lake_root) == contents(oracle.lake_root)
    assert_tables_open_at_latest(round_.settings)
    assert_second_run_changes_nothing(round_, "promote", "all")


def maintain_scenario(pool: Pool, tmp_path: Path, seed: int, fault: str | None, moment: bool) -> None:
    round_ = promoted_round(pool, tmp_path, seed)
    promote_all(round_.settings)
    before = all_rows(round_.settings.lake_root)
    after = kill_moment(round_, seed, "maintain") if moment else None
    crashed(lakectl(round_, "maintain", fault=fault, kill_after=after), fault)
    ok(lakectl(round_, "maintain"), 0)
    assert all_rows(round_.settings.lake_root) == before
    assert_exactly_once(round_)
    assert_second_run_changes_nothing(round_, "maintain")
    # the exactly-once state and the watermarks survive: nothing is ingested or promoted again
    assert_second_run_changes_nothing(round_, "ingest", str(round_.settings.landing_zone))
    assert_second_run_changes_nothing(round_, "promote", "all")


# ------------------------------------------------------------------------------ backup and restore


def backup_scenario(pool: Pool, tmp_path: Path, seed: int, fault: str | None, moment: bool) -> None:
    """A killed backup, run again, is complete: it verifies, and a lake restored from it holds
    every row of the source; the next backup copies nothing."""
    round_ = promoted_round(pool, tmp_path, seed)
    dest = str(tmp_path / "backup")
    after = kill_moment(round_, seed, "backup", dest) if moment else None
    crashed(lakectl(round_, "backup", dest, fault=fault, kill_after=after), fault)
    ok(lakectl(round_, "backup", dest), 0)
    assert verify_backup(dest)["ok"], verify_backup(dest)["problems"]
    copy = Round(tmp_path / "copy", settings_for(tmp_path / "copy"))
    ok(lakectl(copy, "restore-backup", dest), 0)
    assert all_rows(copy.settings.lake_root) == all_rows(round_.settings.lake_root)
    again = assert_second_run_changes_nothing(round_, "backup", dest)
    assert ": 0 file(s) copied" in " ".join(again.stdout.split()), again.stdout


def restore_backup_scenario(pool: Pool, tmp_path: Path, seed: int, fault: str | None, moment: bool) -> None:
    """A restore from a backup killed half-way: run again with --force, the lake is whole."""
    round_ = promoted_round(pool, tmp_path, seed)
    dest = str(tmp_path / "backup")
    ok(lakectl(round_, "backup", dest), 0)
    copy = Round(tmp_path / "copy", settings_for(tmp_path / "copy"))
    after = kill_moment(copy, seed, "restore-backup", dest) if moment else None
    crashed(lakectl(copy, "restore-backup", dest, fault=fault, kill_after=after), fault)
    ok(lakectl(copy, "restore-backup", dest, "--force"), 0)
    assert all_rows(copy.settings.lake_root) == all_rows(round_.settings.lake_root)
    assert_tables_open_at_latest(copy.settings)
    assert versions(copy.settings) == versions(round_.settings)


# ------------------------------------------------------------------------------------ HTTP upload


def upload_scenario(pool: Pool, tmp_path: Path, seed: int, fault: str | None, moment: bool) -> None:
    """`lakectl serve` killed while it takes an upload (?ingest=now); restarted, the client sends
    the same files again (it never got an answer): each is in bronze and the ledger once, in the
    archive once, and nothing is left in the staging folder."""
    rng = random.Random(seed)
    sources = rng.sample(pool.ingestable(), 2 if seed == 0 else 3)
    files = [(f"f{i:02d}-{s.path.name}", s.path.read_bytes()) for i, s in enumerate(sources)]
    cluster = rng.choice(settings_for(tmp_path).clusters)
    env = {"LAKECTL_SILVER__CUSTOMER_SALT": "chaos"}
    assert fault is not None and not moment  # a kill at a random moment is the other tests' job
    with serve_client.running(tmp_path, LAKECTL_FAULT=fault, **env) as server:
        with pytest.raises(OSError):  # the server dies with the request
            server.upload(files, cluster=cluster, query="?ingest=now")
        server.process.wait(timeout=60)
        assert server.process.returncode == FAULT_EXIT, server.log.read_text()[-3000:]
    with serve_client.running(tmp_path, **env) as server:
        reply = server.upload(files, cluster=cluster, query="?ingest=now")
        assert reply.status in (200, 201), reply.body[:2000]
        statuses = {f["file"]: f["status"] for f in reply.json()["files"]}
        assert set(statuses.values()) <= {"ingested", "skipped"}, statuses
        for source in sources:
            assert server.request("GET", f"/api/v1/files/{source.sha256}").json()["status"] == "ingested"
    round_ = Round(tmp_path, settings_for(tmp_path))
    for (name, _), source in zip(files, sources, strict=True):
        round_.placed.append(Placed(source, cluster, round_.settings.landing_zone / cluster / name))
    assert_exactly_once(round_, moved=True)
    staging = round_.settings.landing_zone / ".uploads"
    assert [p.name for p in staging.rglob("*")] == []
    no_traceback(Run(0, "", server.log.read_text(), 0))


# --------------------------------------------------------------------------------------- the runs

Scenario = Callable[[Pool, Path, int, "str | None", bool], None]
SCENARIOS: dict[str, tuple[Scenario, tuple[str, ...], bool]] = {
    # command: (scenario, its fault points, also killed at random moments)
    "ingest": (partial(landing_scenario, watch=False), INGEST_POINTS, True),
    "watch": (partial(landing_scenario, watch=True), INGEST_POINTS + WATCH_POINTS, True),
    "forget": (forget_scenario, FORGET_POINTS, True),
    "restore": (restore_scenario, RESTORE_POINTS, True),
    "promote": (promote_scenario, PROMOTE_POINTS, True),
    "maintain": (maintain_scenario, MAINTAIN_POINTS, True),
    "backup": (backup_scenario, BACKUP_POINTS, True),
    "restore-backup": (restore_backup_scenario, RESTORE_BACKUP_POINTS, True),
    "upload": (upload_scenario, INGEST_POINTS + UPLOAD_POINTS, False),
}
AT_FAULT_POINTS = [
    pytest.param(
        command, point, seed, marks=[pytest.mark.chaos] if seed else [], id=f"{command}-{point}-{seed}"
    )
    for command, (_, points, _) in SCENARIOS.items()
    for point in points
    for seed in range(ROUNDS + 1)  # seed 0 in `make test`, 1..ROUNDS under the chaos marker
]
AT_RANDOM_MOMENTS = [
    pytest.param(command, seed, marks=pytest.mark.chaos, id=f"{command}-{seed}")
    for command, (_, _, random_too) in SCENARIOS.items()
    if random_too
    for seed in range(ROUNDS)
]


@pytest.mark.parametrize(("command", "point", "seed"), AT_FAULT_POINTS)
def test_killed_at_a_fault_point(chaos_pool, tmp_path, command, point, seed):
    SCENARIOS[command][0](chaos_pool, tmp_path, seed, point, False)


@pytest.mark.parametrize(("command", "seed"), AT_RANDOM_MOMENTS)
def test_killed_at_a_random_moment(chaos_pool, tmp_path, command, seed):
    SCENARIOS[command][0](chaos_pool, tmp_path, seed, None, True)
