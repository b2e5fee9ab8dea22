"""The watcher's heartbeat file and the health check that reads it.

Apart from watch.py on purpose: ``lakectl health`` runs every 30 s in Docker, and this needs only
where the heartbeat is, never the engines the watcher itself loads.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakectl.config import Settings

# What Settings says where the heartbeat is (config.py), read straight from the environment by
# quick_health; tests/test_startup.py checks that both agree.
QUICK_ENV = ("LAKECTL_LAKE_ROOT", "LAKECTL_LANDING_ZONE", "LAKECTL_WATCH__HEARTBEAT_FILE")
QUICK_DEFAULTS = {"LAKECTL_LAKE_ROOT": "delta_lake", "LAKECTL_LANDING_ZONE": "landing_zone"}
DEFAULT_MAX_AGE_S = 120.0
_SECONDS = re.compile(r"[0-9]{1,9}(\.[0-9]{1,9})?")


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
    return check(heartbeat_path(settings), max_age_s)


def check(path: Path, max_age_s: float) -> tuple[bool, str]:
    """Whether the heartbeat at ``path`` is fresh, and a sentence saying why."""
    try:
        data: dict[str, Any] = json.loads(path.read_text())
        age = time.time() - float(data.get("updated_at", 0))
    except FileNotFoundError:
        return False, f"no heartbeat at {path}: is 'lakectl watch' running?"
    except (OSError, ValueError, TypeError, AttributeError) as exc:  # not JSON, not an object, no time
        return False, f"unreadable heartbeat {path}: {exc}"
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


def quick_location(environ: Mapping[str, str]) -> Path | None:
    """Where the heartbeat is, from the environment alone, or None when only Settings can tell.

    Only the plain case: no config file (LAKECTL_CONFIG or ./lakectl.toml), the location settings
    in upper case and not empty, no LAKECTL_WATCH JSON, a local lake. The rest of the settings is
    not read (the watcher validates them when it starts; a watcher that cannot start has no fresh
    heartbeat).
    """
    if environ.get("LAKECTL_CONFIG") or Path("lakectl.toml").is_file():
        return None
    for name in environ:
        upper = name.upper()
        if upper.startswith("LAKECTL_") and (name != upper or upper == "LAKECTL_WATCH"):
            return None  # pydantic-settings reads names in any case, and a section as JSON
    values = {name: environ.get(name, QUICK_DEFAULTS.get(name)) for name in QUICK_ENV}
    if any(value == "" for value in values.values()) or "://" in (values["LAKECTL_LAKE_ROOT"] or ""):
        return None
    beat = values["LAKECTL_WATCH__HEARTBEAT_FILE"]
    if beat is not None:
        return Path(beat)
    return Path(values["LAKECTL_LAKE_ROOT"] or "") / "_lakectl" / "heartbeat.json"


def quick_health(args: list[str], environ: Mapping[str, str] | None = None) -> int | None:
    """``lakectl health [--max-age S]`` answered before typer and pydantic load (together about
    three times typer's own start-up; Docker runs it every 30 s): the exit code, after printing
    what ``lakectl health`` prints, or None when the full CLI must answer (any other option, a
    config file, settings only Settings can read)."""
    if not args or args[0] != "health":
        return None
    rest = args[1:]
    if len(rest) == 1 and rest[0].startswith("--max-age="):
        rest = ["--max-age", rest[0].removeprefix("--max-age=")]
    if rest and not (len(rest) == 2 and rest[0] == "--max-age" and _SECONDS.fullmatch(rest[1])):
        return None
    path = quick_location(os.environ if environ is None else environ)
    if path is None:
        return None
    healthy, message = check(path, float(rest[1]) if rest else DEFAULT_MAX_AGE_S)
    print(message, file=sys.stdout if healthy else sys.stderr, flush=True)
    return 0 if healthy else 1
