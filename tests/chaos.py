"""The chaos suite's tools: a pool of real-shaped files with what a clean ingest makes of each, a
seeded random round of them in a landing zone, `lakectl` processes killed with -9 (at a fault point
or at a random moment, the whole process group), and the checks every scenario ends with.

The oracle of a file is what a clean ingest of it alone gives (status and bronze rows): after any
crash and rerun, bronze must hold exactly those rows of every file once, the ingest log must agree
with bronze, every file must be in exactly one place, every table must open at its latest version
and a second run must change nothing.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from deltalake import DeltaTable

from lakectl.config import Settings, load_settings
from lakectl.lake import Lake
from lakectl.service import runner

from .conftest import CORPUS, SUBPROCESS_TIMEOUT_S, lakectl_env, load_examples_module

INGEST_LOG = "_lakectl/ingest_log"
KILLED = -signal.SIGKILL  # a Popen's returncode after kill -9
SALT = "chaos"
# the whole run of one round: a watcher settles files within this window
ENV = {"LAKECTL_SILVER__CUSTOMER_SALT": SALT, "LAKECTL_WATCH__STABILITY_WINDOW_S": "0.3"}


def settings_for(home: Path) -> Settings:
    return load_settings(landing_zone=home / "landing_zone", lake_root=home / "lake",
                         silver={"customer_salt": SALT, "salt_file": home / "salt"})  # fmt: skip


@dataclass(frozen=True)
class Source:
    """One file of the pool and what a clean ingest of it alone makes of it."""

    path: Path
    sha256: str
    status: str  # ingested | rejected
    rows: int


@dataclass
class Pool:
    sources: list[Source]

    def ingestable(self) -> list[Source]:
        return [s for s in self.sources if s.status == "ingested" and s.rows > 0]

    def pick(self, rng: random.Random, count: int) -> list[Source]:
        """``count`` distinct files (by bytes), at least one that ingests with rows."""
        first = rng.choice(self.ingestable())
        rest = rng.sample([s for s in self.sources if s.sha256 != first.sha256], count - 1)
        return [first, *rest]


def build_pool(home: Path) -> Pool:
    """The example generator's exports (two seeds) and the third-party corpus, each ingested alone
    once (production path) to learn its status and rows; one file per distinct content."""
    examples = load_examples_module()
    folders = []
    for seed in (examples.SEED, examples.SEED + 1):
        folder = home / f"examples-{seed}"
        examples.generate(folder, seed=seed)
        folders.append(folder)
    paths = sorted(p for f in folders for p in f.rglob("*") if p.is_file() and not p.name.startswith("."))
    if CORPUS.is_dir():
        paths += sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix.lower() in
                        (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".xls", ".ods"))  # fmt: skip
    settings = load_settings(landing_zone=home / "oracle_zone", lake_root=home / "oracle_lake")
    results = runner.ingest_paths([(path, "diabetes") for path in paths], settings)
    seen: set[str] = set()
    sources = []
    for result in results:
        if result.status not in ("ingested", "rejected") or not result.sha256 or result.sha256 in seen:
            continue  # a "skipped" one has the bytes of another
        seen.add(result.sha256)
        sources.append(Source(Path(result.path), result.sha256, result.status, result.rows or 0))
    return Pool(sources)


@dataclass
class Placed:
    source: Source
    cluster: str
    path: Path  # where it landed


@dataclass
class Round:
    """One scenario's landing zone and lake, with the files placed in it."""

    home: Path
    settings: Settings
    placed: list[Placed] = field(default_factory=list)

    def place(
        self, sources: list[Source], rng: random.Random, clusters: list[str] | None = None
    ) -> list[Placed]:
        """Copy ``sources`` into random cluster folders (names made unique, suffix kept)."""
        new = []
        for source in sources:
            cluster = rng.choice(clusters or self.settings.clusters)
            folder = self.settings.landing_zone / cluster
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"f{len(self.placed) + len(new):02d}-{source.path.name}"
            shutil.copyfile(source.path, target)
            new.append(Placed(source, cluster, target))
        self.placed += new
        return new

    def ingest_in_process(self) -> None:
        jobs = runner.plan([self.settings.landing_zone], None, self.settings)
        runner.ingest_paths(jobs, self.settings)

    def env(self, **extra: str) -> dict[str, str]:
        return lakectl_env(self.settings, **ENV, **extra)


def new_round(tmp_path: Path, pool: Pool, seed: int, count: int, clusters: list[str] | None = None) -> Round:
    rng = random.Random(seed)
    round_ = Round(tmp_path, settings_for(tmp_path))
    round_.place(pool.pick(rng, count), rng, clusters)
    return round_


# ----------------------------------------------------------------------------- killed processes


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def lakectl(
    round_: Round, *args: str, fault: str | None = None, kill_after: float | None = None, **env: str
) -> Run:
    """`python -m lakectl ARGS` in a session of its own. ``fault``: LAKECTL_FAULT (the process
    kills itself there); ``kill_after``: kill -9 of the whole group after that many seconds. Either
    way the group must be gone afterwards: no child outlives its parent."""
    extra = {**env, **({"LAKECTL_FAULT": fault} if fault else {})}
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "lakectl", *args], env=round_.env(**extra), text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip
    try:
        if kill_after is not None:
            try:
                process.wait(timeout=kill_after)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate(timeout=SUBPROCESS_TIMEOUT_S)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
    seconds = time.monotonic() - started
    assert_group_gone(process.pid, " ".join(args))
    return Run(process.returncode, stdout, stderr, seconds)


def assert_group_gone(pgid: int, what: str, patience_s: float = 30.0) -> None:
    """Every process of the group ends with its leader (the parser child dies with its parent).
    A survivor is killed, then the test fails naming it."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        if time.monotonic() > deadline:
            os.killpg(pgid, signal.SIGKILL)
            raise AssertionError(f"'lakectl {what}' left processes alive in its group {pgid}")
        time.sleep(0.05)


def no_traceback(run: Run) -> None:
    assert "Traceback" not in run.stderr + run.stdout, run.stderr[-3000:]


# --------------------------------------------------------------------------------------- checks


def versions(settings: Settings) -> dict[str, int]:
    return {table.name: table.version() for table in Lake.from_settings(settings).tables()}


def bronze_rows(settings: Settings) -> Counter[tuple[str, str]]:
    """(cluster, sha256) -> rows in bronze."""
    lake = Lake.from_settings(settings)
    counts: Counter[tuple[str, str]] = Counter()
    for cluster in settings.clusters:
        table = lake.bronze(cluster)
        if not table.exists():
            continue
        frame = table.scan().group_by("_source_sha256").agg(pl.len()).collect()
        for sha, rows in frame.iter_rows():
            counts[(cluster, sha)] += rows
    return counts


def ledger(settings: Settings) -> pl.DataFrame:
    table = Lake.from_settings(settings).ingest_log()
    return table.read() if table.exists() else pl.DataFrame({"sha256": [], "status": [], "cluster": []})


def assert_tables_open_at_latest(settings: Settings) -> None:
    """Every table opens at the newest commit of its log, and a full scan reads."""
    for table in Lake.from_settings(settings).tables():
        log = Path(table.uri) / "_delta_log"
        newest = max(int(p.name.split(".")[0]) for p in log.glob("*.json") if p.name.split(".")[0].isdigit())
        assert DeltaTable(table.uri).version() == newest, table.name
        pl.scan_delta(table.uri).select(pl.len()).collect()


def assert_exactly_once(round_: Round, moved: bool = False, forgotten: frozenset[str] = frozenset()) -> None:
    """0 rows lost, 0 doubled, the ingest log agrees with bronze, every file in exactly one place.

    ``moved``: the files went through the watcher (archive or quarantine) rather than ``ingest``
    (which leaves them in place). ``forgotten``: hashes taken out on purpose (no rows, no ledger)."""
    settings = round_.settings
    expected: Counter[tuple[str, str]] = Counter()
    first_cluster: dict[str, str] = {}
    for placed in round_.placed:
        source = placed.source
        if source.status == "ingested" and source.rows and source.sha256 not in forgotten:
            # the same bytes in a second folder are a duplicate of the first ingest
            cluster = first_cluster.setdefault(source.sha256, placed.cluster)
            expected[(cluster, source.sha256)] = source.rows
    found = bronze_rows(settings)
    lost = {k: v - found[k] for k, v in expected.items() if found[k] < v}
    doubled = {k: found[k] - expected[k] for k in found if found[k] > expected[k]}
    assert not lost and not doubled, f"rows lost: {lost}; rows doubled or foreign: {doubled}"

    log = ledger(settings)
    ingested = log.filter(pl.col("status") == "ingested")
    per_sha = Counter(ingested["sha256"].to_list())
    for placed in round_.placed:
        sha, status = placed.source.sha256, placed.source.status
        name = placed.path.name
        if sha in forgotten:
            assert per_sha[sha] == 0, f"{name}: forgotten, yet in the ingest log"
            continue
        if status == "ingested":
            assert per_sha[sha] == 1, f"{name}: {per_sha[sha]} 'ingested' rows in the ingest log"
            row = ingested.filter(pl.col("sha256") == sha).row(0, named=True)
            assert row["rows"] == placed.source.rows, f"{name}: the log says {row['rows']} rows"
            assert found[(row["cluster"], sha)] == placed.source.rows
            blamed = log.filter((pl.col("sha256") == sha) & (pl.col("status") == "rejected"))
            assert blamed.is_empty(), f"{name}: ingested, yet also rejected: {blamed['reason'].to_list()}"
        else:
            assert per_sha[sha] == 0, f"{name}: rejected alone, yet 'ingested' here"
            assert not log.filter((pl.col("sha256") == sha) & (pl.col("status") == "rejected")).is_empty(), (
                name
            )
    assert_in_one_place(round_, moved)
    assert_tables_open_at_latest(settings)


def assert_in_one_place(round_: Round, moved: bool) -> None:
    landing = round_.settings.landing_zone
    for placed in round_.placed:
        stem = placed.path.stem
        archived = [p for p in (landing / "_archive").rglob(f"{stem}*") if p.is_file()]
        quarantined = [p for p in (landing / "_quarantine").rglob(f"{stem}*")
                       if p.is_file() and not p.name.endswith(".error.json")]  # fmt: skip
        pending = [placed.path] if placed.path.exists() else []
        places = {"landing": pending, "archive": archived, "quarantine": quarantined}
        where = {k: v for k, v in places.items() if v}
        if not moved:
            assert list(where) == ["landing"], f"{placed.path.name}: {where}"
            continue
        assert len(where) == 1 and len(next(iter(where.values()))) == 1, f"{placed.path.name}: {where}"
        want = "archive" if placed.source.status == "ingested" else "quarantine"
        assert list(where) == [want], f"{placed.path.name} ({placed.source.status}): {where}"


def assert_second_run_changes_nothing(round_: Round, *args: str) -> Run:
    """No table gets a commit, except the ingest log, which gains only 'skipped' rows (it records
    every file event, a duplicate's too)."""
    before, log_before = versions(round_.settings), _not_skipped(round_.settings)
    run = lakectl(round_, *args)
    assert run.returncode in (0, 4), run.stderr[-3000:]
    after = versions(round_.settings)
    changed = {name: (v, after.get(name)) for name, v in before.items() if after.get(name) != v}
    changed.pop(INGEST_LOG, None)
    assert not changed and set(after) == set(before), (
        f"a second 'lakectl {args[0]}' committed again: {changed}"
    )
    assert _not_skipped(round_.settings) == log_before, "a second run logged more than duplicates"
    return run


def _not_skipped(settings: Settings) -> Counter[tuple[str, str]]:
    log = ledger(settings).filter(pl.col("status") != "skipped")
    return Counter(zip(log["sha256"].to_list(), log["status"].to_list(), strict=True))


def temp_leftovers(settings: Settings) -> list[str]:
    """What is left in the lake's temp folder (spools, repaired copies) once every run ended."""
    root = settings.lake_root / "_lakectl" / "tmp"
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=1, default=str))
