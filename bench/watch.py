"""Watch-service benchmark: drop-to-commit latency and a burst of many small files.

    python bench/watch.py [--singles 20] [--burst 500] [--window 2.0] [--summary-json PATH] [--quick]

Runs a real `lakectl watch` on a temporary landing zone with the default settings (stability
window 2 s). Latency is measured from the moment a file is complete in the landing zone to the
moment it appears in the archive, which happens right after its bronze commit and ledger row.
Targets (issue): p95 <= window + 1 s; 500 files in <= 10 Delta commits.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from measure import load_average, summary_row, write_summary


def lakectl_command() -> list[str]:
    return [sys.executable, "-m", "lakectl"]


def csv_text(name: str, rows: int = 20) -> str:
    return "Código da transação;Valor\n" + "".join(f"{name}-{i};{i},90\n" for i in range(rows))


def archived(landing: Path) -> set[str]:
    return (
        {p.name for p in (landing / "_archive").rglob("*.csv")} if (landing / "_archive").exists() else set()
    )


def peak_rss_mib(pid: int) -> float:
    """Peak RSS of a process and its children (the parser worker), from /proc."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for each in pids:
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--singles", type=int, default=20)
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--window", type=float, default=2.0)
    parser.add_argument("--summary-json", help="write the figures as JSON rows (bench/run.py)")
    parser.add_argument("--quick", action="store_true", help="a few files, a short window: a smoke test")
    args = parser.parse_args()
    if args.quick:
        args.singles, args.burst, args.window = 3, 20, 0.5
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load {load_average()}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="lakectl-watch-bench-") as tmp:
        landing, lake = Path(tmp) / "landing_zone", Path(tmp) / "delta_lake"
        env = {
            **os.environ,
            "LAKECTL_LANDING_ZONE": str(landing),
            "LAKECTL_LAKE_ROOT": str(lake),
            "LAKECTL_WATCH__STABILITY_WINDOW_S": str(args.window),
        }
        service = subprocess.Popen([*lakectl_command(), "watch", "--log-format", "json"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            if not wait_until((lake / "_lakectl" / "heartbeat.json").exists, 60):
                raise SystemExit("the service did not start")
            folder = landing / "diabetes"
            # Single files, one at a time: latency from complete file to archived (= committed).
            latencies = []
            for i in range(args.singles):
                name = f"single_{i:03d}.csv"
                (folder / name).write_text(csv_text(name))
                dropped = time.monotonic()
                if not wait_until(lambda n=name: n in archived(landing), 60):
                    raise SystemExit(f"{name} was not ingested")
                latencies.append(time.monotonic() - dropped)
            p95 = statistics.quantiles(latencies, n=20)[18] if len(latencies) > 1 else latencies[0]
            print(f"\nsingle files ({args.singles}, window {args.window:g} s): "
                  f"p50 {statistics.median(latencies):.2f} s, p95 {p95:.2f} s "
                  f"(target <= {args.window + 1:.1f} s), max {max(latencies):.2f} s")  # fmt: skip
            # A burst: many small files at once, as a sync tool drops them.
            from deltalake import DeltaTable

            before = len(DeltaTable(str(lake / "bronze" / "diabetes")).history())
            names = [f"burst_{i:04d}.csv" for i in range(args.burst)]
            started = time.monotonic()
            for name in names:
                (folder / name).write_text(csv_text(name))
            if not wait_until(lambda: archived(landing) >= set(names), 600):
                raise SystemExit("the burst was not ingested")
            elapsed = time.monotonic() - started
            history = DeltaTable(str(lake / "bronze" / "diabetes")).history()
            commits = sum(1 for h in history[: len(history) - before] if h["operation"] == "WRITE")
            peak = peak_rss_mib(service.pid)
            print(f"burst of {args.burst} files: all archived in {elapsed:.1f} s, {commits} bronze commits "
                  f"(target <= 10), peak RSS {peak:.0f} MiB (service + parser)")  # fmt: skip
            singles = f"{args.singles} single files, window {args.window:g} s"
            burst = f"{args.burst} small files at once"
            write_summary(args.summary_json, [
                summary_row("watch", singles, "drop-to-commit p50", statistics.median(latencies), "s"),
                summary_row("watch", singles, "drop-to-commit p95", p95, "s", max_value=args.window + 1),
                summary_row("watch", burst, "all archived", elapsed, "s"),
                summary_row("watch", burst, "bronze commits", commits, "commits", max_value=10),
                summary_row("watch", burst, "peak RSS, service + parser", peak, "MiB"),
            ])  # fmt: skip
        finally:
            service.terminate()
            service.wait(timeout=30)


if __name__ == "__main__":
    main()
