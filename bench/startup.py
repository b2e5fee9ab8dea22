"""Start-up benchmark (P5): `lakectl --help` and `lakectl health` vs `python -c "import typer"`.

    python bench/startup.py [--repeat 15] [--summary-json PATH] [--quick]

A health check runs every 30 s in Docker, so its start-up is a steady cost. Each command runs in a
fresh interpreter, the three alternated, and the medians are compared (target: within 2x of
importing typer, which every command pays). health runs against a fresh heartbeat, so it exits 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from ingest import lakectl_command
from measure import alternated, load_average, measure, median_of, summary_row, write_summary

TARGET = 2.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15, help="runs of each command, alternated")
    parser.add_argument("--summary-json", help="write the figures as JSON rows (bench/run.py)")
    parser.add_argument("--quick", action="store_true", help="two runs each: a smoke test")
    args = parser.parse_args()
    repeat = 2 if args.quick else args.repeat
    with tempfile.TemporaryDirectory(prefix="lakectl-startup-") as tmp:
        lake = Path(tmp) / "lake"
        beat = lake / "_lakectl" / "heartbeat.json"
        beat.parent.mkdir(parents=True)
        env = {"LAKECTL_LAKE_ROOT": str(lake), "LAKECTL_LANDING_ZONE": tmp}
        lakectl = lakectl_command()

        def health():  # a heartbeat written just before, as a running watcher keeps it
            beat.write_text(json.dumps({"status": "running", "updated_at": time.time()}))
            return measure([lakectl, "health"], env)

        runs = {
            'python -c "import typer"': lambda: measure([sys.executable, "-c", "import typer"]),
            "lakectl --help": lambda: measure([lakectl, "--help"], env),
            "lakectl health": health,
        }
        print(f"start-up, {repeat} alternated runs (load before: {load_average()})")
        medians = {name: median_of(ms) for name, ms in alternated(runs, repeat).items()}
        print(f"  (load after: {load_average()})")
    typer = medians['python -c "import typer"']
    rows = []
    for name, result in medians.items():
        if not result.ok:
            print(f"  {name:28} | failed: {result.error[:120]}")
            continue
        print(f"  {name:28} | {result.wall_s * 1000:6.0f} ms | {result.wall_s / typer.wall_s:5.2f}x typer")
        if name != 'python -c "import typer"':
            rows.append(
                summary_row("P5", "start-up", name, result.wall_s, "s", typer.wall_s, max_ratio=TARGET)
            )
    write_summary(args.summary_json, rows)


if __name__ == "__main__":
    main()
