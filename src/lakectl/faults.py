"""Crash-test seam: LAKECTL_FAULT=<point> kills the process at that point, as a power cut would.

Subprocess tests set it to prove that a crash anywhere leaves the lake consistent and that a
restart completes the work. Unset (always, in production), ``fault`` does nothing.
"""

from __future__ import annotations

import os

FAULT_ENV = "LAKECTL_FAULT"
FAULT_EXIT = 137
INGEST_POINTS = ("after_read", "before_commit", "after_commit")
WATCH_POINTS = ("before_move",)


def fault(point: str) -> None:
    if os.environ.get(FAULT_ENV) == point:
        os._exit(FAULT_EXIT)
