"""Silver benchmark: a full promotion of ~1M bronze rows, then an incremental one after +1%.

    python bench/silver.py [--rows 1000000]

Bronze is built the real way: Hotmart-style CSV exports (10,000 rows each) ingested by lakectl.
Each promotion runs as its own `lakectl promote silver` process; wall time and peak RSS from wait4().
Target (issue): the incremental promotion costs <= 10% of the full one.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
from pathlib import Path

from measure import measure

HEADER = ("Código da transação;Status da transação;Data da transação;Produto;Valor de compra com impostos;"
          "Moeda de compra;Comprador(a);Email do(a) Comprador(a);Telefone;Documento\n")  # fmt: skip
STATUSES = ["Aprovado", "Aprovado", "Aprovado", "Aguardando pagamento", "Reembolsado", "Cancelado"]


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    rng = random.Random(11)
    per_file = 10_000
    with tempfile.TemporaryDirectory(prefix="lakectl-silver-bench-") as tmp:
        landing, lake = Path(tmp) / "landing_zone", Path(tmp) / "delta_lake"
        folder = landing / "diabetes"
        folder.mkdir(parents=True)
        env = {**os.environ, "LAKECTL_LANDING_ZONE": str(landing), "LAKECTL_LAKE_ROOT": str(lake),
               "LAKECTL_SILVER__CUSTOMER_SALT": "bench"}  # fmt: skip
        files = args.rows // per_file
        for i in range(files):
            write_export(folder / f"hotmart_{i:04d}.csv", i * per_file, per_file, rng)
        ingest_s, _ = run(["ingest", str(folder)], env)
        print(f"bronze: {files * per_file:,} rows in {files} files, ingested in {ingest_s:.1f} s")
        full_s, full_rss = run(["promote", "silver", "--cluster", "diabetes", "--full"], env)
        print(f"full promotion:        {full_s:6.2f} s, peak RSS {full_rss:.0f} MiB")
        # +1%: new sales plus status changes of existing ones
        extra = folder / "more"
        extra.mkdir()
        write_export(extra / "hotmart_new.csv", files * per_file, per_file // 2, rng)
        write_export(extra / "hotmart_changes.csv", 0, per_file // 2, rng)
        run(["ingest", str(extra)], env)
        incremental_s, inc_rss = run(["promote", "silver", "--cluster", "diabetes"], env)
        print(f"incremental (+1%):     {incremental_s:6.2f} s, peak RSS {inc_rss:.0f} MiB "
              f"= {incremental_s / full_s:.0%} of the full promotion (target <= 10%)")  # fmt: skip


if __name__ == "__main__":
    main()
