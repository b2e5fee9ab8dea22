"""Every third-party file in the shared corpus, against the manifest's figures from independent
readers (python-calamine, Python's csv module): not lakectl against itself.

For each visible sheet with data, bronze holds every non-empty row the independent reader saw except
the header and the rows lakectl lists as dropped (titles, totals), as many columns as the sheet's
width, and the header where the first non-empty row is. A file the manifest calls unreadable, or
whose every sheet is empty, is rejected with a reason naming it.

The files go in through the production path: one `runner.ingest_paths` call, parser in the capped
child process (reader.isolate = true, the default).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from lakectl.config import load_settings
from lakectl.models import IngestResult
from lakectl.service import runner

from .conftest import CORPUS
from .tools import in_ci

MANIFEST = json.loads((CORPUS / "manifest.json").read_text()) if CORPUS.exists() else {"files": {}}
FILES = sorted(MANIFEST["files"])
SHA_COUNTS = Counter(entry["sha256"] for entry in MANIFEST["files"].values())
# Width the independent reader counts that lakectl rightly leaves out: a column inside the bounding box
# with neither a header nor any value, which holds nothing to keep (checked by opening each file).
EMPTY_COLUMNS = {
    ("calamine/merged_range.xls", "Sheet1"): 1,  # column D, under merged cells
    ("calamine/merged_range.xls", "Sheet2"): 1,  # column D
    ("fastexcel/sheet-and-table-with-offset.xlsx", "without-table"): 1,  # column J between H:I and K
}

if not FILES and in_ci():  # skipping the whole module would let CI pass without ever reading it
    pytest.fail(f"the shared corpus is not at {CORPUS}: CI must provide it (a shared/ folder beside the checkout)",
                pytrace=False)  # fmt: skip
pytestmark = pytest.mark.skipif(not FILES, reason="shared corpus not present")


def data_sheets(entry: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The sheets lakectl must read: visible worksheets where the independent reader saw a cell."""
    return {
        s["name"]: s
        for s in entry.get("sheets", [])
        if s.get("visible") in (None, "Visible") and s.get("type") in (None, "WorkSheet") and s["rows"] > 0
    }


@pytest.fixture(scope="module")
def corpus_lake(tmp_path_factory) -> tuple[dict[str, IngestResult], pl.DataFrame]:
    home = tmp_path_factory.mktemp("corpus")
    settings = load_settings(landing_zone=home / "landing_zone", lake_root=home / "lake")
    assert settings.reader.isolate  # the production default
    jobs = [(CORPUS / name, "diabetes") for name in FILES]
    results = runner.ingest_paths(jobs, settings)
    by_name = {str(Path(r.path).relative_to(CORPUS)): r for r in results}
    assert sorted(by_name) == FILES
    bronze = pl.read_delta(str(settings.lake_root / "bronze" / "diabetes"))
    return by_name, bronze


@pytest.mark.parametrize("name", FILES)
def test_corpus_file_matches_the_independent_reader(name, corpus_lake):
    results, bronze = corpus_lake
    entry, result = MANIFEST["files"][name], results[name]
    if SHA_COUNTS[entry["sha256"]] > 1:
        pytest.skip("the same bytes as another corpus file: see test_a_copy_of_a_rejected_file_is_rejected")
    sheets = data_sheets(entry)
    if not entry["result"].startswith("ok") or not sheets:
        assert result.status == "rejected", f"{name}: the manifest says {entry['result']!r}, no data"
        assert result.reason and Path(name).name in result.reason and "Traceback" not in result.reason
        return
    assert result.status == "ingested", result.reason
    assert {s.sheet for s in result.sheets} == set(sheets)
    mine = bronze.filter(pl.col("_source_sha256") == result.sha256)
    assert mine.height == result.rows == sum(s.rows for s in result.sheets)
    for summary in result.sheets:
        truth = sheets[summary.sheet]
        rows = mine.filter(pl.col("_sheet") == summary.sheet)
        header = 0 if summary.header_row is None else 1
        assert rows.height == summary.rows
        assert rows.height + header + len(summary.dropped) == truth["rows"], summary
        assert len(summary.columns) == truth["cols"] - EMPTY_COLUMNS.get((name, summary.sheet), 0)
        source_columns = [c for c in summary.columns if rows[c].null_count() < rows.height]
        assert set(source_columns) <= set(rows.columns)
        if summary.header_row is not None and not summary.dropped:
            assert summary.header_row == truth["first_nonempty_row"] + 1
        # no file here has a totals row: whatever was dropped is a title above the header
        dropped_at = [int(re.match(r"row (\d+)", text).group(1)) for text in summary.dropped]  # type: ignore[union-attr]
        assert all(row < (summary.header_row or 0) for row in dropped_at), summary.dropped
        assert rows["_row"].n_unique() == rows.height  # one bronze row per source row


def test_empty_and_unreadable_files_are_among_the_rejected(corpus_lake):
    """The manifest's own verdicts, counted: a defect that ingests them all cannot hide in a skip."""
    results, _ = corpus_lake
    expected = sorted(
        name
        for name, entry in MANIFEST["files"].items()
        if (not entry["result"].startswith("ok") or not data_sheets(entry))
        and SHA_COUNTS[entry["sha256"]] == 1
    )
    assert expected, "the manifest names no empty or unreadable file"
    assert sorted(n for n in expected if results[n].status == "rejected") == expected


def test_a_copy_of_a_rejected_file_is_rejected(corpus_lake):
    results, _ = corpus_lake
    twins = [n for n in FILES if SHA_COUNTS[MANIFEST["files"][n]["sha256"]] > 1]
    assert twins  # frictionless/empty.csv and openpyxl/null_file.xlsx: both 0 bytes
    assert {results[n].status for n in twins} == {"rejected"}
    for name in twins:  # each with the reason, naming itself
        assert "empty" in (results[name].reason or "") and Path(name).name in (results[name].reason or "")
