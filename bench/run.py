"""Every benchmark, one table: ``make bench``.

    python bench/run.py [--quick] [--only ingest,startup,...] [--json PATH] [--timeout S]

Runs each bench script as its own process with ``--summary-json FILE`` (and ``--quick`` in a quick
run), merges the JSON rows they write and prints the machine, then one table: benchmark, case,
variant, figure, baseline, ratio, target, met?. The scripts' own output passes through above it.
The contract of a bench script: it accepts ``--summary-json PATH`` and writes a JSON list of rows
``{"bench", "case", "variant", "value", "unit", "baseline", "ratio", "target", "met"}`` (see
measure.summary_row), and ``--quick`` (or ``--small``) for tiny sizes. A script that is missing, lacks one of these
flags, fails or times out is listed as "not run" with the reason; the others still run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SCRIPTS = ["ingest", "startup", "watch", "silver", "gold", "serve"]
PACKAGES = ["lakectl", "polars", "pyarrow", "deltalake", "fastexcel", "duckdb", "typer", "pydantic"]
SMALL_FLAGS = ("--quick", "--small")  # a script's smoke-test size, by either name
COLUMNS = ["benchmark", "case", "variant", "figure", "baseline", "ratio", "target", "met?"]


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = next((line.split(":", 1)[1].strip() for line in _lines("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor() or platform.machine())  # fmt: skip
    mem_kib = next(
        (int(line.split()[1]) for line in _lines("/proc/meminfo") if line.startswith("MemTotal:")), 0
    )
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gib": round(mem_kib / 2**20, 1),
            "python": platform.python_version(), "system": f"{platform.system()} {platform.machine()}",
            "packages": versions}  # fmt: skip


def _lines(path: str) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except OSError:
        return []


def load_average() -> str:
    return " ".join(_lines("/proc/loadavg")[0].split()[:3]) if _lines("/proc/loadavg") else "?"


def run_script(name: str, quick: bool, timeout: float) -> tuple[list[dict[str, Any]], str | None]:
    """The rows one script wrote, or why it did not run."""
    script = HERE / f"{name}.py"
    if not script.exists():
        return [], "no such script"
    try:
        usage = subprocess.run(
            [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120
        )
    except subprocess.TimeoutExpired:
        return [], "--help did not answer"
    small = next((flag for flag in SMALL_FLAGS if flag in usage.stdout), None)
    lacking = [flag for flag, there in (("--summary-json", "--summary-json" in usage.stdout),
                                        ("--quick", small is not None or not quick)) if not there]  # fmt: skip
    if usage.returncode != 0 or lacking:
        return [], f"no {' or '.join(lacking)}" if lacking else f"--help failed ({usage.returncode})"
    with tempfile.TemporaryDirectory(prefix="lakectl-run-") as tmp:
        summary = Path(tmp) / "summary.json"
        cmd = [sys.executable, str(script), "--summary-json", str(summary)] + (
            [small] if quick and small else []
        )
        print(f"\n=== {name} (load {load_average()})", flush=True)
        try:
            done = subprocess.run(cmd, cwd=HERE, timeout=timeout)
        except subprocess.TimeoutExpired:
            return [], f"timed out after {timeout:g} s"
        if done.returncode != 0:
            return [], f"failed (exit {done.returncode})"
        try:
            rows = json.loads(summary.read_text())
        except (OSError, ValueError) as exc:
            return [], f"no summary ({exc})"
    return rows, None


def figure(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "s":
        return f"{value:.3f} s" if value < 1 else f"{value:.2f} s"
    if unit == "MiB":
        return f"{value:,.0f} MiB"
    return f"{value:,.4g} {unit}"


def table(rows: list[dict[str, Any]], not_run: dict[str, str]) -> str:
    """The one table, as Markdown (it goes into the README as it is)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * 3 + "---:|" * 3 + "---|---|"]
    for row in rows:
        met = {True: "yes", False: "**no**", None: "—"}[row.get("met")]
        ratio = f"{row['ratio']:.2f}×" if row.get("ratio") is not None else "—"
        cells = [row["bench"], row["case"], row["variant"], figure(row["value"], row["unit"]),
                 figure(row.get("baseline"), row["unit"]), ratio, row.get("target") or "—", met]  # fmt: skip
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    for name, reason in not_run.items():
        lines.append(f"| {name} | — | — | not run: {reason} | — | — | — | — |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that the table is produced")
    parser.add_argument("--only", help=f"comma-separated scripts (default: {','.join(SCRIPTS)})")
    parser.add_argument("--json", type=Path, help="also write the machine and every row here")
    parser.add_argument("--timeout", type=float, default=4 * 3600, help="seconds per script")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else SCRIPTS
    where = machine()
    started_load = load_average()
    rows: list[dict[str, Any]] = []
    not_run: dict[str, str] = {}
    for name in names:
        found, reason = run_script(name, args.quick, args.timeout)
        rows += found
        if reason is not None:
            not_run[name] = reason
    packages = ", ".join(f"{k} {v}" for k, v in where["packages"].items())
    print(f"\nmachine: {where['cpu']}, {where['cores']} cores, {where['ram_gib']} GiB RAM, "
          f"Python {where['python']}, {where['system']}; {packages}")  # fmt: skip
    print(f"load average (1/5/15 min): {started_load} at the start, {load_average()} at the end\n")
    print(table(rows, not_run))
    if args.json:
        args.json.write_text(json.dumps({"machine": where, "rows": rows, "not_run": not_run}, indent=1))


if __name__ == "__main__":
    main()
