"""Hostile and broken inputs through both doors: `lakectl ingest` and a running `lakectl watch`.

One table of scenarios; each builds real bytes (or a link, a FIFO, a mode) in a landing zone that
also holds good files. Every door gets the whole zone at once, run by a user without the right to
read what it does not own (as root: without CAP_DAC_OVERRIDE), with a marker in its environment.
Each scenario then has its own verdict to meet: rejected with a reason naming the file, ingested
with its exact rows, or left in place (links and FIFOs, never followed or read). Over the whole
run: nothing lost or doubled, no secret from outside the zone in any table, the service alive
and no process of the run left behind.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from lakectl.pipeline import printable

from . import hostile
from .conftest import write_far_cell_xlsx
from .hostile import left_alive, wait_until, write_xlsx

CLUSTER = "diabetes"
SECRET = f"SEGREDO-{uuid.uuid4().hex}"  # what lies outside the zone; it must never reach a table
DTD_OR_ENTITY = (
    "declares a DTD|unrecognized entity"  # refused by the preflight or by calamine, never expanded
)


def text(tag: str, rows: int = 5) -> str:
    return "id;valor\n" + "".join(f"{tag}-{i};{i},50\n" for i in range(rows))


@dataclass(frozen=True)
class Case:
    """One hostile input: ``build(folder, outside)`` puts it in the cluster folder and returns its name."""

    id: str
    build: Callable[[Path, Path], str]
    expect: str  # "rejected", "ingested" or "left" (in place, with a warning, never read)
    reason: str = ""  # for "rejected": a regular expression the reason must match
    rows: int = 0  # for "ingested"
    xfail: str = ""


def write(name: str, data: bytes | str, mtime: float | None = None) -> Callable[[Path, Path], str]:
    def build(folder: Path, outside: Path) -> str:
        path = folder / name
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        if mtime is not None:
            os.utime(path, (mtime, mtime))
        return name

    return build


def workbook(name: str, make: Callable[[Path], object]) -> Callable[[Path, Path], str]:
    def build(folder: Path, outside: Path) -> str:
        make(folder / name)
        return name

    return build


def xxe(name: str, part: str) -> Callable[[Path, Path], str]:
    def build(folder: Path, outside: Path) -> str:
        hostile.write_xxe_xlsx(folder / name, outside / "segredo.txt", part)
        return name

    return build


def sheet_named(name: str, sheet: str) -> Callable[[Path, Path], str]:
    return workbook(name, lambda path: hostile.rename_sheet(write_xlsx(path, rows=4), sheet))


def link(name: str, target: Callable[[Path, Path], Path | str]) -> Callable[[Path, Path], str]:
    """A symbolic link; a target inside the zone is relative, so it stays true when the zone moves."""

    def build(folder: Path, outside: Path) -> str:
        (folder / name).symlink_to(target(folder, outside))
        return name

    return build


def fifo(name: str) -> Callable[[Path, Path], str]:
    def build(folder: Path, outside: Path) -> str:
        os.mkfifo(folder / name)
        return name

    return build


def loop_folder(folder: Path, outside: Path) -> str:
    (folder / "sub").mkdir()
    (folder / "sub" / "volta").symlink_to("..")
    return "sub/volta"


def unreadable(folder: Path, outside: Path) -> str:
    (folder / "trancado.csv").write_text(text("trancado"))
    (folder / "trancado.csv").chmod(0)
    return "trancado.csv"


def not_utf8(folder: Path, outside: Path) -> str:
    name = os.fsdecode(b"vendas_\xff\xfe.csv")
    (folder / name).write_text(text("bytes"))
    return name


UTF16 = text("utf16").encode
CASES = [
    Case("zip bomb", workbook("bomba.xlsx", hostile.write_zip_bomb_xlsx), "rejected", "zip bomb"),
    Case("far cell", workbook("longe.xlsx", write_far_cell_xlsx), "rejected", r"spans 1,048,576 rows x 16,384"),
    Case("lying zip headers", workbook("mentira.xlsx", lambda p: hostile.lie_about_size(write_xlsx(p))),
         "rejected", "local header of part"),
    Case("XXE in a sheet", xxe("xxe_folha.xlsx", hostile.SHEET), "rejected", "declares a DTD"),
    Case("XXE in shared strings", xxe("xxe_textos.xlsx", "xl/sharedStrings.xml"), "rejected", DTD_OR_ENTITY),
    Case("billion laughs", workbook("risadas.xlsx", hostile.write_billion_laughs_xlsx), "rejected", DTD_OR_ENTITY),
    Case("encrypted xlsx", workbook("cifrado.xlsx", hostile.write_encrypted_xlsx), "rejected",
         "encrypted or password-protected"),
    Case("BIFF4 xls", workbook("excel4.xls", hostile.write_biff4_xls), "rejected", r"Excel 2\.x-4\.0"),
    Case("UTF-16 LE without BOM", write("utf16le.csv", UTF16("utf-16-le")), "ingested", rows=5),
    Case("UTF-16 BE without BOM", write("utf16be.csv", UTF16("utf-16-be")), "ingested", rows=5),
    Case("NUL bytes in cells", write("nul.csv", b"id;valor\nA\x00;1\nB;2\x00\n"), "ingested", rows=2),
    Case("only NUL bytes", write("zeros.csv", b"\x00" * 8192), "rejected", "holds no data"),
    Case("9,000 columns", write("largo.csv", ",".join(f"c{i}" for i in range(9000)) + "\n"
                                + ",".join(f"v{i}" for i in range(9000)) + "\n"), "ingested", rows=1),
    Case("random bytes as .xlsx", write("aleatorio.xlsx", hostile.random_bytes(seed=1)), "rejected",
         "neither a zip nor an OLE"),
    Case("PDF as .xlsx", write("documento.xlsx", hostile.PDF + b"%xlsx"), "rejected", "neither a zip nor an OLE"),
    Case("random bytes as .csv", write("aleatorio.csv", hostile.random_bytes(seed=2)), "rejected",
         "not delimited|not a text"),
    Case("PDF as .csv", write("documento.csv", hostile.PDF), "rejected", "not delimited|not a text"),
    Case("name with ..\\ (Windows traversal)", write("..\\..\\etc\\passwd.csv", text("win")), "ingested", rows=5),
    Case("name with a newline", write("nova\nlinha.csv", text("nl")), "ingested", rows=5),
    Case("name with a leading dash", write("-rf.csv", text("dash")), "ingested", rows=5),
    Case("name that looks like an option", write("--help.csv", text("opt")), "ingested", rows=5),
    Case("name of 254 bytes in 127 characters", write("ç" * 125 + ".csv", text("longo")), "ingested", rows=5),
    Case("Latin name", write("vendas.csv", text("latin")), "ingested", rows=5),
    Case("Cyrillic look-alike name", write("vendаs.csv", text("cyril")), "ingested", rows=5),
    Case("NFC name", write("relatório.csv", text("nfc")), "ingested", rows=5),
    Case("NFD look-alike name", write("relato\u0301rio.csv", text("nfd")), "ingested", rows=5),
    Case("right-to-left override in the name", write("fatura\u202evsc.xlsx.csv", text("rtl")), "ingested", rows=5),
    Case("name that is not UTF-8", not_utf8, "rejected", "not valid UTF-8"),
    Case("sheet named ../../etc/passwd", sheet_named("folha_rel.xlsx", "../../etc/passwd"), "ingested", rows=4),
    Case("sheet named /etc/shadow", sheet_named("folha_abs.xlsx", "/etc/shadow"), "ingested", rows=4),
    Case("sheet name with a newline", sheet_named("folha_nl.xlsx", "linha\nnova"), "ingested", rows=4),
    Case("sheet name of 300 characters", sheet_named("folha_300.xlsx", "s" * 300), "ingested", rows=4),
    Case("sheet name with a NUL byte", sheet_named("folha_nul.xlsx", "nu\x00lo"), "rejected", "XML is broken"),
    Case("symlink to a file outside", link("link_fora.csv", lambda f, o: o / "fora.csv"), "left"),
    Case("symlink to a folder outside", link("pasta_fora", lambda f, o: o / "pasta"), "left"),
    Case("symlink to itself", link("laco.csv", lambda f, o: "laco.csv"), "left"),
    Case("symlink loop to the cluster folder", loop_folder, "left"),
    Case("FIFO named x.csv", fifo("cano.csv"), "left"),
    Case("mode 000", unreadable, "rejected", "Permission denied"),
    Case("mtime a year ahead", write("futuro.csv", text("futuro"), time.time() + 366 * 86400), "ingested", rows=5),
    Case("mtime 1970", write("antigo.csv", text("antigo"), 0.0), "ingested", rows=5),
    Case("a good neighbour", write("vizinho.csv", text("vizinho")), "ingested", rows=5),
]  # fmt: skip


PARAMS = [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=c.xfail)] if c.xfail else [])
          for c in CASES]  # fmt: skip


def build_zone(root: Path) -> tuple[Path, dict[str, Case]]:
    """Every case in one cluster folder under ``root``; things outside the zone hold the secret."""
    outside = root / "fora_da_zona"
    (outside / "pasta").mkdir(parents=True)
    (outside / "segredo.txt").write_text(SECRET)
    (outside / "fora.csv").write_text(f"id;valor\n{SECRET};1\n")
    (outside / "pasta" / "dentro.csv").write_text(f"id;valor\n{SECRET};2\n")
    folder = root / "staging" / CLUSTER
    folder.mkdir(parents=True)
    return folder, {case.build(folder, outside): case for case in CASES}


def unprivileged() -> list[str]:
    """A command prefix that takes away root's right to read and write what it does not own."""
    if os.geteuid() != 0:
        return []
    from .tools import require_tool

    caps = "-dac_override,-dac_read_search,-fowner"
    return [require_tool("setpriv", "to run as root without file rights"), "--bounding-set", caps,
            "--inh-caps", caps, "--"]  # fmt: skip


def door_env(root: Path, marker: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKECTL_")}
    env.update(LAKECTL_LANDING_ZONE=str(root / "lz"), LAKECTL_LAKE_ROOT=str(root / "lake"),
               LAKECTL_WATCH__STABILITY_WINDOW_S="0.5", LAKECTL_WATCH__RECONCILE_INTERVAL_S="2",
               LAKECTL_WATCH__MAX_ATTEMPTS="2", LAKECTL_TEST_TAG=marker, COLUMNS="400", **extra)  # fmt: skip
    return env


@dataclass
class Run:
    """What one door did with the whole zone."""

    root: Path
    cases: dict[str, Case]
    results: dict[str, dict]  # ingest: printable file name -> its JSON result
    log: str  # everything the door printed on stderr
    survivors: list[int]


@pytest.fixture(scope="module")
def ingest_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("ingest_door")
    staging, cases = build_zone(root)
    zone = root / "lz"
    staging.parent.rename(zone)
    marker = uuid.uuid4().hex
    done = subprocess.run([*unprivileged(), sys.executable, "-m", "lakectl", "ingest", str(zone), "--json"],
                          env=door_env(root, marker), capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 4, done.stderr  # some files rejected, the run itself fine
    results = {f["file"].rsplit("/", 1)[-1]: f for f in json.loads(done.stdout)["files"]}
    return Run(root, cases, results, done.stderr, left_alive(marker))


@pytest.fixture(scope="module")
def watch_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A running watcher; the files are moved in whole while it watches (rename keeps links links)."""
    root = tmp_path_factory.mktemp("watch_door")
    staging, cases = build_zone(root)
    folder = root / "lz" / CLUSTER
    folder.mkdir(parents=True)
    marker = uuid.uuid4().hex
    log_path = root / "watch.log"
    heartbeat = root / "lake" / "_lakectl" / "heartbeat.json"
    with log_path.open("w") as log:
        service = subprocess.Popen([*unprivileged(), sys.executable, "-m", "lakectl", "watch", "--log-format", "json"],
                                   env=door_env(root, marker), stdout=log, stderr=log)  # fmt: skip
    try:
        wait_until(heartbeat.exists, 120, "the watcher to start", service)
        for entry in sorted(staging.iterdir()):
            entry.rename(folder / entry.name)
        expected = {n for n, c in cases.items() if c.expect != "left"}
        names = {printable(n.split("/")[-1]) for n in expected}
        wait_until(lambda: outcomes(log_path.read_text()).keys() >= names, 300, "every file settled", service)
        wait_until(lambda: all(warned(log_path.read_text(), n) for n, c in cases.items() if c.expect == "left"),
                 60, "a warning for every link and FIFO", service)  # fmt: skip
        assert service.poll() is None, "the watcher died"
    finally:
        service.send_signal(signal.SIGTERM)
        code = service.wait(timeout=60)
    assert code == 0, log_path.read_text()[-3000:]
    return Run(root, cases, {}, log_path.read_text(), left_alive(marker))


def outcomes(log: str) -> dict[str, dict]:
    """The watcher's final word on each file (JSON log lines with a status, not a retry), by printable name."""
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{") and '"status"' in line]
    final = [line for line in lines if line.get("file") and not line.get("action", "").startswith("retry")]
    return {line["file"].rsplit("/", 1)[-1]: line for line in final}


def warned(log: str, name: str) -> bool:
    """Whether the log has a 'left in place' warning naming the file (folded lines joined)."""
    shown = printable(name.split("/")[-1])
    lines = log.splitlines() if log.lstrip().startswith("{") else [" ".join(log.split())]
    return any(re.search(re.escape(shown) + r"\S*:? .{0,90}left in place", line) for line in lines)


def every_table_cell(lake: Path) -> str:
    """All text of every Delta table under the lake, and of every file the run wrote as a record."""
    parts = []
    for log_dir in lake.rglob("_delta_log"):
        frame = pl.read_delta(str(log_dir.parent))
        parts.append(frame.select(pl.all().cast(pl.String)).write_csv())
    return "\n".join(parts)


def bronze_rows(root: Path) -> Counter[str]:
    frame = pl.read_delta(str(root / "lake" / "bronze" / CLUSTER))
    return Counter({printable(k): v for k, v in frame.group_by("_source_file").len().iter_rows()})


def check_case(case: Case, verdict: str, reason: str, rows: int | None) -> None:
    assert verdict == case.expect, reason
    if case.expect == "rejected":
        assert re.search(case.reason, reason), reason
    if case.expect == "ingested":
        assert rows == case.rows


@pytest.mark.parametrize("case", PARAMS)
def test_through_ingest(ingest_run: Run, case: Case) -> None:
    name = next(n for n, c in ingest_run.cases.items() if c is case)
    shown = printable(name.split("/")[-1])
    path = ingest_run.root / "lz" / CLUSTER / name
    result = ingest_run.results.get(shown)
    if result is None:
        verdict = "left" if warned(ingest_run.log, name) and os.path.lexists(path) else "missing"
        check_case(case, verdict, ingest_run.log[-2000:], None)
        return
    check_case(case, result["status"], result.get("reason") or "", result.get("rows"))
    if case.expect == "rejected":
        assert result["reason"].startswith(shown) and result["hint"], result
    if case.expect == "ingested":
        assert bronze_rows(ingest_run.root)[shown] == case.rows


@pytest.mark.parametrize("case", PARAMS)
def test_through_watch(watch_run: Run, case: Case) -> None:
    name = next(n for n, c in watch_run.cases.items() if c is case)
    shown = printable(name.split("/")[-1])
    line = outcomes(watch_run.log).get(shown)
    if line is None:
        left = os.path.lexists(watch_run.root / "lz" / CLUSTER / name) and warned(watch_run.log, name)
        check_case(case, "left" if left else "missing", watch_run.log[-2000:], None)
        return
    rows = bronze_rows(watch_run.root)[shown] if line["status"] == "ingested" else None
    check_case(case, line["status"], line.get("reason") or "", rows)
    target = Path(line["action"].split(" to ", 1)[1])
    assert target.exists() and not (watch_run.root / "lz" / CLUSTER / name).exists(), line
    if case.expect == "rejected":  # the quarantine's record says why, next to the file
        record = json.loads(target.with_name(target.name + ".error.json").read_text(encoding="utf-8"))
        assert record["reason"].startswith(shown) and record["hint"], record


@pytest.mark.parametrize("door", ["ingest_run", "watch_run"])
def test_nothing_lost_nothing_doubled_no_secret_no_survivor(
    door: str, request: pytest.FixtureRequest
) -> None:
    run: Run = request.getfixturevalue(door)
    assert run.survivors == [], "a process of the run outlived it"
    rows = bronze_rows(run.root)
    expected = {printable(n): c.rows for n, c in run.cases.items() if c.expect == "ingested"}
    assert {k: v for k, v in rows.items() if k in expected} == expected, "rows lost or doubled"
    assert SECRET not in every_table_cell(run.root / "lake"), "a secret from outside the zone reached a table"
    records = "".join(p.read_text(errors="replace") for p in run.root.rglob("*.error.json"))
    assert SECRET not in records
    outside = run.root / "fora_da_zona"
    assert (outside / "fora.csv").exists() and (outside / "pasta" / "dentro.csv").exists(), (
        "moved out of place"
    )
    assert not any(part == "etc" for p in run.root.rglob("*") for part in p.relative_to(run.root).parts)
    assert "Traceback" not in run.log and "panicked" not in run.log, run.log[-3000:]
    ledger = pl.read_delta(str(run.root / "lake" / "_lakectl" / "ingest_log"))
    ingested = ledger.filter(pl.col("status") == "ingested")
    assert ingested["rows"].sum() == sum(rows.values()), "bronze rows differ from the ledger's"
    assert ingested["sha256"].n_unique() == ingested.height, "a file ingested twice"


@pytest.mark.chaos
def test_a_workbook_of_1048575_rows_ingests_with_its_time_and_memory_recorded(tmp_path):
    """Excel's last row but one: the preflight must not mistake it for a far cell. Wall time and the
    process tree's peak RSS (command + parser child) go to the README."""
    from bench.measure import measure

    folder = tmp_path / "lz" / CLUSTER
    folder.mkdir(parents=True)
    path = write_xlsx(folder / "um_milhao.xlsx", rows=1_048_574)  # plus the header: 1,048,575 rows
    marker = uuid.uuid4().hex
    env = door_env(tmp_path, marker, LAKECTL_READER__MEMORY_LIMIT_MB="4096")
    taken = measure([sys.executable, "-m", "lakectl", "ingest", str(path)], env=env)
    assert taken.ok, taken.error
    print(f"\n1,048,575-row xlsx ({path.stat().st_size / 2**20:.1f} MiB): {taken.wall_s:.1f} s, "
          f"tree peak RSS {taken.peak_rss_mib:.0f} MiB")  # fmt: skip
    assert bronze_rows(tmp_path)["um_milhao.xlsx"] == 1_048_574
    assert left_alive(marker) == []
