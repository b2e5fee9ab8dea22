"""Strong oracles for promises a weak check would let through: a dry run writes nothing anywhere,
schema ids are the same in every process, the HTML report needs no network (the whole document,
and a browser whose network is cut that records every request the page makes), and vacuum really
deletes what its retention allows and keeps what it does not.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable

from lakectl.cli.render_report import html_page
from lakectl.config import load_settings
from lakectl.lake import Lake
from lakectl.lake.maintenance import maintain
from lakectl.pipeline import ingest_file
from lakectl.promote import promote_all
from lakectl.read.schema import schema_id
from lakectl.report import build_report
from lakectl.service import runner

from .conftest import SUBPROCESS_TIMEOUT_S, run_lakectl
from .test_layouts import BRAIP, EDUZZ, KIWIFY, MONETIZZE
from .tools import require_tool


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under root with its size and mtime: what 'nothing changed' means."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in root.rglob("*")}


# ------------------------------------------------------------------------------------- dry run


def test_dry_run_writes_nothing_anywhere(settings, tmp_path):
    folder = settings.landing_zone / "diabetes"
    folder.mkdir(parents=True)
    (folder / "kiwify.csv").write_text(KIWIFY, encoding="utf-8")
    before = tree(tmp_path)
    result = run_lakectl(settings, "ingest", str(settings.landing_zone), "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["files"][0]["rows"] == 4  # it did read the file
    assert tree(tmp_path) == before  # no lake, no lock, no log, nothing moved or touched


def test_dry_run_of_an_existing_lake_changes_no_table(settings):
    """Once the lake exists (and its lock file with it), a dry run adds no commit to any table."""
    folder = settings.landing_zone / "diabetes"
    folder.mkdir(parents=True)
    (folder / "kiwify.csv").write_text(KIWIFY, encoding="utf-8")
    assert ingest_file(folder / "kiwify.csv", "diabetes", settings).status == "ingested"
    (folder / "eduzz.csv").write_text(EDUZZ, encoding="utf-8")
    versions = {t.name: t.version() for t in Lake(str(settings.lake_root)).tables()}
    tables = tree(settings.lake_root / "bronze") | tree(settings.lake_root / "_lakectl" / "ingest_log")
    result = run_lakectl(settings, "ingest", str(folder), "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)["summary"]
    assert summary == {"ingested": 0, "skipped": 1, "rejected": 0, "would ingest": 1}
    assert {t.name: t.version() for t in Lake(str(settings.lake_root)).tables()} == versions
    assert (
        tree(settings.lake_root / "bronze") | tree(settings.lake_root / "_lakectl" / "ingest_log") == tables
    )


# ----------------------------------------------------------------------------------- schema id


def test_schema_id_is_the_same_in_every_process():
    """A process-salted hash (Python's hash()) would give each process other ids and split one
    layout into many: compute it in children with different PYTHONHASHSEED values."""
    names = ["codigo_da_transacao", "status_da_transacao", "valor_de_compra_com_impostos"]
    code = f"from lakectl.read.schema import schema_id; print(schema_id({names!r}))"
    ids = set()
    for seed in ("0", "1", "12345", "random"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        child = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                               timeout=SUBPROCESS_TIMEOUT_S, check=True)  # fmt: skip
        ids.add(child.stdout.strip())
    assert ids == {schema_id(names)}
    assert schema_id(names) != schema_id(list(reversed(names)))  # the order of columns is the layout


# ------------------------------------------------------------------------------- offline HTML

EXTERNAL = [  # what makes a browser load something (a plain <a href> is a link, not a load)
    re.compile(r"""\b(?:src|srcset|poster|data|background)\s*=\s*["']?\s*(?:https?:)?//""", re.I),
    re.compile(r"""<(?:link|image|use|feImage)\b[^>]*\bhref\s*=\s*["']?\s*(?:https?:)?//""", re.I),
    re.compile(r"""url\(\s*["']?\s*(?:https?:)?//""", re.I),  # CSS
    re.compile(r"""@import\s+(?:url\()?\s*["']?\s*(?:https?:)?//""", re.I),
    re.compile(r"""<script\b[^>]*\bsrc\s*=""", re.I),  # every script is inline
]


def external_references(document: str) -> list[str]:
    return [match.group(0) for pattern in EXTERNAL for match in pattern.finditer(document)]


def test_the_external_reference_scan_sees_what_it_must():
    """The scan itself, on planted references: each would make the page reach the network."""
    planted = [
        '<script src="https://cdn.plot.ly/plotly.min.js"></script>',
        "<img src=//example.com/x.png>",
        '<link rel="stylesheet" href="https://fonts.googleapis.com/css">',
        '<svg><image href="https://example.com/i.svg"/></svg>',
        "<style>body{background:url('https://example.com/bg.png')}</style>",
        '<style>@import "https://example.com/x.css";</style>',
    ]
    assert all(external_references(page) for page in planted)
    harmless = '<a href="https://plotly.com/">logo</a><img src="data:image/png;base64,AAAA">'
    assert external_references(harmless) == []


@pytest.fixture(scope="module")
def report_lake(tmp_path_factory):
    home = tmp_path_factory.mktemp("report")
    settings = load_settings(landing_zone=home / "lz", lake_root=home / "lake", reader={"isolate": False},
                             silver={"customer_salt": "r", "salt_file": home / "salt"})  # fmt: skip
    for relative, text in {"diabetes/k.csv": KIWIFY, "diabetes/e.csv": EDUZZ, "emagrecimento/b.csv": BRAIP,
                           "emagrecimento/m.csv": MONETIZZE}.items():  # fmt: skip
        path = settings.landing_zone / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    runner.ingest_paths(runner.plan([settings.landing_zone], None, settings), settings)
    promote_all(settings)
    return settings


def page_requests(net_log: Path) -> list[str]:
    """The URLs the page itself asked for (Chromium's NetLog; the browser's own update and account
    pings belong to no page and are left out)."""
    events = json.loads(net_log.read_text())["events"]
    urls = set()
    for event in events:
        params = event.get("params", {})
        url = params.get("url", "")
        if (
            url
            and not url.startswith(("file:", "data:", "blob:"))
            and "file://" in params.get("network_isolation_key", "")
        ):
            urls.add(url)
    return sorted(urls)


def test_html_report_is_whole_offline_in_a_browser_with_no_network(report_lake, tmp_path):
    chromium = require_tool("chromium", "the offline HTML check")
    document = html_page(build_report(report_lake))
    assert external_references(document) == []  # the whole document, not its first kilobytes
    page = tmp_path / "report.html"
    page.write_text(document, encoding="utf-8")
    net_log = tmp_path / "net.json"
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
         "--disable-background-networking", "--disable-component-update", f"--user-data-dir={tmp_path / 'profile'}",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",  # no name resolves, no proxy answers
         f"--log-net-log={net_log}", "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    charts = re.findall(r'<section class="chart" id="([^"]+)"', result.stdout)
    assert charts, "the report has no chart"
    assert result.stdout.count('class="main-svg"') >= 2 * len(charts), "a chart did not render offline"
    assert page_requests(net_log) == []


def test_the_request_log_catches_a_page_that_reaches_out(tmp_path):
    """The browser check itself: a page that fetches a remote script is caught by the request log."""
    chromium = require_tool("chromium", "the offline HTML check")
    page = tmp_path / "reaches_out.html"
    page.write_text('<html><body><script src="https://cdn.example.com/lib.js"></script></body></html>')
    net_log = tmp_path / "net.json"
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={tmp_path / 'p'}",
         "--host-resolver-rules=MAP * ~NOTFOUND", f"--log-net-log={net_log}", "--virtual-time-budget=2000",
         "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S, check=True,
    )  # fmt: skip
    assert page_requests(net_log) == ["https://cdn.example.com/lib.js"]


# -------------------------------------------------------------------------------------- vacuum


def test_vacuum_deletes_what_retention_allows_and_keeps_the_rest(tmp_path):
    settings = load_settings(landing_zone=tmp_path / "lz", lake_root=tmp_path / "lake", reader={"isolate": False},
                             maintenance={"vacuum_retention_hours": 1})  # fmt: skip
    folder = settings.landing_zone / "diabetes"
    folder.mkdir(parents=True)
    for i in range(4):  # four commits, four small files: compaction replaces them with one
        (folder / f"x{i}.csv").write_text(f"id;valor\nX{i};{i},00\n")
        ingest_file(folder / f"x{i}.csv", "diabetes", settings)
    bronze = settings.lake_root / "bronze" / "diabetes"
    rows = sorted(pl.read_delta(str(bronze)).rows())
    first = maintain(settings)["bronze/diabetes"]
    assert first["files_removed"] == 4 and first["vacuumed"] == 0  # removed just now: inside the retention
    replaced = sorted(p for p in bronze.glob("*.parquet") if str(p) not in {u.removeprefix("file://") for u in DeltaTable(bronze).file_uris()})  # fmt: skip
    assert len(replaced) == 4
    # a stray file a crashed writer left three hours ago goes; one left just now stays (a writer
    # could own it), and so do the replaced files: removed minutes ago, still time travel
    old = time.time() - 3 * 3600
    orphan = bronze / "part-00000-crashed-writer.zstd.parquet"
    orphan.write_bytes(replaced[0].read_bytes())
    os.utime(orphan, (old, old))
    fresh = bronze / "part-00001-fresh.zstd.parquet"
    fresh.write_bytes(replaced[0].read_bytes())
    second = maintain(settings)["bronze/diabetes"]
    assert second["vacuumed"] == 1
    assert not orphan.exists() and fresh.exists() and all(p.exists() for p in replaced)
    assert sorted(pl.read_delta(str(bronze)).rows()) == rows
    assert sorted(pl.read_delta(str(bronze), version=1).rows()) == rows[:2]  # time travel still works
