"""Deployment files, checked without a running systemd: parse errors and the hardening score."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "deploy" / "systemd" / "lakectl-watch.service"
ANALYZE = shutil.which("systemd-analyze")


@pytest.fixture()
def unit_with_stub(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at an existing stub: verify insists that the binary exists."""
    stub = tmp_path / "lakectl"
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    text = UNIT.read_text().replace("/opt/lakectl/venv/bin/lakectl", str(stub))
    unit = tmp_path / UNIT.name
    unit.write_text(text)
    return unit


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed (.ci/run installs it)")
def test_unit_verifies_without_any_warning(unit_with_stub: Path):
    result = subprocess.run([ANALYZE, "verify", str(unit_with_stub)], capture_output=True, text=True)
    # systemd-analyze verify exits 0 even on parse errors: any output on stderr is a failure
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


def test_verify_would_catch_a_misspelled_key(unit_with_stub: Path):
    if ANALYZE is None:
        pytest.skip("systemd-analyze is not installed")
    unit_with_stub.write_text(unit_with_stub.read_text().replace("ReadWritePaths=", "ReadWritePath="))
    result = subprocess.run([ANALYZE, "verify", str(unit_with_stub)], capture_output=True, text=True)
    assert "Unknown key" in result.stderr


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed (.ci/run installs it)")
def test_unit_is_hardened(unit_with_stub: Path):
    result = subprocess.run(
        [ANALYZE, "security", "--offline=yes", "--threshold=20", str(unit_with_stub)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr


def test_unit_runs_the_watcher_as_a_notify_service():
    text = UNIT.read_text()
    for line in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "ProtectSystem=strict", "NoNewPrivileges=yes",
                 "ReadWritePaths=", "watch --log-format json"):  # fmt: skip
        assert line in text
