"""The README's reference tables are promises too: every setting in the configuration table exists,
has the documented environment variable and default, and that variable really sets it; the fault
points the README lists are the ones the code has."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from lakectl.config import load_settings
from lakectl.faults import INGEST_POINTS, MAINTAIN_POINTS, PROMOTE_POINTS, WATCH_POINTS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def config_rows() -> list[tuple[str, str, str]]:
    """(setting, env cell, default cell) of the configuration table, for plain settings."""
    section = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and re.fullmatch(r"`[a-z_.]+`", cells[0]):
            rows.append((cells[0].strip("`"), cells[1], cells[2]))
    return rows


def current(settings: Any, dotted: str) -> Any:
    value = settings
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


ROWS = config_rows()
# the settings whose variable can be flipped or bumped generically (text, paths and lists have
# their own tests through the CLI)
SCALAR_ROWS = [r for r in ROWS if isinstance(current(load_settings(), r[0]), bool | int | float)]


def test_the_configuration_table_was_found():
    assert len(ROWS) >= 20 and ("reader.isolate", "`LAKECTL_READER__ISOLATE`", "`true`") in ROWS


@pytest.mark.parametrize(("setting", "env", "default"), ROWS, ids=[r[0] for r in ROWS])
def test_each_documented_setting_has_its_env_name_and_default(setting, env, default):
    settings = load_settings()
    value = current(settings, setting)  # the setting exists
    name = "LAKECTL_" + setting.upper().replace(".", "__")
    assert env.startswith(f"`{name}"), f"{setting}: the README says {env}, the variable is {name}"
    literal = re.fullmatch(r"`([^`<]*)`", default)
    if literal is None:  # described in words ("the five clusters", "see above", a path template)
        return
    text = literal.group(1)
    if isinstance(value, bool):
        assert str(value).lower() == text, f"{setting}: the README says {text}, the default is {value}"
    elif isinstance(value, int | float):
        assert float(text) == value, f"{setting}: the README says {text}, the default is {value}"
    else:
        assert str(value) == text, f"{setting}: the README says {text}, the default is {value}"


@pytest.mark.parametrize(("setting", "env", "default"), SCALAR_ROWS, ids=[r[0] for r in SCALAR_ROWS])
def test_each_documented_variable_sets_its_setting(setting, env, default, monkeypatch):
    value = current(load_settings(), setting)
    changed = (not value) if isinstance(value, bool) else value * 2 + 1
    monkeypatch.setenv("LAKECTL_" + setting.upper().replace(".", "__"), str(changed).lower())
    assert current(load_settings(), setting) == changed


def test_the_fault_points_the_readme_lists_are_the_code_s():
    listed = set()
    for group in re.findall(
        r"`((?:[a-z_]+\|)+[a-z_]+)`", README.split("## Tests", 1)[1].split("\n## ", 1)[0]
    ):
        listed.update(group.split("|"))
    assert listed == set(INGEST_POINTS + WATCH_POINTS + PROMOTE_POINTS + MAINTAIN_POINTS)


def test_every_test_named_in_tests_readme_exists():
    """tests/README.md maps promises to tests: a renamed or deleted test must not leave a promise
    pointing at nothing."""
    here = Path(__file__).resolve().parent
    table = (here / "README.md").read_text(encoding="utf-8")
    missing, checked = [], 0
    for line in table.splitlines():
        current_file = None
        for file, name in re.findall(
            r"`(?:(test_[a-z0-9_]+\.py))?(?:::([a-z0-9_*]+))?(?:\[[^\]]*\])?`", line
        ):
            current_file = file or current_file
            if current_file is None:
                continue
            source = (
                (here / current_file).read_text(encoding="utf-8") if (here / current_file).exists() else ""
            )
            checked += 1
            if not source:
                missing.append(current_file)
            elif name and not re.search(
                rf"^(?:async )?def {name.replace('*', '[a-z0-9_]*')}\(", source, re.M
            ):
                missing.append(f"{current_file}::{name}")
    assert checked > 80 and missing == []
