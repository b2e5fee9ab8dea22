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
# promotion: after the rejects append and before the silver commit; after the silver commit and
# before the run log; between two gold tables. maintenance: after a compaction commit and before
# its vacuum; between two tables.
PROMOTE_POINTS = ("silver_after_rejects", "silver_after_commit", "gold_between_tables")
MAINTAIN_POINTS = ("maintain_after_compact", "maintain_between_tables")


def fault(point: str) -> None:
    if os.environ.get(FAULT_ENV) == point:
        os._exit(FAULT_EXIT)
