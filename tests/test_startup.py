"""Start-up: `lakectl --help` and `lakectl health` (a Docker health check every 30 s) load no engine.

What a command imports is a behaviour, checked here in a fresh interpreter; how long start-up takes
is bench/run.py's (P5).
"""

from __future__ import annotations

import json
import os
import re
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
    code, loaded = loaded_by(["health", "--max-age", "120"], env)
    assert code == 1  # no heartbeat yet
    assert loaded == []  # the environment alone says where the heartbeat is: not even pydantic
    beat = tmp_path / "lake" / "_lakectl" / "heartbeat.json"
    beat.parent.mkdir(parents=True)
    beat.write_text(
        json.dumps({"status": "running", "updated_at": time.time(), "pending": 0, "processed": 3})
    )
    code, loaded = loaded_by(["health"], env)
    assert code == 0
    assert loaded == []
    config = tmp_path / "lakectl.toml"
    config.write_text(f'[watch]\nheartbeat_file = "{tmp_path / "elsewhere.json"}"\n')
    code, loaded = loaded_by(["health"], {**env, "LAKECTL_CONFIG": str(config)})
    assert code == 1, "a config file is read by the full settings (the heartbeat is elsewhere now)"
    assert loaded == ["pydantic"]


def health(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    done = subprocess.run([sys.executable, "-m", "lakectl", *args], env=env, capture_output=True,
                          text=True, timeout=SUBPROCESS_TIMEOUT_S)  # fmt: skip
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize("beat", [None, "not json", "[1]", '{"updated_at": "soon"}',
                                  '{"status": "stopped", "updated_at": 1}', '{"updated_at": 1}'])  # fmt: skip
def test_the_quick_health_check_says_what_the_full_one_says(tmp_path, env, beat):
    """The same exit code and words whether the environment alone answers or the settings do (an
    empty config file takes the full path)."""
    if beat is not None:
        path = tmp_path / "lake" / "_lakectl" / "heartbeat.json"
        path.parent.mkdir(parents=True)
        path.write_text(beat)
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    quick = health(env, "health", "--max-age=60")
    full = health(env, "--config", str(empty), "health", "--max-age", "60")
    ages = re.compile(r"[0-9]+ s")  # a second may pass between the two
    assert ages.sub("", str(quick)) == ages.sub("", str(full)) and quick[0] == 1 and quick[2].strip(), quick


@pytest.mark.parametrize(
    "extra",
    [{}, {"LAKECTL_WATCH__HEARTBEAT_FILE": "beats/hb.json"}, {"LAKECTL_LAKE_ROOT": "relative/lake"},
     {"LAKECTL_LAKE_ROOT": "s3://bucket/lake"}, {"LAKECTL_LAKE_ROOT": ""}, {"lakectl_lake_root": "x"},
     {"LAKECTL_WATCH": '{"heartbeat_file": "w.json"}'}, {"LAKECTL_CONFIG": "lakectl.toml"},
     {"LAKECTL_READER__MEMORY_LIMIT_MB": "8192"}],
)  # fmt: skip
def test_the_quick_heartbeat_location_is_the_settings_one_or_none(tmp_path, monkeypatch, extra):
    from lakectl.config import CONFIG_ENV, DEFAULT_CONFIG_FILE, load_settings
    from lakectl.service.heartbeat import QUICK_ENV, heartbeat_path, quick_location

    assert CONFIG_ENV == "LAKECTL_CONFIG" and DEFAULT_CONFIG_FILE == "lakectl.toml"  # what it looks for
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lakectl.toml").write_text("")  # only read when LAKECTL_CONFIG names it
    environ = {**extra}
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    quick = quick_location(environ)
    if extra.get("LAKECTL_CONFIG"):
        assert quick is None
        return
    (tmp_path / "lakectl.toml").unlink()
    quick = quick_location(environ)
    try:
        full = heartbeat_path(load_settings())
    except Exception:
        full = None
    plain = set(extra) <= set(QUICK_ENV) | {"LAKECTL_READER__MEMORY_LIMIT_MB"} and all(extra.values())
    if plain and "://" not in extra.get("LAKECTL_LAKE_ROOT", ""):
        assert quick == full and quick is not None
    else:
        assert quick is None
