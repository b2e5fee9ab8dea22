"""The lakectl image, built and run for real (`make image-test`, after `make image`).

Every container runs as the image's own user, with a read-only root and all capabilities dropped,
exactly as docker-compose.yml runs it. These tests carry the `image` mark, so `make test` leaves
them out; `uv lock --check` is not an image test and runs with the rest.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import ROOT, load_examples_module
from .tools import free_port, in_ci, require_tool

IMAGE = os.environ.get("LAKECTL_IMAGE", "lakectl:0.1.0")
LOCKED = ["--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--tmpfs", "/tmp"]
image = pytest.mark.image


def test_uv_lock_matches_pyproject():
    """The image installs from uv.lock with --locked: a dependency added without `uv lock` breaks it."""
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    if not Path(uv).exists():
        require_tool("uv", "pip install -e '.[test]' installs it")
    result = subprocess.run([uv, "lock", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr + "\nrun `uv lock` and commit uv.lock"


@pytest.fixture(scope="module")
def engine() -> str:
    name = os.environ.get("ENGINE") or ("podman" if shutil.which("podman") or in_ci() else "docker")
    path = require_tool(name, "make image-test needs podman or docker")
    if subprocess.run([path, "image", "inspect", IMAGE], capture_output=True, timeout=60).returncode != 0:
        pytest.fail(f"image {IMAGE} not found: run `make image` first", pytrace=False)
    return path


def run(engine: str, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """`run --rm` locked down; args are run options, then the image and its command."""
    return subprocess.run(
        [engine, "run", "--rm", *LOCKED, *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture()
def data(engine: str, tmp_path: Path) -> Path:
    """An empty host folder for /data, owned by the image's user (chowned from inside: rootless works too)."""
    folder = tmp_path / "data"
    folder.mkdir()
    give_to_image_user(engine, folder)
    return folder


def give_to_image_user(engine: str, folder: Path) -> None:
    result = subprocess.run([engine, "run", "--rm", "--user", "0", "--entrypoint", "chown", "-v", f"{folder}:/data",
                             IMAGE, "-R", "10001:10001", "/data"], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr


@image
def test_runs_as_10001_read_only_without_capabilities(engine):
    version = run(engine, IMAGE, "--version")
    assert version.returncode == 0 and "0.1.0" in version.stdout, version.stdout + version.stderr
    probe = run(engine, "--entrypoint", "sh", IMAGE, "-c",
                "id -u; grep CapEff /proc/self/status; touch /opt/venv/x 2>&1 || echo read-only")  # fmt: skip
    lines = probe.stdout.split("\n")
    assert lines[0] == "10001", probe.stdout + probe.stderr
    assert lines[1].split()[-1] == "0000000000000000"  # no effective capability
    assert "read-only" in probe.stdout


@image
def test_init_ingest_and_promote_the_examples_on_a_mounted_volume(engine, data):
    volume = ["-v", f"{data}:/data"]
    init = run(engine, *volume, IMAGE, "init")
    assert init.returncode == 0, init.stdout + init.stderr
    load_examples_module().generate(data / "landing_zone")
    give_to_image_user(engine, data)
    ingest = run(engine, *volume, IMAGE, "ingest", "/data/landing_zone", "--json")
    assert ingest.returncode == 4, ingest.stdout + ingest.stderr  # 4: one file rejected, the corrupt one
    assert json.loads(ingest.stdout)["summary"] == {"ingested": 21, "skipped": 0, "rejected": 1}
    promote = run(engine, *volume, IMAGE, "promote", "all")
    assert promote.returncode == 0, promote.stdout + promote.stderr
    report = run(engine, *volume, IMAGE, "report", "--format", "json")
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["health"]["files"]["ingested"] == 21
    for layer in ("bronze", "silver", "gold"):
        assert any((data / "delta_lake" / layer).rglob("_delta_log")), layer
    assert (data / ".lakectl-salt").stat().st_uid == (data / "delta_lake").stat().st_uid


@image
def test_a_data_folder_the_user_cannot_write_is_named_with_the_fix(engine, tmp_path):
    """What a plain `docker compose up -d` does: Docker creates ./data owned by root."""
    (tmp_path / "data").mkdir(mode=0o755)
    result = run(engine, "-v", f"{tmp_path / 'data'}:/data", IMAGE, "watch")
    assert result.returncode == 77, result.stdout + result.stderr
    assert "/data is not writable by uid 10001" in result.stderr and "chown -R 10001:10001" in result.stderr


def wait_for(check, what: str, deadline_s: float = 120) -> None:
    """Poll until check() is true; the deadline only bounds a hang, it measures nothing."""
    end = time.monotonic() + deadline_s
    while not check():
        if time.monotonic() > end:
            pytest.fail(f"gave up waiting for {what}", pytrace=False)
        time.sleep(1)


def inspect(engine: str, name: str, field: str) -> str:
    result = subprocess.run([engine, "inspect", "--format", "{{" + field + "}}", name],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    return result.stdout.strip()


@image
def test_healthcheck_follows_watch_and_sigterm_stops_it_cleanly(engine, data):
    name = f"lakectl-test-watch-{os.getpid()}"
    volume = ["-v", f"{data}:/data"]
    assert run(engine, *volume, IMAGE, "init").returncode == 0
    started = subprocess.run([engine, "run", "-d", "--name", name, *LOCKED, *volume, "--stop-timeout", "30",
                              IMAGE], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert started.returncode == 0, started.stderr
    try:
        healthcheck = [engine, "healthcheck", "run", name] if "podman" in engine else None

        def healthy() -> bool:
            if healthcheck:
                return subprocess.run(healthcheck, capture_output=True, timeout=60).returncode == 0
            return inspect(engine, name, ".State.Health.Status") == "healthy"

        wait_for(healthy, "the HEALTHCHECK to pass while watch runs")
        stop = subprocess.run(
            [engine, "stop", "--time", "30", name], capture_output=True, text=True, timeout=90
        )
        assert stop.returncode == 0, stop.stderr
        # a SIGKILL after the grace period would give 137
        assert inspect(engine, name, ".State.ExitCode") == "0", subprocess.run(
            [engine, "logs", name], capture_output=True, text=True, timeout=60
        ).stderr[-3000:]
        after = run(engine, *volume, "--entrypoint", "lakectl", IMAGE, "health", "--max-age", "120")
        assert after.returncode == 1 and "stopped" in after.stderr, after.stdout + after.stderr
    finally:
        subprocess.run([engine, "rm", "-f", name], capture_output=True, timeout=60)


@image
def test_serve_answers_health_through_a_published_loopback_port(engine, data):
    name = f"lakectl-test-serve-{os.getpid()}"
    port = free_port()
    started = subprocess.run([engine, "run", "-d", "--name", name, *LOCKED, "-v", f"{data}:/data",
                              "-p", f"127.0.0.1:{port}:8080", "-e", "LAKECTL_SERVE__TOKEN=image-test-token", IMAGE, "serve", "--host", "0.0.0.0", "--port", "8080"],
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert started.returncode == 0, started.stderr
    try:
        answer: dict[str, object] = {}

        def answers() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=5) as response:
                    answer.update(status=response.status, body=response.read())
                    return True
            except OSError:
                return False

        wait_for(answers, "serve to answer /api/v1/health")
        assert answer["status"] == 200
        stop = subprocess.run(
            [engine, "stop", "--time", "30", name], capture_output=True, text=True, timeout=90
        )
        # uvicorn stops gracefully, then re-raises the SIGTERM (143); 137 would be the SIGKILL after the grace
        assert stop.returncode == 0 and inspect(engine, name, ".State.ExitCode") in ("0", "143")
    finally:
        subprocess.run([engine, "rm", "-f", name], capture_output=True, timeout=60)
