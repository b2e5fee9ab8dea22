"""Shared by the benchmarks: run one command in its own process, measure wall time and peak RSS.

Memory is the process tree's: lakectl parses in a child process, so the peak is the largest sum of
the RSS of the command and all its descendants, sampled every 20 ms while it runs (wait4 alone
reports the largest single process).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Measurement:
    wall_s: float
    peak_rss_mib: float  # of the whole process tree (command + descendants), sampled
    exit_code: int
    error: str  # the last line of stderr when the command failed

    @property
    def ok(self) -> bool:
        return not self.error


def measure(
    cmd: list[str], env: dict[str, str] | None = None, ok_codes: tuple[int, ...] = (0,)
) -> Measurement:
    with tempfile.TemporaryFile() as stderr:  # a file, not a pipe: a chatty command cannot block
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=stderr
        )
        peak = [0]
        sampler = threading.Thread(target=_sample_tree, args=(proc.pid, peak), daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        sampler.join(timeout=1)
        code = os.waitstatus_to_exitcode(status)
        error = ""
        if code not in ok_codes:
            stderr.seek(0)
            lines = stderr.read().decode(errors="replace").strip().splitlines()
            error = lines[-1] if lines else f"exit {code}"
    return Measurement(wall, max(peak[0], usage.ru_maxrss) / 1024, code, error)


def tree_rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` and every descendant, now (KiB)."""
    total, stack = 0, [pid]
    while stack:
        each = stack.pop()
        try:
            status = Path(f"/proc/{each}/status").read_text()
            for task in Path(f"/proc/{each}/task").iterdir():  # children of every thread
                stack += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total


def _sample_tree(pid: int, peak: list[int]) -> None:
    while Path(f"/proc/{pid}").exists():
        peak[0] = max(peak[0], tree_rss_kib(pid))
        time.sleep(0.02)


# ------------------------------------------------------------------ summaries (bench/run.py merges them)


def summary_row(
    bench: str,
    case: str,
    variant: str,
    value: float,
    unit: str,
    baseline: float | None = None,
    target: str | None = None,
    met: bool | None = None,
    *,
    max_ratio: float | None = None,
    max_value: float | None = None,
) -> dict[str, Any]:
    """One row of a benchmark's ``--summary-json`` (the contract of the runner that prints them all):
    a figure, what it is compared with, the target and whether it is met. ``max_ratio`` (to the
    baseline) or ``max_value`` state the target and judge it."""
    ratio = round(value / baseline, 4) if baseline else None
    if max_ratio is not None and ratio is not None:
        target, met = f"≤ {max_ratio:g}×", value / (baseline or 1) <= max_ratio
    elif max_value is not None:
        target, met = f"≤ {max_value:g} {unit}", value <= max_value
    return {"bench": bench, "case": case, "variant": variant, "value": round(value, 4), "unit": unit,
            "baseline": None if baseline is None else round(baseline, 4), "ratio": ratio, "target": target,
            "met": met}  # fmt: skip


def write_summary(path: str | Path | None, rows: list[dict[str, Any]]) -> None:
    if path:
        Path(path).write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def load_average() -> str:
    """The 1/5/15-minute load, to be stated with every figure measured on a shared machine."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def alternated(runs: dict[str, Callable[[], Measurement]], repeat: int) -> dict[str, list[Measurement]]:
    """Each variant ``repeat`` times, in turns (A B C A B C ...), so that load hits them alike."""
    results: dict[str, list[Measurement]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            results[name].append(run())
    return results


def median_of(measurements: list[Measurement]) -> Measurement:
    """The run with the median wall time (its own peak RSS) and, as its peak, the median of peaks."""
    ok = [m for m in measurements if m.ok] or measurements
    wall = statistics.median(m.wall_s for m in ok)
    peak = statistics.median(m.peak_rss_mib for m in ok)
    return Measurement(wall, peak, ok[0].exit_code, "" if any(m.ok for m in measurements) else ok[0].error)
