"""Ingest benchmark (P1, P2): lakectl vs the floor, pandas+openpyxl and dlt, side by side in one run.

    python bench/ingest.py [--rows 300000] [--repeat 3] [--stream-mb 200,2000] [--dlt-python PATH]
                           [--before SRC] [--summary-json PATH] [--quick]

Each run is its own process on a fresh lake; variants alternate (A B C A B C ...) and the medians
are reported, with the machine's load. Wall time comes from wait4(), peak RSS is the whole process
tree's (measure.py). The floor is what any ingest must do: fastexcel's all-text read (or polars'
all-text CSV read) handed to ``write_deltalake``, in a fresh interpreter, with no checks.
pandas/openpyxl and dlt are benchmark-only: a variant whose library is missing is reported as such;
dlt pins its own deltalake/pyarrow, so give it its own venv: --dlt-python /path/to/venv/bin/python.
--before SRC also runs the lakectl of another source tree (its ``src`` folder), to show a change.
--stream-mb shows CSV peak memory at two file sizes (P2: flat in the size).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from itertools import count
from pathlib import Path

from measure import Measurement, alternated, load_average, measure, median_of, summary_row, write_summary

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
sheet = fastexcel.read_excel(sys.argv[1]).load_sheet(0, dtypes="string")
write_deltalake(sys.argv[2], sheet.to_arrow(), mode="append")
"""
FLOOR_XLSX_TYPED = """
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
LAKECTL = "lakectl ingest"
FLOOR = "floor (reader -> write_deltalake)"


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
    return subprocess.run([python, "-c", code], capture_output=True, timeout=120).returncode == 0


Run = tuple[list[str], dict[str, str], str]  # command, environment, the folder its lake goes to


class Variants:
    """The commands of one input, each writing to a lake of its own per run."""

    def __init__(self, source: Path, work: Path, dlt_python: str, before: Path | None, full: bool) -> None:
        self.source, self.work, self.dlt_python, self.before, self.full = (
            source,
            work,
            dlt_python,
            before,
            full,
        )
        self.numbers = count()

    def lake(self, name: str) -> str:
        return str(self.work / f"lake_{name}_{next(self.numbers)}")

    def lakectl(self, python_path: Path | None = None) -> Measurement:
        env = {"LAKECTL_LAKE_ROOT": self.lake("lakectl"), "LAKECTL_LANDING_ZONE": str(self.work)}
        cmd = [lakectl_command(), "ingest", str(self.source), "--cluster", "diabetes"]
        if python_path is not None:  # another source tree, same interpreter and libraries
            env["PYTHONPATH"] = str(python_path)
            cmd = [sys.executable, "-m", "lakectl", *cmd[1:]]
        return measure(cmd, env)

    def script(self, code: str, python: str | None = None) -> Measurement:
        return measure([python or sys.executable, "-c", code, str(self.source), self.lake("script")])

    def runs(self, kind: str) -> dict[str, Callable[[], Measurement] | None]:
        xlsx = kind == "xlsx"
        runs: dict[str, Callable[[], Measurement] | None] = {LAKECTL: self.lakectl}
        if self.before is not None:
            runs["lakectl ingest (before)"] = lambda: self.lakectl(self.before)
        runs[FLOOR] = lambda: self.script(FLOOR_XLSX if xlsx else FLOOR_CSV)
        if xlsx:
            runs["floor, typed read (no text)"] = lambda: self.script(FLOOR_XLSX_TYPED)
        if not self.full:
            return runs
        if xlsx:
            runs["pandas + openpyxl"] = (
                (lambda: self.script(PANDAS_XLSX)) if has(sys.executable, "pandas", "openpyxl") else None
            )
        dlt_code = DLT_XLSX if xlsx else DLT_CSV
        runs["dlt (filesystem -> delta)"] = (
            (lambda: self.script(dlt_code, self.dlt_python)) if has(self.dlt_python, "dlt") else None
        )
        return runs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each variant, alternated")
    parser.add_argument("--stream-mb", default="200,2000", help="two CSV sizes for P2 ('' skips it)")
    parser.add_argument("--dlt-python", default=sys.executable, help="a python with dlt installed")
    parser.add_argument("--before", type=Path, help="a lakectl source tree (src/) to compare with")
    parser.add_argument("--summary-json", help="write the figures as JSON rows (bench/run.py)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one run: a smoke test")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.repeat, args.stream_mb = 2_000, 1, "1,4"
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="lakectl-bench-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        xlsx, csv_path = make_data(work, args.rows)
        print(f"data: {args.rows:,} rows x 15 columns; xlsx {xlsx.stat().st_size / 2**20:.1f} MiB, "
              f"csv {csv_path.stat().st_size / 2**20:.1f} MiB (generated in {time.perf_counter() - started:.0f} s)")  # fmt: skip
        for kind, source in (("xlsx", xlsx), ("csv", csv_path)):
            variants = Variants(source, work, args.dlt_python, args.before, full=not args.quick)
            runs = variants.runs(kind)
            missing = [name for name, run in runs.items() if run is None]
            print(f"\n{kind}, {args.repeat} alternated runs (load before: {load_average()})")
            results = alternated({n: r for n, r in runs.items() if r is not None}, args.repeat)
            medians = {name: median_of(ms) for name, ms in results.items()}
            rows += ingest_rows(kind, f"{args.rows:,} x 15 {kind}", medians)
            for name in missing:
                print(f"  {name:36} | not installed")
            print(f"  (load after: {load_average()})")
        if args.stream_mb:
            rows += streaming(work, [int(mb) for mb in args.stream_mb.split(",")])
    write_summary(args.summary_json, rows)


def ingest_rows(kind: str, case: str, medians: dict[str, Measurement]) -> list[dict]:
    """P1 (wall time vs the floor) and P2 (peak RSS vs the floor's) for one input, printed too."""
    floor = medians.get(FLOOR)
    rows = []
    print(f"  {'variant':36} | wall s | peak RSS MiB | vs floor")
    for name, result in medians.items():
        if not result.ok:
            print(f"  {name:36} | failed: {result.error[:120]}")
            continue
        base = floor.wall_s if floor and floor.ok else None
        ratio = f"{result.wall_s / base:5.2f}x" if base else "—"
        print(f"  {name:36} | {result.wall_s:6.2f} | {result.peak_rss_mib:12.0f} | {ratio}")
        target = 1.2 if kind == "xlsx" else 1.3
        rows.append(
            summary_row(
                "P1", case, name, result.wall_s, "s", base, max_ratio=target if name == LAKECTL else None
            )
        )
        if name == LAKECTL and floor and floor.ok:
            rows.append(summary_row("P2", case, "peak RSS, " + name, result.peak_rss_mib, "MiB",
                                    floor.peak_rss_mib, max_ratio=1.5 if kind == "xlsx" else None))  # fmt: skip
    return rows


def streaming(work: Path, sizes_mb: list[int]) -> list[dict]:
    """Peak RSS of lakectl's CSV ingest at two file sizes: it must not grow with the file (P2)."""
    line = "123456,HP00123456,Produto 12,Cliente 4567,c4567@example.com,Recife,PE,pix,123.45,1.5,110.2,12.3,2026-01-01 10:00,2026-01-01 11:00,True\n"
    print(f"\ncsv streaming (load before: {load_average()}): size | wall s | peak RSS MiB")
    found = {}
    for megabytes in sizes_mb:
        path = work / f"big_{megabytes}.csv"
        with path.open("w") as out:
            out.write(",".join(HEADER) + "\n")
            block = line * 10_000
            for _ in range(max(1, megabytes * 2**20 // len(block))):
                out.write(block)
        result = measure(
            [lakectl_command(), "ingest", str(path), "--cluster", "diabetes"],
            {"LAKECTL_LAKE_ROOT": str(work / f"lake_stream_{megabytes}"), "LAKECTL_LANDING_ZONE": str(work)},
        )
        print(f"  {megabytes:5} MB | {result.wall_s:6.1f} | {result.peak_rss_mib:8.0f} {result.error}")
        found[megabytes] = result
        path.unlink()
        shutil.rmtree(work / f"lake_stream_{megabytes}", ignore_errors=True)
    small, large = (found[mb] for mb in (min(sizes_mb), max(sizes_mb)))
    if not (small.ok and large.ok):
        return []
    case = f"csv {max(sizes_mb):,} MB vs {min(sizes_mb):,} MB"
    return [
        summary_row(
            "P2",
            case,
            "peak RSS, lakectl ingest",
            large.peak_rss_mib,
            "MiB",
            small.peak_rss_mib,
            max_ratio=1.3,
        )
    ]


if __name__ == "__main__":
    main()
