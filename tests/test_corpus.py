"""Every third-party file in the shared corpus is ingested, or rejected with a clear reason."""

from __future__ import annotations

import json

import polars as pl
import pytest

from lakectl.pipeline import ingest_file

from .conftest import CORPUS

MANIFEST = json.loads((CORPUS / "manifest.json").read_text()) if CORPUS.exists() else {"files": {}}
FILES = sorted(MANIFEST["files"])


def shows_data(entry: dict) -> bool:
    """An independent reader saw a header and at least one row in a visible sheet."""
    if not entry["result"].startswith("ok"):
        return False
    return any(
        s.get("rows", 0) >= 2 and s.get("visible") in (None, "Visible") for s in entry.get("sheets", [])
    )


@pytest.mark.skipif(not FILES, reason="shared corpus not present")
@pytest.mark.parametrize("name", FILES)
def test_corpus_file_is_ingested_or_rejected_clearly(name, settings):
    entry = MANIFEST["files"][name]
    result = ingest_file(CORPUS / name, "diabetes", settings)
    assert result.status in ("ingested", "rejected")
    if result.status == "rejected":
        assert result.reason and CORPUS.joinpath(name).name in result.reason
        assert "Traceback" not in result.reason
        assert not shows_data(entry), f"{name}: rejected although a reader sees data: {result.reason}"
        return
    if shows_data(entry):
        assert result.rows > 0
        bronze = pl.read_delta(str(settings.lake_root / "bronze" / "diabetes"))
        assert bronze.filter(pl.col("_source_sha256") == result.sha256).height == result.rows
    if entry["result"].startswith("unreadable"):
        pytest.fail(f"{name} is unreadable for an independent reader but was ingested")
