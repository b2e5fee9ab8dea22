"""Shared by the benchmarks: run one command in its own process, measure wall time and peak RSS."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Measurement:
    wall_s: float
    peak_rss_mib: float  # of the process and the children it waited for (wait4)
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
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        error = ""
        if code not in ok_codes:
            stderr.seek(0)
            lines = stderr.read().decode(errors="replace").strip().splitlines()
            error = lines[-1] if lines else f"exit {code}"
    return Measurement(wall, usage.ru_maxrss / 1024, code, error)
