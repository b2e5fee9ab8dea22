"""The exactly-once state machine against a model, by hypothesis stateful testing: random
interleavings of ingest, forget, restore, maintain and crashes (kill at a fault point, then the
recovery every command starts with) on a real lake.

The model is which files' rows are in which bronze table, and the bronze versions at which each
table held which files (what a restore brings back). After every step: bronze holds exactly the
model's rows, the ingest log lists exactly the model's files, once each. A re-ingest of an
ingested file is a duplicate; of a forgotten one, an ingest.

`make test` runs a few short sequences; `make chaos` many longer ones (the profiles below).
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import ClassVar

import polars as pl
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from lakectl import pipeline
from lakectl.config import Settings, load_settings
from lakectl.errors import ConfigError
from lakectl.faults import FAULT_EXIT, FORGET_POINTS, INGEST_POINTS, MAINTAIN_POINTS, RESTORE_POINTS
from lakectl.lake import Lake
from lakectl.lake import maintenance as lake_maintenance
from lakectl.service import runner

from .chaos import Source, bronze_rows, ledger
from .conftest import SUBPROCESS_TIMEOUT_S, lakectl_env

CLUSTERS = ("diabetes", "renda_extra")
QUIET = list(HealthCheck)  # slow steps (real Delta commits) are the point here
PROFILES = {
    # make test replays the same sequences every run (CI must not meet a new one by chance); chaos explores
    "fast": settings(
        max_examples=4,
        stateful_step_count=8,
        deadline=None,
        suppress_health_check=QUIET,
        derandomize=True,
        database=None,
    ),
    "chaos": settings(max_examples=40, stateful_step_count=25, deadline=None, suppress_health_check=QUIET),
}
CRASHES = [("ingest", p) for p in INGEST_POINTS] + [("forget", p) for p in FORGET_POINTS] + \
          [("restore", p) for p in RESTORE_POINTS] + [("maintain", p) for p in MAINTAIN_POINTS]  # fmt: skip


class ExactlyOnce(RuleBasedStateMachine):
    sources: ClassVar[list[Source]] = []
    base: ClassVar[Path] = Path()

    def __init__(self) -> None:
        super().__init__()
        self.home = Path(tempfile.mkdtemp(dir=self.base))
        self.settings: Settings = load_settings(landing_zone=self.home / "landing_zone", lake_root=self.home / "lake",
                                                reader={"isolate": False}, clusters=list(CLUSTERS))  # fmt: skip
        self.files = []
        for i, source in enumerate(self.sources):
            path = self.home / "files" / f"f{i}-{source.path.name}"
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source.path, path)
            os.utime(path, (1_700_000_000, 1_700_000_000))  # long settled: no stability wait
            self.files.append(path)
        self.where: dict[int, str] = {}  # file index -> the cluster whose bronze holds its rows
        self.history: dict[str, list[tuple[int, frozenset[int]]]] = {c: [] for c in CLUSTERS}

    def teardown(self) -> None:
        shutil.rmtree(self.home, ignore_errors=True)

    # ------------------------------------------------------------------------------ helpers

    def bronze_version(self, cluster: str) -> int:
        return Lake.from_settings(self.settings).bronze(cluster).version()

    def record(self, cluster: str) -> None:
        """The bronze version that now holds the model's files of ``cluster``."""
        held = frozenset(i for i, c in self.where.items() if c == cluster)
        self.history[cluster].append((self.bronze_version(cluster), held))

    def run(self, *args: str, fault: str) -> None:
        env = lakectl_env(self.settings, LAKECTL_FAULT=fault, LAKECTL_READER__ISOLATE="false",
                          LAKECTL_CLUSTERS=",".join(CLUSTERS))  # fmt: skip
        done = subprocess.run([sys.executable, "-m", "lakectl", *args], env=env, capture_output=True,
                              text=True, timeout=SUBPROCESS_TIMEOUT_S)  # fmt: skip
        assert done.returncode == FAULT_EXIT, f"{args} at {fault}: {done.returncode} {done.stderr[-2000:]}"

    def ingest_now(self, index: int, cluster: str) -> str:
        [result] = runner.ingest_paths([(self.files[index], cluster)], self.settings)
        return result.status

    # -------------------------------------------------------------------------------- rules

    @rule(index=st.integers(0, 3), cluster=st.sampled_from(CLUSTERS))
    def ingest(self, index: int, cluster: str) -> None:
        status = self.ingest_now(index, cluster)
        if index in self.where:
            assert status == "skipped", f"file {index} is in {self.where[index]}: a duplicate, not {status}"
        else:
            assert status == "ingested", f"file {index} is not in the lake (forgotten or new): {status}"
            self.where[index] = cluster
            self.record(cluster)

    @rule(index=st.integers(0, 3))
    def forget(self, index: int) -> None:
        if index not in self.where:
            with pytest.raises(ConfigError):
                lake_maintenance.forget(self.settings, self.sources[index].sha256)
            return
        lake_maintenance.forget(self.settings, self.sources[index].sha256)
        cluster = self.where.pop(index)
        self.record(cluster)

    def restorable(self) -> list[tuple[str, int]]:
        return [(c, k) for c in CLUSTERS for k in range(len(self.history[c]))]

    def restore_outcome(self, cluster: str, pick: int) -> tuple[int, frozenset[int], list[int]]:
        version, held = self.history[cluster][pick]
        elsewhere = [i for i in held if self.where.get(i, cluster) != cluster]
        return version, held, elsewhere

    @precondition(lambda self: bool(self.restorable()))
    @rule(data=st.data())
    def restore(self, data: st.DataObject) -> None:
        cluster, pick = data.draw(st.sampled_from(self.restorable()))
        version, held, elsewhere = self.restore_outcome(cluster, pick)
        if elsewhere:  # bringing them back would put the same bytes in two clusters
            with pytest.raises(ConfigError, match="forget it there first"):
                lake_maintenance.restore(self.settings, f"bronze/{cluster}", version, None)
            return
        lake_maintenance.restore(self.settings, f"bronze/{cluster}", version, None)
        self.apply_restore(cluster, held)

    def apply_restore(self, cluster: str, held: frozenset[int]) -> None:
        self.where = {i: c for i, c in self.where.items() if c != cluster} | dict.fromkeys(held, cluster)
        self.record(cluster)

    @rule()
    def maintain(self) -> None:
        lake_maintenance.maintain(self.settings)

    @rule(crash=st.sampled_from(CRASHES), index=st.integers(0, 3), cluster=st.sampled_from(CLUSTERS),
          data=st.data())  # fmt: skip
    def crash(self, crash: tuple[str, str], index: int, cluster: str, data: st.DataObject) -> None:
        """Killed at a fault point, then the recovery every command starts with (reconcile)."""
        command, point = crash
        sha = self.sources[index].sha256
        if command == "ingest":
            if index in self.where:
                return  # a duplicate never reaches the commit
            self.run("ingest", str(self.files[index]), "--cluster", cluster, fault=point)
            if point == "after_commit":
                self.where[index] = cluster
        elif command == "forget":
            if index not in self.where:
                return
            self.run("forget", sha, fault=point)
            cluster = self.where.pop(index)
        elif command == "restore":
            if not self.restorable():
                return
            cluster, pick = data.draw(st.sampled_from(self.restorable()))
            version, held, elsewhere = self.restore_outcome(cluster, pick)
            if elsewhere or version == self.bronze_version(cluster):
                return  # refused, or no commit (the fault point is never reached)
            self.run("restore", f"bronze/{cluster}", "--version", str(version), fault=point)
            self.where = {i: c for i, c in self.where.items() if c != cluster} | dict.fromkeys(held, cluster)
        else:
            if not Lake.from_settings(self.settings).tables():
                return
            self.run("maintain", fault=point)
        pipeline.reconcile(self.settings)
        if self.bronze_version(cluster) >= 0 and (not self.history[cluster] or
                                                  self.history[cluster][-1][0] != self.bronze_version(cluster)):  # fmt: skip
            self.record(cluster)

    # --------------------------------------------------------------------------- invariants

    @invariant()
    def bronze_holds_the_model(self) -> None:
        expected = Counter({(c, self.sources[i].sha256): self.sources[i].rows for i, c in self.where.items()})
        assert bronze_rows(self.settings) == expected

    @invariant()
    def the_ingest_log_agrees(self) -> None:
        log = ledger(self.settings).filter(pl.col("status") == "ingested")
        found = Counter(zip(log["sha256"].to_list(), log["cluster"].to_list(), strict=True))
        assert found == Counter({(self.sources[i].sha256, c): 1 for i, c in self.where.items()})


def machine(pool, base: Path, profile: str) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(15)
    small = sorted((s for s in pool.ingestable() if s.rows <= 200), key=lambda s: s.sha256)
    ExactlyOnce.sources = rng.sample(small, 4)
    ExactlyOnce.base = base
    run_state_machine_as_test(ExactlyOnce, settings=PROFILES[profile])


def test_exactly_once_against_the_model(chaos_pool, tmp_path):
    machine(chaos_pool, tmp_path, "fast")


@pytest.mark.chaos
@pytest.mark.timeout(5400)  # a thousand steps of real commits and killed processes
def test_exactly_once_against_the_model_long(chaos_pool, tmp_path):
    machine(chaos_pool, tmp_path, "chaos")


# ------------------------------------------------------------------ what the machine found, pinned


@pytest.fixture()
def two_files(chaos_pool, tmp_path) -> tuple[Settings, list[Path], list[Source]]:  # type: ignore[no-untyped-def]
    ExactlyOnce.sources = sorted(chaos_pool.ingestable(), key=lambda s: s.sha256)[:2]
    ExactlyOnce.base = tmp_path
    state = ExactlyOnce()
    return state.settings, state.files, ExactlyOnce.sources


def test_a_restore_to_before_a_forget_puts_the_file_back_in_the_log(two_files):
    """Ingested, forgotten, ingested again, then bronze restored to the first ingest: bronze holds
    the file once (the first ingest's rows), so the log must list it, and a re-ingest is a duplicate."""
    settings, files, sources = two_files
    [first] = runner.ingest_paths([(files[0], "diabetes")], settings)
    lake_maintenance.forget(settings, sources[0].sha256)
    assert runner.ingest_paths([(files[0], "diabetes")], settings)[0].status == "ingested"
    result = lake_maintenance.restore(settings, "bronze/diabetes", first.bronze_version, None)
    assert result["back"] == [files[0].name]
    assert runner.ingest_paths([(files[0], "diabetes")], settings)[0].status == "skipped"
    assert bronze_rows(settings) == Counter({("diabetes", sources[0].sha256): sources[0].rows})
    assert ledger(settings).filter(pl.col("status") == "ingested")["ingest_id"].to_list() == [first.ingest_id]


def test_a_restore_that_would_put_a_file_in_two_clusters_is_refused(two_files):
    settings, files, sources = two_files
    [first] = runner.ingest_paths([(files[0], "diabetes")], settings)
    lake_maintenance.forget(settings, sources[0].sha256)
    runner.ingest_paths([(files[0], "renda_extra")], settings)  # moved to the right cluster
    with pytest.raises(ConfigError, match="now in renda_extra: forget it there first") as refused:
        lake_maintenance.restore(settings, "bronze/diabetes", first.bronze_version, None)
    assert "lakectl forget" in str(refused.value.hint)
    assert bronze_rows(settings) == Counter({("renda_extra", sources[0].sha256): sources[0].rows})


def test_forget_after_an_ingest_killed_before_its_ledger_row(two_files):
    """Killed after the bronze commit: forget finds the file all the same (it reconciles first)."""
    settings, files, sources = two_files
    env = lakectl_env(settings, LAKECTL_FAULT="after_commit", LAKECTL_READER__ISOLATE="false",
                      LAKECTL_CLUSTERS=",".join(CLUSTERS))  # fmt: skip
    killed = subprocess.run([sys.executable, "-m", "lakectl", "ingest", str(files[1]), "--cluster", "diabetes"],
                            env=env, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)  # fmt: skip
    assert killed.returncode == FAULT_EXIT, killed.stderr
    assert lake_maintenance.forget(settings, sources[1].sha256)["clusters"][0]["rows"] == sources[1].rows
    assert bronze_rows(settings) == Counter()
    assert ledger(settings).filter(pl.col("status") == "ingested").is_empty()


def test_a_restore_to_the_current_version_changes_nothing(two_files):
    settings, files, _ = two_files
    [first] = runner.ingest_paths([(files[0], "diabetes")], settings)
    result = lake_maintenance.restore(settings, "bronze/diabetes", first.bronze_version, None)
    assert result == {"version": first.bronze_version, "forgotten": [], "back": []}
    assert Lake.from_settings(settings).bronze("diabetes").version() == first.bronze_version


def killed(settings: Settings, fault: str, *args: str) -> None:
    env = lakectl_env(settings, LAKECTL_FAULT=fault, LAKECTL_READER__ISOLATE="false",
                      LAKECTL_CLUSTERS=",".join(CLUSTERS))  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "lakectl", *args], env=env, capture_output=True, text=True,
                          timeout=SUBPROCESS_TIMEOUT_S)  # fmt: skip
    assert done.returncode == FAULT_EXIT, done.stderr


def test_a_forget_in_one_cluster_never_cancels_the_repair_of_the_same_file_in_another(two_files):
    """Forgotten from renda_extra (the wrong cluster), then ingested into diabetes and killed right
    after the commit: the repair adds the diabetes ingest to the log. It used to be dropped again by
    renda_extra's forget commit, which the repair reads again while no later file is in renda_extra;
    with the log silent, the next ingest of the file doubled its rows."""
    settings, files, sources = two_files
    runner.ingest_paths([(files[0], "renda_extra")], settings)
    lake_maintenance.forget(settings, sources[0].sha256)
    killed(settings, "after_commit", "ingest", str(files[0]), "--cluster", "diabetes")
    pipeline.reconcile(settings)
    assert ledger(settings).filter(pl.col("status") == "ingested")["cluster"].to_list() == ["diabetes"]
    assert runner.ingest_paths([(files[0], "diabetes")], settings)[0].status == "skipped"
    assert bronze_rows(settings) == Counter({("diabetes", sources[0].sha256): sources[0].rows})


def test_a_restore_killed_after_its_commit_is_repaired_after_forgets_in_both_clusters(two_files):
    """The same through restore: in diabetes, forgotten; then in renda_extra, forgotten; diabetes
    restored to the version that held it, killed after the commit: the log lists it again, once."""
    settings, files, sources = two_files
    [first] = runner.ingest_paths([(files[0], "diabetes")], settings)
    lake_maintenance.forget(settings, sources[0].sha256)
    runner.ingest_paths([(files[0], "renda_extra")], settings)
    lake_maintenance.forget(settings, sources[0].sha256)
    version = str(first.bronze_version)
    killed(settings, "restore_after_commit", "restore", "bronze/diabetes", "--version", version)
    pipeline.reconcile(settings)
    log = ledger(settings).filter(pl.col("status") == "ingested")
    assert log["cluster"].to_list() == ["diabetes"] and log["ingest_id"].to_list() == [first.ingest_id]
    assert runner.ingest_paths([(files[0], "diabetes")], settings)[0].status == "skipped"
    assert bronze_rows(settings) == Counter({("diabetes", sources[0].sha256): sources[0].rows})
