"""Soak: `lakectl watch` under a steady drip of files, with `maintain` and `promote` run beside it.

Under the `chaos` marker (`make chaos`); 10 minutes by default, LAKECTL_SOAK_S=<seconds> to shorten.
The watcher's tree RSS (watcher + parser child) and open descriptors are sampled every second:
memory flat (the last minute's mean within 10% of the second minute's), descriptors flat, and every
file dripped in ends in bronze once and in the archive.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import uuid

import pytest

from bench.measure import tree_rss_kib

from .hostile import left_alive, write_xlsx
from .test_resources import CLUSTER, archived, bronze_rows, env_of, open_fds, watching

SOAK_S = float(os.environ.get("LAKECTL_SOAK_S", "600"))  # read at import: the tests' env is cleaned
HEADER = "Código da transação;Status da transação;Data da transação;Valor de compra com impostos;Email\n"


def hotmart(tag: str, rows: int) -> str:
    return HEADER + "".join(
        f"{tag}-{i};Aprovado;{1 + i % 28:02d}/10/2026 10:00:00;{i % 500},90;c{i % 300}@x.com\n"
        for i in range(rows)
    )


@pytest.mark.chaos
@pytest.mark.timeout(SOAK_S + 1200)  # the soak itself, then the settling
def test_watch_soak_memory_and_descriptors_flat_every_file_accounted_for(tmp_path):
    marker = uuid.uuid4().hex
    folder = tmp_path / "lz" / CLUSTER
    folder.mkdir(parents=True)
    staging = tmp_path / "staging"
    staging.mkdir()
    salt = {"LAKECTL_SILVER__CUSTOMER_SALT": "soak"}
    expected: dict[str, int] = {}
    samples: list[tuple[float, int, int]] = []  # (seconds since start, tree RSS KiB, open fds)
    side = {"maintain": [], "promote": []}  # exit codes of the commands run beside the watcher
    with watching(tmp_path, marker, **salt) as service:
        start = time.monotonic()
        next_drop = next_maintain = next_promote = start
        n = 0
        while (now := time.monotonic()) - start < SOAK_S:
            assert service.poll() is None, "the watcher died"
            if now >= next_drop:  # a file every 2 s: mostly CSV, every fifth an xlsx
                name = f"gota_{n:05d}." + ("xlsx" if n % 5 == 4 else "csv")
                if name.endswith("xlsx"):
                    write_xlsx(staging / name, rows=200 + n % 50)
                    expected[name] = 200 + n % 50
                else:
                    (staging / name).write_text(hotmart(f"g{n}", 100 + n % 100))
                    expected[name] = 100 + n % 100
                (staging / name).rename(folder / name)
                n += 1
                next_drop = now + 2
            for command, every in (("maintain", 90), ("promote", 45)):
                due = next_maintain if command == "maintain" else next_promote
                if now >= due:
                    args = ["maintain"] if command == "maintain" else ["promote", "silver"]
                    done = subprocess.run([sys.executable, "-m", "lakectl", *args], env=env_of(tmp_path, marker, **salt),
                                          capture_output=True, text=True, timeout=600)  # fmt: skip
                    assert done.returncode in (0, 75), done.stderr  # 75: the lake was busy, a clean exit
                    side[command].append(done.returncode)
                    if command == "maintain":
                        next_maintain = time.monotonic() + every
                    else:
                        next_promote = time.monotonic() + every
            samples.append((time.monotonic() - start, tree_rss_kib(service.pid), open_fds(service.pid)))
            time.sleep(max(0.0, min(1.0, next_drop - time.monotonic())))
        deadline = time.monotonic() + 300
        while not archived(tmp_path) >= set(expected):
            assert service.poll() is None and time.monotonic() < deadline, "the drip did not settle"
            time.sleep(0.5)
    window = min(60.0, SOAK_S / 4)
    second = [s for s in samples if window <= s[0] < 2 * window]
    last = [s for s in samples if s[0] >= SOAK_S - window]
    rss_second, rss_last = statistics.mean(s[1] for s in second), statistics.mean(s[1] for s in last)
    # descriptors: the median, so that a commit's files open at the moment of a sample do not count
    fds_second, fds_last = statistics.median(s[2] for s in second), statistics.median(s[2] for s in last)
    print(f"\nsoak {SOAK_S:.0f} s: {len(expected)} files, maintain {side['maintain']}, promote {side['promote']}; "
          f"tree RSS mean {rss_second / 1024:.0f} MiB (second window) -> {rss_last / 1024:.0f} MiB (last), "
          f"peak {max(s[1] for s in samples) / 1024:.0f} MiB; fds {fds_second} -> {fds_last}")  # fmt: skip
    assert rss_last <= rss_second * 1.10, "memory grew over the soak"
    assert fds_last <= fds_second + 2, "descriptors grew over the soak"
    assert bronze_rows(tmp_path) == expected, "a file lost or doubled"
    assert 0 in side["promote"] and 0 in side["maintain"]
    assert left_alive(marker) == []
