"""Start-up: `lakectl --help` and `lakectl health` (a Docker health check every 30 s) load no engine.

What a command imports is a behaviour, checked here in a fresh interpreter; how long start-up takes
is bench/run.py's (P5).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.conftest import SUBPROCESS_TIMEOUT_S

ENGINES = ["polars", "deltalake", "pyarrow", "duckdb", "fastapi", "fastexcel", "watchfiles", "uvicorn"]
# Runs a command the way the console script does, then reports which of these it loaded (pydantic
# too: the top-level --help reads no settings; typer itself uses it for a command's parameters).
PROBE = """
import json, sys
watched = json.loads(sys.argv[1])
sys.argv = ["lakectl", *sys.argv[2:]]
from lakectl.cli import main
try:
    main()
    code = 0
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "loaded": [m for m in watched if m in sys.modules]}), file=sys.stderr)
"""


def loaded_by(args: list[str], env: dict[str, str]) -> tuple[int, list[str]]:
    watched = json.dumps([*ENGINES, "pydantic"])
    done = subprocess.run(
        [sys.executable, "-c", PROBE, watched, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["code"], report["loaded"]


@pytest.fixture()
def env(tmp_path):
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("LAKECTL_")},
        "LAKECTL_LAKE_ROOT": str(tmp_path / "lake"),
        "LAKECTL_LANDING_ZONE": str(tmp_path / "lz"),
    }


@pytest.mark.parametrize(
    ("args", "expected"), [(["--help"], []), (["--version"], []), (["ingest", "--help"], ["pydantic"])]
)
def test_help_loads_no_engine(args, expected, env):
    code, loaded = loaded_by(args, env)
    assert code == 0
    assert loaded == expected


def test_health_loads_no_engine_stale_or_fresh(tmp_path, env):
    code, loaded = loaded_by(["health"], env)
    assert code == 1  # no heartbeat yet
    assert loaded == ["pydantic"]  # the settings say where the heartbeat is
    beat = tmp_path / "lake" / "_lakectl" / "heartbeat.json"
    beat.parent.mkdir(parents=True)
    beat.write_text(
        json.dumps({"status": "running", "updated_at": time.time(), "pending": 0, "processed": 3})
    )
    code, loaded = loaded_by(["health"], env)
    assert code == 0
    assert loaded == ["pydantic"]
