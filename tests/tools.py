"""External tools the tests need: skipped on a laptop without them, a failure in CI (CI=true).

A quiet skip in CI would let a whole group of checks pass without running, so there a missing
tool fails the test that asked for it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from typing import Any

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_tool(name: str, why: str = "") -> str:
    """The path of executable `name`; skip (or, in CI, fail) the calling test without it."""
    path = shutil.which(name)
    if path is None:
        missing = f"{name} is not installed" + (f" ({why})" if why else "")
        if in_ci():
            pytest.fail(f"{missing}; .ci/run must install it", pytrace=False)
        pytest.skip(missing)
    return path


def require_module(name: str, why: str = "") -> None:
    """Skip (or, in CI, fail) the calling test when Python module `name` cannot be imported."""
    try:
        __import__(name)
    except ImportError:
        missing = f"Python module {name} is not installed" + (f" ({why})" if why else "")
        if in_ci():
            pytest.fail(f"{missing}; install the test extras", pytrace=False)
        pytest.skip(missing)


def require_root(why: str) -> None:
    """Skip (or, in CI, fail) the calling test unless it runs as root."""
    if os.geteuid() != 0:
        message = f"needs root: {why}"
        if in_ci():
            pytest.fail(f"{message}; .ci/run runs as root", pytrace=False)
        pytest.skip(message)


def stop(process: subprocess.Popen[Any], timeout: float = 30) -> None:
    """SIGTERM a process the test started, then SIGKILL it if it does not leave in time."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
