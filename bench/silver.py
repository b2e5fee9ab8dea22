"""Silver benchmark (P3): what `lakectl promote silver` costs for +10k new bronze rows, at two sizes.

    python bench/silver.py [--rows 1000000] [--large 10000000] [--new 10000] [--repeat 3]
                           [--summary-json PATH] [--small]

Two lakes are built the real way: Hotmart-style CSV exports ingested by lakectl and promoted (the
large one in steps of --step rows, so no single promotion has to hold it all). Then, alternated
and --repeat times: +--new rows arrive in each lake (half new sales, half status changes of recent
sales: refunds and approvals concern recent orders) and `lakectl promote silver` runs as its own
process; and a full rebuild (`--full`) of the small lake. Medians; wall time and peak RSS from
wait4(). Targets (issue 16): the increment costs <= 10% of the full rebuild at --rows, and within
1.5x at --large of what it costs at --rows. --small runs a tiny version (a smoke test).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
from pathlib import Path

from measure import measure, summary_row, write_summary

HEADER = ("Código da transação;Status da transação;Data da transação;Produto;Valor de compra com impostos;"
          "Moeda de compra;Comprador(a);Email do(a) Comprador(a);Telefone;Documento\n")  # fmt: skip
STATUSES = ["Aprovado", "Aprovado", "Aprovado", "Aguardando pagamento", "Reembolsado", "Cancelado"]
PER_FILE = 10_000


def write_export(path: Path, start: int, rows: int, rng: random.Random) -> None:
    lines = []
    for n in range(start, start + rows):
        customer = rng.randint(1, 200_000)
        day, minute = rng.randint(1, 28), rng.randint(0, 59)
        value = f"{rng.randint(10, 2000)},{rng.randint(0, 99):02d}"
        lines.append(f"HP{n:09d};{rng.choice(STATUSES)};{day:02d}/10/2026 10:{minute:02d}:00;Produto {n % 40};{value};BRL;"
                     f"Cliente {customer};c{customer}@example.com;(11) 9{customer:08d};{customer:011d}\n")  # fmt: skip
    path.write_text(HEADER + "".join(lines), encoding="utf-8")


def run(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    result = measure([sys.executable, "-m", "lakectl", *args], env, ok_codes=(0, 4))
    if not result.ok:
        raise SystemExit(f"lakectl {' '.join(args)} failed: {result.error}")
    return result.wall_s, result.peak_rss_mib


class BenchLake:
    """A landing zone and lake with ``size`` sales promoted to silver."""

    def __init__(self, root: Path, size: int, step: int, rng: random.Random) -> None:
        self.landing, self.rng, self.size, self.batches = root / "landing_zone", rng, 0, 0
        self.env = {**os.environ, "LAKECTL_LANDING_ZONE": str(self.landing),
                    "LAKECTL_LAKE_ROOT": str(root / "delta_lake"), "LAKECTL_SILVER__CUSTOMER_SALT": "bench"}  # fmt: skip
        while self.size < size:
            rows = min(step, size - self.size)
            folder = self.folder()
            for start in range(self.size, self.size + rows, PER_FILE):
                write_export(
                    folder / f"hotmart_{start:09d}.csv", start, min(PER_FILE, self.size + rows - start), rng
                )
            run(["ingest", str(folder)], self.env)
            self.size += rows
            run(["promote", "silver", "--cluster", "diabetes"], self.env)

    def folder(self) -> Path:
        self.batches += 1
        folder = self.landing / "diabetes" / f"batch_{self.batches:04d}"
        folder.mkdir(parents=True)
        return folder

    def arrive(self, new: int) -> None:
        """``new`` rows in bronze: half new sales, half status changes of the latest 5% of sales."""
        folder = self.folder()
        write_export(folder / "new_sales.csv", self.size, new // 2, self.rng)
        recent = self.size - max(new, self.size // 20)
        write_export(
            folder / "status_changes.csv", self.rng.randint(recent, self.size - new // 2), new // 2, self.rng
        )
        run(["ingest", str(folder)], self.env)
        self.size += new // 2

    def promote(self, full: bool = False) -> tuple[float, float]:
        return run(["promote", "silver", "--cluster", "diabetes", *(["--full"] if full else [])], self.env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--large", type=int, default=10_000_000)
    parser.add_argument("--new", type=int, default=10_000)
    parser.add_argument("--step", type=int, default=1_000_000, help="rows per promotion while building")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--summary-json", type=Path)
    parser.add_argument("--small", action="store_true", help="tiny sizes, one round: a smoke test")
    args = parser.parse_args()
    if args.small:
        args.rows, args.large, args.new, args.step, args.repeat = 20_000, 60_000, 2_000, 20_000, 1
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    rng = random.Random(11)
    with tempfile.TemporaryDirectory(prefix="lakectl-silver-bench-") as tmp:
        small = BenchLake(Path(tmp) / "small", args.rows, args.step, rng)
        large = BenchLake(Path(tmp) / "large", args.large, args.step, rng)
        print(f"built: {small.size:,} and {large.size:,} sales in silver")
        times: dict[str, list[float]] = {"full": [], "small": [], "large": []}
        peaks: dict[str, list[float]] = {"full": [], "small": [], "large": []}
        for _ in range(args.repeat):  # alternated, so that load changes hit every variant alike
            for name, lake in (("small", small), ("large", large)):
                lake.arrive(args.new)
                wall, peak = lake.promote()
                times[name].append(wall)
                peaks[name].append(peak)
            wall, peak = small.promote(full=True)
            times["full"].append(wall)
            peaks["full"].append(peak)
        full, inc_small, inc_large = (statistics.median(times[k]) for k in ("full", "small", "large"))
        share, growth = inc_small / full, inc_large / inc_small
        cases = {"full": f"full rebuild, {args.rows:,} rows", "small": f"+{args.new:,} rows into {args.rows:,}",
                 "large": f"+{args.new:,} rows into {args.large:,}"}  # fmt: skip
        rows = [
            summary_row("P3", cases["full"], "lakectl promote silver --full", full, "s"),
            summary_row(
                "P3", cases["small"], "lakectl promote silver", inc_small, "s", full, "≤ 10%", share <= 0.1
            ),
            summary_row(
                "P3",
                cases["large"],
                "lakectl promote silver",
                inc_large,
                "s",
                inc_small,
                "≤ 1.5×",
                growth <= 1.5,
            ),
            *[summary_row("P3", cases[name], "peak RSS", max(peaks[name]), "MiB") for name in cases],
        ]
        for name, case in cases.items():
            print(f"{case}: median {statistics.median(times[name]):.2f} s (runs {', '.join(f'{t:.2f}' for t in times[name])}), "
                  f"peak RSS {max(peaks[name]):.0f} MiB")  # fmt: skip
        print(f"the increment costs {share:.1%} of the full rebuild (target <= 10%), and {growth:.2f}x at "
              f"{args.large:,} what it costs at {args.rows:,} (target <= 1.5x); load average now {os.getloadavg()[0]:.1f}")  # fmt: skip
        write_summary(args.summary_json, rows)


if __name__ == "__main__":
    main()
