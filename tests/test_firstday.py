"""First-day defects (issue 10): what a new user hits on a fresh lake, each pinned by a test."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from rich.console import Console
from typer.testing import CliRunner

from lakectl.cli import app, render
from lakectl.config import load_settings
from lakectl.errors import ConfigError
from lakectl.lake import Lake, ledger
from lakectl.models import IngestResult
from lakectl.promote import Promotion

from .tools import require_tool

cli = CliRunner()
HOTMART = (
    "Código da transação;Status da transação;Data da transação;Valor de compra com impostos\n"
    "HP1;Aprovado;01/10/2026 10:00:00;97,00\nHP2;Pendente;02/10/2026 11:00:00;47,00\n"
)


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "LAKECTL_LAKE_ROOT": str(tmp_path / "lake"),
        "LAKECTL_LANDING_ZONE": str(tmp_path / "lz"),
        "LAKECTL_READER__ISOLATE": "false",
        "LAKECTL_SILVER__CUSTOMER_SALT": "t",
        **extra,
    }


def drop(
    tmp_path: Path, cluster: str = "diabetes", name: str = "v.csv", text: str = "id;valor\n1;10\n2;20\n"
) -> Path:
    folder = tmp_path / "lz" / cluster
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder / name


# ------------------------------------------------------------------ 1. an empty silver


def test_promote_all_on_an_empty_lake_gives_empty_gold_tables(tmp_path):
    result = cli.invoke(app, ["promote", "all", "--json"], env=env_for(tmp_path))
    assert result.exit_code == 0, result.output
    gold = json.loads(result.stdout)["gold"]
    assert gold["status"] == "promoted" and gold["tables"]["customers"] == 0
    customers = pl.read_delta(Lake(str(tmp_path / "lake")).gold("customers").uri)
    assert customers.height == 0 and customers.schema["cluster_count"] == pl.Int64


def test_promote_all_when_every_file_has_an_unknown_layout(tmp_path):
    drop(tmp_path)  # columns no profile knows: silver gets no sales
    env = env_for(tmp_path)
    assert cli.invoke(app, ["ingest", str(tmp_path / "lz")], env=env).exit_code == 0
    result = cli.invoke(app, ["promote", "all", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["gold"]["tables"]["daily_sales"] == 0
    assert Lake(str(tmp_path / "lake")).gold("daily_sales").exists()


# ------------------------------------------------------------------ 4. a read-only lake


def lakectl(
    tmp_path: Path, *args: str, as_reader: bool = False, **extra: str
) -> subprocess.CompletedProcess[str]:
    """The real command in a process; ``as_reader``: without the right to write what it does not own."""
    prefix: list[str] = []
    if as_reader and os.geteuid() == 0:  # root ignores file modes unless it gives up DAC override
        caps = "-dac_override,-dac_read_search,-fowner"
        prefix = [require_tool("setpriv", "to run as root without write access"), "--bounding-set", caps,
                  "--inh-caps", caps, "--"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKECTL_")} | env_for(tmp_path, **extra)
    return subprocess.run([*prefix, sys.executable, "-m", "lakectl", *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=180)  # fmt: skip


@pytest.fixture(scope="module")
def read_only_lake(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("read_only")
    drop(tmp_path, name="h.csv", text=HOTMART)
    assert lakectl(tmp_path, "ingest", str(tmp_path / "lz")).returncode == 0
    assert lakectl(tmp_path, "promote", "all").returncode == 0
    for path in [tmp_path / "lake", *(tmp_path / "lake").rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)
    yield tmp_path
    for path in [tmp_path / "lake", *(tmp_path / "lake").rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)


@pytest.mark.parametrize(
    "args",
    [
        ["promote", "all"],
        ["promote", "gold", "--full"],
        ["maintain"],
        ["restore", "bronze/diabetes", "--version", "0"],
        ["backup", "BACKUP"],
    ],
    ids=lambda args: " ".join(args[:2]),
)
def test_a_read_only_lake_exits_6_naming_the_path_and_the_fix(read_only_lake, args):
    args = [str(read_only_lake / "backup") if a == "BACKUP" else a for a in args]
    result = lakectl(read_only_lake, *args, as_reader=True)
    assert result.returncode == 6, result.stderr
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr and len(lines) == 2, result.stderr
    assert lines[0].startswith("Error: permission denied") and str(read_only_lake / "lake") in lines[0]
    assert "write access to the lake" in lines[1]


# ------------------------------------------------------------------ 11. errors and --debug


def test_debug_after_a_subcommand_re_raises_a_lakectl_error(tmp_path):
    plain = lakectl(tmp_path, "promote", "silver", "--cluster", "nope")
    assert plain.returncode == 3 and "Traceback" not in plain.stderr
    assert plain.stderr.startswith("Error: unknown cluster 'nope'")
    debug = lakectl(tmp_path, "promote", "silver", "--cluster", "nope", "--debug")
    assert debug.returncode == 1 and "ConfigError" in debug.stderr and "Traceback" in debug.stderr


def test_an_os_error_from_deltalake_is_one_clean_line(tmp_path):
    (tmp_path / "lake" / "bronze").mkdir(parents=True)
    (tmp_path / "lake" / "bronze" / "diabetes").write_text("a file where a table folder belongs")
    result = lakectl(tmp_path, "promote", "silver", "-C", "diabetes")
    assert result.returncode == 6, result.stderr
    assert result.stderr.startswith("Error: ") and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Not a directory" in result.stderr and "\x1b[" not in result.stderr and "↳" not in result.stderr


def test_an_unexpected_error_is_two_lines_without_debug(tmp_path):
    log = tmp_path / "lake" / "bronze" / "diabetes" / "_delta_log"
    log.mkdir(parents=True)
    (log / "00000000000000000000.json").write_text("{not json")
    result = lakectl(tmp_path, "promote", "silver", "-C", "diabetes")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("Error: unexpected") and "--debug" in lines[1]
    assert "Traceback" in lakectl(tmp_path, "--debug", "promote", "silver", "-C", "diabetes").stderr


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('lake_roo = "x"\n', "lake_roo: no such setting (did you mean lake_root?)"),
        ("[reader]\nmax_cell = 3\n", "reader.max_cell: no such setting (did you mean max_cells?)"),
    ],
)
def test_an_unknown_settings_key_suggests_the_close_one(tmp_path, toml, expected):
    config = tmp_path / "lakectl.toml"
    config.write_text(toml)
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert expected in caught.value.message and str(config) in caught.value.message


def test_an_unknown_nested_key_from_the_environment_is_refused(monkeypatch):
    monkeypatch.setenv("LAKECTL_WATCH__PROMOT", "true")
    with pytest.raises(ConfigError, match=r"watch.promot: no such setting \(did you mean promote\?\)"):
        load_settings()


def test_a_toml_syntax_error_names_the_file(tmp_path):
    config = tmp_path / "lakectl.toml"
    config.write_text('clusters = ["diabetes",\nlake_root = \n')
    result = lakectl(tmp_path, "--config", str(config), "promote", "silver")
    assert result.returncode == 3, result.stderr
    assert result.stderr.startswith(f"Error: {config} is not valid TOML") and "line" in result.stderr


def test_a_misspelled_cluster_folder_suggests_the_close_one(tmp_path):
    path = drop(tmp_path, cluster="diabets")
    result = cli.invoke(app, ["ingest", str(path)], env=env_for(tmp_path))
    assert result.exit_code == 3
    assert "diabets is not a configured cluster (did you mean diabetes?)" in result.output
    flag = cli.invoke(app, ["ingest", str(path), "--cluster", "diabets"], env=env_for(tmp_path))
    assert flag.exit_code == 3 and "unknown cluster 'diabets' (did you mean diabetes?)" in flag.output


def test_restore_to_a_version_that_does_not_exist_names_the_range(tmp_path):
    env = env_for(tmp_path)
    for name in ("a.csv", "b.csv"):
        drop(tmp_path, name=name, text=f"id;valor\n{name};1\n")
        assert cli.invoke(app, ["ingest", str(tmp_path / "lz" / "diabetes" / name)], env=env).exit_code == 0
    result = cli.invoke(app, ["restore", "bronze/diabetes", "--version", "99"], env=env)
    assert result.exit_code == 3
    assert "table bronze/diabetes has versions 0–1; there is no version 99" in result.output


# ------------------------------------------------------------------ 5. report -o


def test_report_out_to_a_folder_says_give_a_file_name(tmp_path):
    result = cli.invoke(app, ["report", "-f", "html", "-o", str(tmp_path)], env=env_for(tmp_path))
    text = " ".join(result.output.replace("│", " ").split())  # the usage box wraps long lines
    assert result.exit_code == 2 and f"{tmp_path} is a folder: give a file name" in text
    assert "Traceback" not in result.output


def test_report_out_to_an_unwritable_folder_exits_6(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    result = lakectl(tmp_path, "report", "-f", "json", "-o", str(locked / "r.json"), as_reader=True)
    assert result.returncode == 6, result.stderr
    assert result.stderr.startswith(f"Error: permission denied: cannot write {locked / 'r.json'}")
    assert f"write access to {locked}" in result.stderr and "Traceback" not in result.stderr


# ------------------------------------------------------------------ 6. maintain with nothing to do


def versions(lake: Path) -> dict[str, int]:
    return {table.name: table.version() for table in Lake(str(lake)).tables()}


def test_a_second_maintain_with_nothing_to_do_changes_no_version(tmp_path):
    env = env_for(tmp_path)
    drop(tmp_path, name="h.csv", text=HOTMART)
    assert cli.invoke(app, ["ingest", str(tmp_path / "lz")], env=env).exit_code == 0
    assert cli.invoke(app, ["promote", "all"], env=env).exit_code == 0
    assert cli.invoke(app, ["maintain"], env=env).exit_code == 0
    before = versions(tmp_path / "lake")
    assert cli.invoke(app, ["maintain"], env=env).exit_code == 0
    assert versions(tmp_path / "lake") == before


# ------------------------------------------------------------------ 12. terminal tables


@pytest.mark.parametrize("width", [80, 100])
def test_terminal_tables_keep_identifiers_whole(width):
    names = [
        "clickbank_sugar_defender_2026-10.csv",
        "relatorio_upload_incompleto.xlsx",
        "kiwify_vendas_2026-10.xlsx",
    ]
    clusters = ["rejuvenescimento", "emagrecimento", "relacionamento"]
    results = [
        IngestResult(file=n, path=f"lz/{c}/{n}", cluster=c, status=s, rows=1234, bronze_version=12,
                     reason="a long explanation of what went wrong " * 3 if s == "rejected" else None)
        for n, c, s in zip(names, clusters, ["ingested", "rejected", "skipped"], strict=True)
    ]  # fmt: skip
    promotions = [Promotion(c, "up_to_date", 9, 120, 1_234, 56, report={"rows_in": 12_345, "rejected": {"x": 3},
                  "unknown_layouts": [{"files": names, "columns": ["a"] * 9, "suggested_mapping": {}}]})
                  for c in clusters]  # fmt: skip
    console = Console(width=width, file=io.StringIO(), no_color=True)
    render.ingest_table(console, results, dry_run=False)
    render.promotion_table(console, promotions)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    for word in [*names, *clusters, "ingested", "rejected", "skipped", "up_to_date", "v10..v120", "12,345"]:
        assert any(word in line for line in lines), f"{word!r} is broken across lines:\n{text}"


# ------------------------------------------------------------------ 9. forget, and restore agreeing


def bronze_rows(tmp_path: Path, cluster: str) -> dict[str, int]:
    table = Lake(str(tmp_path / "lake")).bronze(cluster)
    if not table.exists():
        return {}
    return dict(pl.read_delta(table.uri).group_by("_source_file").len().iter_rows())


def ingest(tmp_path: Path, *args: str) -> dict:
    result = cli.invoke(app, ["ingest", *args, "--json"], env=env_for(tmp_path))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["files"][0]


def test_forget_moves_a_file_ingested_into_the_wrong_cluster(tmp_path):
    wrong = drop(tmp_path, name="h.csv", text=HOTMART)
    assert ingest(tmp_path, str(wrong))["status"] == "ingested"
    assert ingest(tmp_path, str(wrong), "--cluster", "emagrecimento")["status"] == "skipped"  # the defect
    result = cli.invoke(app, ["forget", str(wrong)], env=env_for(tmp_path))
    assert result.exit_code == 0, result.output
    assert "forgot h.csv in diabetes: 2 row(s) out of bronze" in result.stdout
    assert bronze_rows(tmp_path, "diabetes") == {}
    assert ingest(tmp_path, str(wrong), "--cluster", "emagrecimento")["status"] == "ingested"
    assert list(bronze_rows(tmp_path, "emagrecimento").values()) == [2]
    assert ledger.ingests(Lake(str(tmp_path / "lake")))["cluster"].to_list() == ["emagrecimento"]


def test_after_forget_the_same_cluster_takes_the_file_again_once(tmp_path):
    other = drop(tmp_path, name="earlier.csv", text="id;valor\nL1;1\n")
    assert ingest(tmp_path, str(other))["status"] == "ingested"
    path = drop(tmp_path, name="h.csv", text=HOTMART)
    sha = ingest(tmp_path, str(path))["sha256"]
    assert cli.invoke(app, ["forget", sha], env=env_for(tmp_path)).exit_code == 0
    # a crash-repair pass must not bring the forgotten file back from its old commit's metadata
    assert ledger.reconcile(Lake(str(tmp_path / "lake")), ["diabetes"]) == 0
    again = ingest(tmp_path, str(path))
    assert again["status"] == "ingested" and again["rows"] == 2
    assert bronze_rows(tmp_path, "diabetes") == {"h.csv": 2, "earlier.csv": 1}


def test_forget_of_a_file_the_lake_does_not_hold_exits_3(tmp_path):
    result = cli.invoke(app, ["forget", "nothing.csv"], env=env_for(tmp_path))
    assert result.exit_code == 3 and "lakectl log --file nothing.csv" in result.output


def test_restore_before_a_files_commit_lets_the_next_ingest_take_it(tmp_path):
    first = drop(tmp_path, name="a.csv", text="id;valor\nA1;1\n")
    second = drop(tmp_path, name="b.csv", text="id;valor\nB1;1\nB2;2\n")
    ingest(tmp_path, str(first))
    ingest(tmp_path, str(second))
    result = cli.invoke(app, ["restore", "bronze/diabetes", "--version", "0"], env=env_for(tmp_path))
    assert result.exit_code == 0, result.output
    assert "b.csv" in result.stdout and bronze_rows(tmp_path, "diabetes") == {"a.csv": 1}
    assert sorted(ledger.ingests(Lake(str(tmp_path / "lake")))["file_name"].to_list()) == ["a.csv"]
    assert ingest(tmp_path, str(second))["status"] == "ingested"
    assert ingest(tmp_path, str(first))["status"] == "skipped"
    assert bronze_rows(tmp_path, "diabetes") == {"a.csv": 1, "b.csv": 2}
