"""The held-out sets (tests/heldout/build.py): exports no profile was written for, with ground truth
from the generator's own records. Each set is ingested and promoted by the real `lakectl` commands,
wave by wave as a seller would, and silver and gold are compared with expected.json per cluster.

Run `pytest -s tests/test_heldout.py` to see the diff table and the overall figures of each set.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from lakectl.config import Settings, load_settings

from .conftest import ROOT, SUBPROCESS_TIMEOUT_S, lakectl_env


def load_builder() -> Any:  # a script beside the tests, not a package module
    spec = importlib.util.spec_from_file_location(
        "lakectl_heldout_build", ROOT / "tests" / "heldout" / "build.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["lakectl_heldout_build"] = module
    spec.loader.exec_module(module)
    return module


build = load_builder()
PLATFORMS = {"hotmart", "kiwify", "eduzz", "monetizze", "braip", "clickbank", "digistore24"}


def lakectl(settings: Settings, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = lakectl_env(settings, LAKECTL_SILVER__CUSTOMER_SALT="heldout")
    return subprocess.run([sys.executable, "-m", "lakectl", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=SUBPROCESS_TIMEOUT_S * 2)  # fmt: skip


def money(value: Any) -> str:
    return str(Decimal(str(value)).quantize(Decimal("0.01")))


def read_delta(path: Path) -> pl.DataFrame | None:
    return pl.read_delta(str(path)) if (path / "_delta_log").is_dir() else None


def measure(settings: Settings) -> dict[str, dict[str, Any]]:
    """Per cluster, the figures expected.json holds, as silver and gold have them."""
    gold = read_delta(settings.lake_root / "gold" / "daily_sales")
    got: dict[str, dict[str, Any]] = {}
    for cluster in build.CLUSTERS:
        silver = read_delta(settings.lake_root / "silver" / cluster)
        if silver is None or silver.is_empty():
            got[cluster] = {"transactions": 0, "statuses": {}, "platforms": {}, "approved": 0, "approved_revenue": {},
                            "gold_approved_revenue": {}, "transaction_ids": []}  # fmt: skip
            continue
        statuses = Counter(s if s is not None else "(null)" for s in silver["status"].to_list())
        approved = silver.filter(pl.col("status") == "approved")
        revenue = approved.group_by("currency").agg(pl.col("gross_amount").sum()).sort("currency")
        gold_revenue: dict[str, str] = {}
        if gold is not None and not gold.is_empty():
            per = (
                gold.filter(pl.col("cluster") == cluster)
                .group_by("currency")
                .agg(pl.col("gross_revenue").sum())
            )
            gold_revenue = {str(c): money(v) for c, v in per.sort("currency").iter_rows() if v}
        got[cluster] = {
            "transactions": silver.height,
            "statuses": dict(sorted(statuses.items())),
            "platforms": dict(sorted(Counter(silver["platform"].to_list()).items())),
            "approved": approved.height,
            "approved_revenue": {str(c): money(v) for c, v in revenue.iter_rows() if v is not None},
            "gold_approved_revenue": gold_revenue,
            "transaction_ids": silver["transaction_id"].cast(pl.String).to_list(),
        }
    return got


def compare(expected: dict[str, Any], got: dict[str, dict[str, Any]]) -> tuple[list[tuple[str, ...]], str]:
    """The differing figures (cluster, field, expected, got) and the overall figures."""
    diffs: list[tuple[str, ...]] = []
    kept = total = 0
    for cluster, want in expected["clusters"].items():
        have = got[cluster]
        ids = set(have["transaction_ids"])
        kept += sum(1 for i in want["transaction_ids"] if i in ids)
        total += len(want["transaction_ids"])
        for name in ("transactions", "approved"):
            if want[name] != have[name]:
                diffs.append((cluster, name, str(want[name]), str(have[name])))
        for kind, name in (("status", "statuses"), ("platform", "platforms")):
            for value in sorted(set(want[name]) | set(have[name]), key=str):
                w, h = want[name].get(value, 0), have[name].get(value, 0)
                if w != h:
                    diffs.append((cluster, f"{kind} {value}", str(w), str(h)))
        for name in ("approved_revenue", "gold_approved_revenue"):
            for currency in sorted(set(want[name]) | set(have[name])):
                w, h = want[name].get(currency, "0.00"), have[name].get(currency, "0.00")
                if Decimal(w) != Decimal(h):
                    diffs.append((cluster, f"{name} {currency}", w, h))
    lines = [f"transactions kept: {kept} of {total} ({100 * kept / total:.1f}%)"]
    for currency, want_total in expected["totals"]["approved_revenue"].items():
        have_total = sum(Decimal(g["approved_revenue"].get(currency, "0")) for g in got.values())
        lines.append(f"approved revenue {currency}: {have_total} of {want_total} "
                     f"({100 * have_total / Decimal(want_total):.1f}%)")  # fmt: skip
    extra = sum(len(g["transaction_ids"]) for g in got.values()) - kept
    lines.append(f"rows in silver that are no expected transaction: {extra}")
    return diffs, "\n".join(lines)


def table(diffs: list[tuple[str, ...]]) -> str:
    rows = [("cluster", "field", "expected", "got"), *diffs]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def run_set(set_name: str, home: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]], list[str]]:
    """Build the set, then ingest + promote all, wave by wave, through the real CLI."""
    exports = home / "exports"
    expected = build.build(exports, set_name)
    settings = load_settings(landing_zone=home / "landing_zone", lake_root=home / "lake")
    notes: list[str] = []
    # every data row of an export lands in bronze (the workbook's summary sheet is data to bronze too)
    rows = {f["path"]: f["data_rows"] for f in expected["files"] if f["platform"] != "manual"}
    settled = time.time() - 3600  # a download finished long ago: no stability wait
    for n, wave in enumerate(expected["waves"], start=1):
        for name in wave:
            target = settings.landing_zone / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(exports / name, target)
            os.utime(target, (settled, settled))
        ingest = lakectl(settings, home, "ingest", str(settings.landing_zone), "--json")
        assert ingest.returncode in (0, 4), ingest.stderr[-2000:]
        for entry in json.loads(ingest.stdout)["files"]:
            name = Path(entry["file"]).relative_to(settings.landing_zone).as_posix()
            if entry["status"] == "rejected":
                notes.append(f"wave {n}: {name} rejected: {entry['reason']}")
            elif entry["status"] == "ingested" and rows.get(name, entry["rows"]) != entry["rows"]:
                notes.append(f"wave {n}: {name}: {entry['rows']} rows in bronze of {rows[name]}")
        promote = lakectl(settings, home, "promote", "all")
        assert promote.returncode == 0, promote.stdout[-2000:] + promote.stderr[-2000:]
    return expected, measure(settings), notes


KNOWN: dict[str, str] = {  # what lakectl gets wrong today on each set (issue 11); the mark goes when exact
    # A-G are exact. Before: A 394 of 424 transactions, 72% of approved EUR; B 374 of 430, 93.1% of
    # BRL; C 98.4% of BRL, 0% of EUR; D 88.9% of BRL, 0% of USD; E (written blind after those fixes)
    # 379 of 439, 80.9% of BRL, 110.3% of EUR; F (written blind after the E fixes) 390 of 440, 73.4% of BRL,
    # 0% of USD; G (written blind after the F fixes) 214 of 429, 25.2% of BRL
}


@pytest.mark.parametrize(
    "set_name",
    [
        pytest.param(s, marks=pytest.mark.xfail(strict=True, reason=KNOWN[s])) if s in KNOWN else s
        for s in build.SETS
    ],
)
def test_heldout_set_matches_its_ground_truth(set_name, tmp_path):
    expected, got, notes = run_set(set_name, tmp_path)
    diffs, overall = compare(expected, got)
    report = (
        f"held-out set {set_name}\n{overall}\n"
        + "\n".join(notes)
        + "\n"
        + (table(diffs) if diffs else "exact")
    )
    print(report)
    assert not notes and not diffs, report


# -- the generator itself --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, tuple[Path, dict[str, Any]]]:
    out = {}
    for s in build.SETS:
        folder = tmp_path_factory.mktemp(f"set{s}")
        out[s] = (folder, build.build(folder, s))
    return out


def test_the_sets_are_deterministic(built, tmp_path):
    for s, (folder, expected) in built.items():
        again = build.build(tmp_path / s, s)
        assert again == expected
        for entry in expected["files"]:
            assert (tmp_path / s / entry["path"]).read_bytes() == (folder / entry["path"]).read_bytes(), entry


def test_each_set_is_a_landing_zone_over_every_platform_and_currency(built):
    for s, (folder, expected) in built.items():
        files = expected["files"]
        assert 18 <= len(files) <= 24, s
        assert {f["platform"] for f in files} == PLATFORMS | {"manual"}
        assert {Path(f["path"]).parts[0] for f in files} == set(build.CLUSTERS)
        assert {Path(f["path"]).suffix for f in files} == {".csv", ".xlsx"}
        assert all((folder / f["path"]).is_file() for f in files)
        assert 300 <= expected["totals"]["transactions"] <= 600, s
        assert set(expected["totals"]["approved_revenue"]) == {"BRL", "USD", "EUR"}
        raw = [(folder / f["path"]).read_bytes() for f in files if f["path"].endswith(".csv")]
        assert any(b"\xe7\xe3o" in b or b"\xe3" in b for b in raw), "a Latin-1 file"  # ção in Latin-1


def test_some_export_has_a_byte_order_mark(built):
    csvs = [folder / f["path"] for folder, expected in built.values() for f in expected["files"]]
    assert any(p.read_bytes().startswith(b"\xef\xbb\xbf") for p in csvs if p.suffix == ".csv")


def test_the_sets_render_the_same_fields_with_other_labels():
    for platform in PLATFORMS | {"manual"}:
        labels = {s: {f: label.casefold() for label, f in build.LAYOUTS[(platform, s)]} for s in build.SETS}
        for name in ("id", "gross", "date"):
            seen = [labels[s][name] for s in build.SETS]
            assert len(set(seen)) == len(seen), (platform, name, seen)


def test_sales_recur_across_exports_with_a_changed_status():
    for s in build.SETS:
        gen = build.Generator(s)
        gen.build()
        shown: dict[str, list[tuple[int, str]]] = {}
        for spec in build.FILES[s]:
            if spec.platform != "manual":
                for sale, status, _, _ in gen.rows_of(spec):
                    shown.setdefault(sale.sale_id, []).append((spec.wave, status))
        twice = {k: sorted(v) for k, v in shown.items() if len({w for w, _ in v}) == 2}
        assert any([x[1] for x in v] == ["pending", "approved"] for v in twice.values()), s
        assert any([x[1] for x in v][:1] == ["approved"] and v[-1][1] in ("refunded", "chargeback")
                   for v in twice.values()), s  # fmt: skip
        assert any(len({status for _, status in v}) == 1 for v in twice.values()), (
            s
        )  # the very same row in two exports
        copied = {sale.sale_id for rows in gen.manual_rows.values() for _, sale, _ in rows} & set(shown)
        assert copied, f"{s}: the workbook repeats some exported sales"
