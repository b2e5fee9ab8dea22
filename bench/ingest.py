"""Ingest benchmark: lakectl vs the floor, pandas+openpyxl and dlt, side by side in one run.

    python bench/ingest.py [--rows 200000] [--streaming] [--dlt-python PATH]

Each variant runs in its own process on a fresh lake; wall time and peak RSS come from wait4().
pandas/openpyxl and dlt are benchmark-only: a variant whose library is missing is reported as such.
dlt pins its own deltalake/pyarrow, so give it its own venv: --dlt-python /path/to/venv/bin/python.
--streaming also shows CSV peak memory at ~200 MB vs ~2 GB (slow: it writes 2 GB of CSV).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from measure import measure

HEADER = [
    "id",
    "codigo",
    "produto",
    "cliente",
    "email",
    "cidade",
    "estado",
    "metodo",
    "valor",
    "taxa",
    "liquido",
    "comissao",
    "criado_em",
    "aprovado_em",
    "ativo",
]

FLOOR_XLSX = """
import sys, fastexcel
from deltalake import write_deltalake
write_deltalake(sys.argv[2], fastexcel.read_excel(sys.argv[1]).load_sheet(0).to_arrow(), mode="append")
"""
FLOOR_CSV = """
import sys, polars as pl
from deltalake import write_deltalake
write_deltalake(sys.argv[2], pl.read_csv(sys.argv[1], infer_schema=False).to_arrow(), mode="append")
"""
PANDAS_XLSX = """
import sys, pandas as pd
from deltalake import write_deltalake
write_deltalake(sys.argv[2], pd.read_excel(sys.argv[1], engine="openpyxl"), mode="append")
"""
DLT_XLSX = """
import sys, dlt
from dlt.sources.filesystem import filesystem
import pandas as pd
from pathlib import Path
@dlt.transformer(standalone=True)
def read_excel(items):
    for item in items:
        with item.open() as f:
            yield pd.read_excel(f)
src = filesystem(bucket_url=str(Path(sys.argv[1]).parent), file_glob=Path(sys.argv[1]).name) | read_excel()
p = dlt.pipeline("bench", destination=dlt.destinations.filesystem(sys.argv[2]), dataset_name="b",
                 pipelines_dir=sys.argv[2] + "_state")
p.run(src.with_name("sales"), table_format="delta")
"""
DLT_CSV = """
import sys, dlt
from dlt.sources.filesystem import filesystem, read_csv
from pathlib import Path
src = filesystem(bucket_url=str(Path(sys.argv[1]).parent), file_glob=Path(sys.argv[1]).name) | read_csv()
p = dlt.pipeline("bench", destination=dlt.destinations.filesystem(sys.argv[2]), dataset_name="b",
                 pipelines_dir=sys.argv[2] + "_state")
p.run(src.with_name("sales"), table_format="delta")
"""


def make_data(folder: Path, rows: int) -> tuple[Path, Path]:
    import xlsxwriter

    rng = random.Random(7)
    xlsx, csv_path = folder / "vendas.xlsx", folder / "vendas.csv"
    book = xlsxwriter.Workbook(str(xlsx), {"constant_memory": True})
    sheet = book.add_worksheet("Vendas")
    date_format = book.add_format({"num_format": "dd/mm/yyyy hh:mm"})
    sheet.write_row(0, 0, HEADER)
    start = dt.datetime(2026, 1, 1)
    with csv_path.open("w", encoding="utf-8") as out:
        out.write(",".join(HEADER) + "\n")
        for r in range(1, rows + 1):
            values = [
                r,
                f"HP{r:08d}",
                f"Produto {rng.randint(1, 50)}",
                f"Cliente {rng.randint(1, 99999)}",
                f"c{rng.randint(1, 99999)}@example.com",
                rng.choice(["Recife", "São Paulo", "Curitiba"]),
                rng.choice(["PE", "SP", "PR"]),
                rng.choice(["pix", "boleto", "cartao"]),
                round(rng.uniform(10, 2000), 2),
                round(rng.uniform(0, 50), 2),
                round(rng.uniform(5, 1800), 2),
                round(rng.uniform(0, 500), 2),
            ]
            created = start + dt.timedelta(minutes=r)
            approved = created + dt.timedelta(minutes=rng.randint(1, 600))
            for c, v in enumerate(values):
                sheet.write(r, c, v)
            sheet.write_datetime(r, 12, created, date_format)
            sheet.write_datetime(r, 13, approved, date_format)
            sheet.write_boolean(r, 14, r % 3 != 0)
            out.write(
                ",".join(map(str, values))
                + f",{created:%Y-%m-%d %H:%M},{approved:%Y-%m-%d %H:%M},{r % 3 != 0}\n"
            )
    book.close()
    return xlsx, csv_path


def lakectl_command() -> str:
    beside = Path(sys.executable).parent / "lakectl"  # the lakectl of the running environment
    return str(beside) if beside.exists() else (shutil.which("lakectl") or "lakectl")


def has(python: str, *modules: str) -> bool:
    code = "; ".join(f"import {m}" for m in modules)
    return subprocess.run([python, "-c", code], capture_output=True).returncode == 0


def script(python: str, code: str, source: Path, lake: Path, *needs: str) -> list[str] | None:
    """A variant's command, or None when its libraries are not installed for ``python``."""
    return [python, "-c", code, str(source), str(lake)] if has(python, *needs) else None


Variant = tuple[str, list[str] | None, dict[str, str]]


def variants(source: Path, kind: str, work: Path, dlt_python: str) -> list[Variant]:
    env = {"LAKECTL_LAKE_ROOT": str(work / f"lake_lakectl_{kind}"), "LAKECTL_LANDING_ZONE": str(work)}
    xlsx = kind == "xlsx"
    out: list[Variant] = [
        ("lakectl ingest", [lakectl_command(), "ingest", str(source), "--cluster", "diabetes"], env),
        ("floor (reader -> write_deltalake)",
         script(sys.executable, FLOOR_XLSX if xlsx else FLOOR_CSV, source, work / f"lake_floor_{kind}"), {}),
    ]  # fmt: skip
    if xlsx:
        out.append(("pandas + openpyxl", script(sys.executable, PANDAS_XLSX, source, work / "lake_pd",
                                                "pandas", "openpyxl"), {}))  # fmt: skip
    dlt_code = DLT_XLSX if xlsx else DLT_CSV
    out.append(
        (
            "dlt (filesystem -> delta)",
            script(dlt_python, dlt_code, source, work / f"lake_dlt_{kind}", "dlt"),
            {},
        )
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--streaming", action="store_true")
    parser.add_argument("--dlt-python", default=sys.executable, help="a python with dlt installed")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"
    )
    with tempfile.TemporaryDirectory(prefix="lakectl-bench-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        xlsx, csv_path = make_data(work, args.rows)
        print(
            f"data: {args.rows:,} rows x 15 columns; xlsx {xlsx.stat().st_size / 2**20:.1f} MiB, "
            f"csv {csv_path.stat().st_size / 2**20:.1f} MiB (generated in {time.perf_counter() - started:.0f} s)"
        )
        for kind, source in (("xlsx", xlsx), ("csv", csv_path)):
            print(f"\n{kind}: variant | wall s | peak RSS MiB | vs lakectl")
            base = None
            for name, cmd, env in variants(source, kind, work, args.dlt_python):
                if cmd is None:
                    print(f"  {name:36} | not installed")
                    continue
                result = measure(cmd, env)
                if not result.ok:
                    print(f"  {name:36} | failed: {result.error[:120]}")
                    continue
                base = base or result.wall_s
                print(
                    f"  {name:36} | {result.wall_s:6.2f} | {result.peak_rss_mib:8.0f} | {result.wall_s / base:5.2f}x"
                )
        if args.streaming:
            streaming(work)


def streaming(work: Path) -> None:
    """Peak RSS of lakectl's CSV ingest at two file sizes: it must not grow with the file."""
    line = "123456,HP00123456,Produto 12,Cliente 4567,c4567@example.com,Recife,PE,pix,123.45,1.5,110.2,12.3,2026-01-01 10:00,2026-01-01 11:00,True\n"
    print("\ncsv streaming: size | wall s | peak RSS MiB")
    for megabytes in (200, 2000):
        path = work / f"big_{megabytes}.csv"
        with path.open("w") as out:
            out.write(",".join(HEADER) + "\n")
            block = line * 10_000
            for _ in range(megabytes * 2**20 // len(block)):
                out.write(block)
        lakectl = lakectl_command()
        result = measure(
            [lakectl, "ingest", str(path), "--cluster", "diabetes"],
            {"LAKECTL_LAKE_ROOT": str(work / f"lake_stream_{megabytes}")},
        )
        print(f"  {megabytes:5} MB | {result.wall_s:6.1f} | {result.peak_rss_mib:8.0f} {result.error}")
        path.unlink()


if __name__ == "__main__":
    main()
