"""The watch service's time rules with a clock stepped by hand, so no test depends on how fast the
machine is: the stability gate (two looks, a window apart, with nothing changed in between) and the
back-off after a transient failure. The real service runs in test_watch.py; timing goes to bench/.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lakectl.config import load_settings
from lakectl.models import IngestResult
from lakectl.service.watch import Watcher


class SteppedClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture()
def watcher(tmp_path: Path):
    settings = load_settings(landing_zone=tmp_path / "lz", lake_root=tmp_path / "lake",
                             watch={"stability_window_s": 2.0, "max_attempts": 3})  # fmt: skip
    (tmp_path / "lz" / "diabetes").mkdir(parents=True)
    clock = SteppedClock()
    watching = Watcher(settings, clock=clock)
    yield watching, clock, tmp_path / "lz" / "diabetes"
    watching.worker.close()


def test_a_file_is_ready_after_two_unchanged_looks_a_window_apart(watcher):
    watching, clock, folder = watcher
    path = folder / "vendas.csv"
    path.write_text("id;valor\n1;2\n")
    watching.scan()  # first look
    clock.advance(60)
    assert watching.ready() == []  # one look is never enough, however long ago it was
    watching.refresh()  # second look, unchanged, 60 s after the first
    assert watching.ready() == [path]


def test_the_window_counts_from_the_last_change(watcher):
    watching, clock, folder = watcher
    path = folder / "crescendo.csv"
    path.write_text("id;valor\n1;2\n")
    watching.scan()
    clock.advance(1.5)
    watching.refresh()
    assert watching.ready() == []  # unchanged, but only 1.5 s of the 2 s window
    with path.open("a") as handle:  # the writer is still at it
        handle.write("2;3\n")
    clock.advance(1.0)  # 2.5 s since the first look: this look sees it grew
    watching.refresh()
    assert watching.ready() == []
    clock.advance(1.9)
    watching.refresh()
    assert watching.ready() == []  # unchanged for 1.9 s only
    clock.advance(0.1)
    assert watching.ready() == [path]


def test_a_new_mtime_with_the_same_size_restarts_the_window(watcher):
    watching, clock, folder = watcher
    path = folder / "reescrito.csv"
    path.write_text("id;valor\n1;2\n")
    watching.scan()
    clock.advance(1.9)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # rewritten in place
    watching.refresh()
    clock.advance(1.9)
    watching.refresh()
    assert watching.ready() == []
    clock.advance(0.1)
    assert watching.ready() == [path]


def test_transient_failures_back_off_on_the_clock(watcher):
    watching, clock, folder = watcher
    path = folder / "ocupado.csv"
    path.write_text("id;valor\n1;2\n")
    watching.scan()
    clock.advance(2)
    watching.refresh()
    assert watching.ready() == [path]
    busy = IngestResult(file=path.name, path=str(path), cluster="diabetes", status="rejected",
                        reason="ocupado.csv: the lake is busy", transient=True)  # fmt: skip
    watching.settle(path, busy)  # first retry after 2 s
    clock.advance(1.9)
    assert watching.ready() == []
    clock.advance(0.1)
    assert watching.ready() == [path]
    watching.settle(path, busy)  # then after 4 s
    clock.advance(3.9)
    assert watching.ready() == []
    clock.advance(0.1)
    assert watching.ready() == [path]


def _calls_without_timeout(source: str) -> list[int]:
    """Lines of subprocess.run/call/check_*/Popen.wait/communicate calls that have no timeout."""
    import ast

    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        name = node.func.attr
        target = node.func.value
        is_subprocess = isinstance(target, ast.Name) and target.id == "subprocess"
        runs = is_subprocess and name in ("run", "call", "check_call", "check_output")
        waits = name in ("wait", "communicate") and not (
            isinstance(target, ast.Name) and target.id in ("os", "event")
        )
        if (runs or waits) and not node.args[1:] and not any(k.arg == "timeout" for k in node.keywords):
            if waits and node.args:  # wait(20): a positional timeout
                continue
            lines.append(node.lineno)
    return lines


def test_the_timeout_check_finds_a_missing_timeout():
    assert _calls_without_timeout("import subprocess\nsubprocess.run(['x'])\np.wait()\n") == [2, 3]
    assert _calls_without_timeout("subprocess.run(['x'], timeout=5)\np.wait(timeout=5)\np.wait(5)\n") == []


def test_every_subprocess_in_the_tests_has_a_timeout():
    """A hung child must fail its test, not hang CI; pytest-timeout is only the backstop."""
    here = Path(__file__).parent
    missing = {
        path.name: lines
        for path in sorted(here.glob("*.py"))
        if (lines := _calls_without_timeout(path.read_text(encoding="utf-8")))
    }
    assert missing == {}
