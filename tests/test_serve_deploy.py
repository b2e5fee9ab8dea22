"""The systemd unit of `lakectl serve`, checked without a running systemd."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .tools import require_tool

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "deploy" / "systemd" / "lakectl-serve.service"


def stubbed(tmp_path: Path) -> Path:
    """The unit with ExecStart on an existing stub (verify insists that the binary exists)."""
    stub = tmp_path / "lakectl"
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace("/opt/lakectl/venv/bin/lakectl", str(stub)))
    return unit


def test_serve_unit_verifies_cleanly_and_is_hardened(tmp_path: Path) -> None:
    analyze = require_tool("systemd-analyze", "checks the unit files")
    unit = stubbed(tmp_path)
    verify = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    # systemd-analyze verify exits 0 even on parse errors: any output on stderr is a failure
    assert verify.returncode == 0 and verify.stderr.strip() == "", verify.stderr
    security = subprocess.run([analyze, "security", "--offline=yes", "--threshold=20", str(unit)],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
    assert security.returncode == 0, security.stdout[-2000:] + security.stderr


def test_serve_unit_binds_loopback_and_keeps_secrets_out_of_the_unit() -> None:
    text = UNIT.read_text()
    (exec_start,) = [line for line in text.splitlines() if line.startswith("ExecStart=")]
    assert " serve " in exec_start and "--host 127.0.0.1" in exec_start and "--port 8080" in exec_start
    assert "EnvironmentFile=-/etc/lakectl/serve.env" in text
    assert "TOKEN=" not in text.replace("LAKECTL_SERVE__TOKEN=...", "")
