"""The watcher's heartbeat file and the health check that reads it.

Apart from watch.py on purpose: ``lakectl health`` runs every 30 s in Docker, and this needs only
the settings, never the engines the watcher itself loads.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from lakectl.config import Settings


def heartbeat_path(settings: Settings) -> Path:
    """A local file: next to the lake's tables, or in the landing zone when the lake is remote."""
    if settings.watch.heartbeat_file:
        return settings.watch.heartbeat_file
    root = str(settings.lake_root)
    remote = "://" in root and not root.startswith("file://")  # Lake.is_local, without deltalake
    return (
        (settings.landing_zone if remote else Path(root.removeprefix("file://")))
        / "_lakectl"
        / "heartbeat.json"
    )


def health(settings: Settings, max_age_s: float) -> tuple[bool, str]:
    """Whether the watcher's heartbeat is fresh, and a sentence saying why."""
    path = heartbeat_path(settings)
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        return False, f"no heartbeat at {path}: is 'lakectl watch' running?"
    except (OSError, ValueError) as exc:
        return False, f"unreadable heartbeat {path}: {exc}"
    age = time.time() - float(data.get("updated_at", 0))
    if data.get("status") == "stopped":
        return False, f"the watcher stopped {age:.0f} s ago"
    if age > max_age_s:
        return False, f"heartbeat is {age:.0f} s old (limit {max_age_s:g} s): the watcher is stuck or gone"
    if data.get("lake_failures"):  # alive, but nothing gets in: files wait for the lake
        return False, f"the lake fails ({data.get('last_error')}); {data.get('pending', 0)} file(s) wait"
    return True, (
        f"ok: heartbeat {age:.0f} s old, {data.get('pending', 0)} pending, "
        f"{data.get('processed', 0)} processed"
        + (f"; last error: {data['last_error']}" if data.get("last_error") else "")
    )
