from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from lakectl.config import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "real"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("LAKECTL_"):
            monkeypatch.delenv(name)
    monkeypatch.delenv("NO_COLOR", raising=False)


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    """In-process settings over a fresh landing zone and lake."""
    return load_settings(
        landing_zone=tmp_path / "landing_zone",
        lake_root=tmp_path / "lake",
        reader={"isolate": False},
    )


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
