"""`make bench` works: bench/run.py runs the scripts and prints one table (tiny sizes, no timing
asserted: the figures themselves are the benchmarks' business)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT, SUBPROCESS_TIMEOUT_S


def test_quick_run_prints_one_table_with_the_machine(tmp_path):
    merged = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--only", "ingest,startup,no_such_bench",
         "--json", str(merged)],
        capture_output=True, text=True, timeout=4 * SUBPROCESS_TIMEOUT_S,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "| benchmark | case | variant | figure | baseline | ratio | target | met? |" in out
    assert "machine: " in out and " cores, " in out and "Python " in out and "polars " in out
    assert "load average" in out
    assert "| no_such_bench | — | — | not run: no such script |" in out
    data = json.loads(merged.read_text())
    keys = {"bench", "case", "variant", "value", "unit", "baseline", "ratio", "target", "met"}
    assert data["rows"] and all(set(row) == keys for row in data["rows"])
    lakectl = {(r["bench"], r["case"]) for r in data["rows"] if "lakectl" in r["variant"]}
    assert {("P1", "2,000 x 15 xlsx"), ("P1", "2,000 x 15 csv"), ("P2", "2,000 x 15 xlsx")} <= lakectl
    assert {r["variant"] for r in data["rows"] if r["bench"] == "P5"} == {"lakectl --help", "lakectl health"}
    ingest = next(r for r in data["rows"] if r["bench"] == "P1" and r["variant"] == "lakectl ingest")
    assert ingest["target"] == "≤ 1.2×" and abs(ingest["ratio"] - ingest["value"] / ingest["baseline"]) < 0.01
    assert data["machine"]["cores"] and data["machine"]["packages"]["deltalake"]
