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
# forget and restore of a bronze table: after the bronze commit that takes the rows out and before
# the ledger forgets them. backup: after the first file is copied; after every file and before the
# manifest. restore-backup: after the first file is copied back (and restore_backup_mid_salt, with the
# salt written but not in place, tested on its own: the chaos rounds' lakes carry no salt file). upload (serve, ?ingest=now): after
# the commit and its ledger row, before the file leaves the staging folder.
FORGET_POINTS = ("forget_after_commit",)
RESTORE_POINTS = ("restore_after_commit",)
BACKUP_POINTS = ("backup_mid_copy", "backup_before_manifest")
RESTORE_BACKUP_POINTS = ("restore_backup_mid_copy",)
UPLOAD_POINTS = ("upload_before_move",)


def fault(point: str) -> None:
    if os.environ.get(FAULT_ENV) == point:
        os._exit(FAULT_EXIT)
