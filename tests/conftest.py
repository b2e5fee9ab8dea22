from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

# pytest-xdist's workers start with COLUMNS=80 set: the CLI's consoles, made at import, would keep
# that width, and tests that ask for a wider terminal through COLUMNS would not get it
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)

from lakectl.config import Settings, load_settings

# no timing thresholds in tests: on a loaded machine hypothesis' 200 ms deadline fails at random
hypothesis_settings.register_profile("lakectl", deadline=None)
hypothesis_settings.load_profile("lakectl")

ROOT = Path(__file__).resolve().parent.parent
# The shared third-party corpus sits in a `shared/` folder next to the checkout (or one level up)
CORPUS = next(
    (c for c in (ROOT.parent / "shared" / "corpus" / "real", ROOT.parent.parent / "shared" / "corpus" / "real")
     if c.is_dir()),
    ROOT.parent / "shared" / "corpus" / "real",
)  # fmt: skip
# A subprocess that hangs must fail its test, never hang CI: every child gets this timeout
SUBPROCESS_TIMEOUT_S = 180


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("LAKECTL_"):
            monkeypatch.delenv(name)
    monkeypatch.delenv("NO_COLOR", raising=False)


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    """Settings over a fresh landing zone and lake, with the production defaults: runs through
    `runner` parse in the capped child process (reader.isolate = true)."""
    return load_settings(landing_zone=tmp_path / "landing_zone", lake_root=tmp_path / "lake")


@pytest.fixture()
def inproc_settings(tmp_path: Path) -> Settings:
    """The same landing zone without the child process (reader.isolate = false), into a lake of its
    own, for the few tests that check the in-process path on purpose."""
    return load_settings(
        landing_zone=tmp_path / "landing_zone",
        lake_root=tmp_path / "lake_in_process",
        reader={"isolate": False},
    )


def lakectl_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a `lakectl` child over these settings' landing zone and lake."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKECTL_")}
    env.update(LAKECTL_LAKE_ROOT=str(settings.lake_root), LAKECTL_LANDING_ZONE=str(settings.landing_zone))
    env.update(extra)
    return env


def run_lakectl(
    settings: Settings, *args: str, env: dict[str, str] | None = None, timeout: float = SUBPROCESS_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    """`python -m lakectl ARGS` as its own process, with a timeout."""
    return subprocess.run(
        [sys.executable, "-m", "lakectl", *args],
        env=lakectl_env(settings, **(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def lake_settings(tmp_path: Path) -> Settings:
    """In-process settings with a fixed customer_key salt (outside the lake)."""
    return load_settings(landing_zone=tmp_path / "landing_zone", lake_root=tmp_path / "lake",
                         reader={"isolate": False}, silver={"customer_salt": "t", "salt_file": tmp_path / "salt"})  # fmt: skip


def env_for(settings: Settings) -> dict[str, str]:
    """The same settings as environment variables, for CliRunner and subprocesses."""
    return {"LAKECTL_LAKE_ROOT": str(settings.lake_root), "LAKECTL_LANDING_ZONE": str(settings.landing_zone),
            "LAKECTL_SILVER__CUSTOMER_SALT": "t", "LAKECTL_READER__ISOLATE": "false"}  # fmt: skip


@dataclass(frozen=True)
class Demo:
    settings: Settings
    truth: list[Any]  # the generator's sales records
    promoted: dict[str, Any]  # what promote_all returned


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """The bundled example exports, ingested and promoted through gold once per session (read-only
    for tests: copy `settings.lake_root` with shutil.copytree before writing)."""
    from lakectl.promote import promote_all
    from lakectl.service import runner

    settings = lake_settings(tmp_path_factory.mktemp("demo"))
    truth = load_examples_module().generate(settings.landing_zone)
    runner.ingest_paths(runner.plan([settings.landing_zone], None, settings), settings)
    promoted = promote_all(settings)
    assert promoted["gold"]["status"] == "promoted"
    return Demo(settings, truth, promoted)


@pytest.fixture(scope="session")
def demo_lake(demo: Demo) -> Settings:
    """The demo lake's settings (read-only for tests)."""
    return demo.settings


def write_far_cell_xlsx(path: Path) -> Path:
    """4.7 KB that make calamine allocate a 1,048,576 x 16,384 grid (512 GiB) and abort."""
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write(0, 0, "a")
    sheet.write(1048575, 16383, "b")
    book.close()
    return path


def load_examples_module():  # the generator is a script, not part of the package
    spec = importlib.util.spec_from_file_location("lakectl_examples", ROOT / "examples" / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["lakectl_examples"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def chaos_pool(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The chaos suite's files (examples and corpus) with what a clean ingest makes of each."""
    from .chaos import build_pool

    return build_pool(tmp_path_factory.mktemp("chaos_pool"))
