"""Concurrency on one local lake: 4 processes ingesting the same landing zone and 2 promoting it at
once, with `maintain` and `backup` started while they run. Every process succeeds or exits 75
("busy", one clear line, then retried as a user would); none prints a traceback. Afterwards bronze
holds every file's rows exactly once, the ingest log agrees, silver and gold equal a full rebuild,
and the backup verifies and restores. (tests/test_s3.py races three processes on S3.)
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lakectl.lake.maintenance import verify_backup
from lakectl.promote import promote_all

from .chaos import (
    Pool,
    Round,
    assert_exactly_once,
    assert_group_gone,
    assert_tables_open_at_latest,
    new_round,
    settings_for,
    versions,
)
from .conftest import SUBPROCESS_TIMEOUT_S
from .test_promotion_crash import contents

BUSY = 75
RETRIES = 5


def start(round_: Round, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "lakectl", *args], env=round_.env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        _, stderr = process.communicate(timeout=SUBPROCESS_TIMEOUT_S * 2)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        raise AssertionError(f"{process.args} hung") from None
    assert_group_gone(process.pid, " ".join(map(str, process.args)))
    return process.returncode, stderr


def run_until_done(round_: Round, args: tuple[str, ...], first: subprocess.Popen[str]) -> list[int]:
    """The exit codes of a command and its retries: each must be success or a clean 'busy'."""
    codes = []
    process = first
    for _ in range(RETRIES):
        code, stderr = finish(process)
        codes.append(code)
        assert "Traceback" not in stderr, stderr[-3000:]
        assert code in (0, 4, BUSY), f"lakectl {' '.join(args)} exited {code}: {stderr[-3000:]}"
        if code != BUSY:
            return codes
        assert "Error:" in stderr and ("busy" in stderr or "running" in stderr), stderr[-3000:]
        time.sleep(0.5)
        process = start(round_, *args)
    raise AssertionError(f"lakectl {' '.join(args)} stayed busy {RETRIES} times: {codes}")


def race(pool: Pool, tmp_path: Path, seed: int, files: int) -> dict[str, list[int]]:
    rng = random.Random(seed)
    clusters = rng.sample(settings_for(tmp_path).clusters, 2)
    round_ = new_round(tmp_path, pool, seed, count=files, clusters=clusters)
    zone = str(round_.settings.landing_zone)
    dest = str(tmp_path / "backup")
    commands = [("ingest", zone)] * 4 + [("promote", "all")] * 2
    processes = [(args, start(round_, *args)) for args in commands]
    time.sleep(rng.uniform(0.5, 3.0))  # while they run
    processes += [(args, start(round_, *args)) for args in (("maintain",), ("backup", dest))]
    codes = {}
    for i, (args, process) in enumerate(processes):
        codes[f"{i}:{' '.join(args[:1])}"] = run_until_done(round_, args, process)

    assert_exactly_once(round_)
    oracle = settings_for(tmp_path / "oracle")
    shutil.copytree(round_.settings.lake_root, oracle.lake_root)
    promote_all(oracle, full=True)
    promote_all(round_.settings)
    assert contents(round_.settings.lake_root) == contents(oracle.lake_root)
    assert_tables_open_at_latest(round_.settings)
    backup = verify_backup(dest)
    assert backup["ok"], backup["problems"]
    copy = Round(tmp_path / "copy", settings_for(tmp_path / "copy"))
    restored = subprocess.run([sys.executable, "-m", "lakectl", "restore-backup", dest], env=copy.env(),
                              capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)  # fmt: skip
    assert restored.returncode == 0, restored.stderr
    assert_tables_open_at_latest(copy.settings)
    # a snapshot of one moment (the backup may run before any commit): every table at its version
    assert versions(copy.settings) == {name: v for name, v in backup["tables"].items() if v >= 0}
    return codes


def test_four_ingests_two_promotions_maintain_and_backup_at_once(chaos_pool, tmp_path):
    codes = race(chaos_pool, tmp_path, seed=0, files=6)
    assert sum(len(c) for c in codes.values()) >= 8


@pytest.mark.chaos
@pytest.mark.parametrize("seed", range(1, 6))
def test_the_race_with_more_files(chaos_pool, tmp_path, seed):
    race(chaos_pool, tmp_path, seed=seed, files=16)
