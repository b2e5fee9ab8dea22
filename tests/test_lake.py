"""The door to the lake: locations, the public API, the protocol of every table, the module homes."""

from __future__ import annotations

import ast
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from deltalake import DeltaTable

import lakectl
from lakectl.config import load_settings
from lakectl.errors import ConfigError
from lakectl.lake import Lake, key_ranges

from .conftest import ROOT, load_examples_module

SRC = ROOT / "src" / "lakectl"
LAKE = "lake/__init__.py"
CLI = {p.relative_to(SRC).as_posix() for p in (SRC / "cli").glob("*.py")}
# the modules (relative to src/lakectl) allowed to import each heavy dependency
HOMES = {
    "deltalake": {LAKE},
    "obstore": {LAKE},
    "fastexcel": {"read/sheets.py"},
    "watchfiles": {"service/watch.py"},
    "rich": CLI,
    "typer": CLI,
}
DELTA_CALLS = {"scan_delta", "read_delta", "write_delta", "write_deltalake", "DeltaTable"}


def lake_settings(tmp_path: Path, **extra):
    return load_settings(landing_zone=tmp_path / "landing_zone", lake_root=tmp_path / "lake", reader={"isolate": False},
                         silver={"customer_salt": "t", "salt_file": tmp_path / "salt"}, **extra)  # fmt: skip


def test_heavy_dependencies_are_imported_only_in_their_homes():
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        module = path.relative_to(SRC).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top in HOMES and module not in HOMES[top]:
                    wrong.append(f"{module} imports {name}")
            if isinstance(node, ast.Attribute | ast.Name) and module != LAKE:
                called = node.attr if isinstance(node, ast.Attribute) else node.id
                if called in DELTA_CALLS:
                    wrong.append(f"{module} uses {called}")
            if isinstance(node, ast.Constant) and node.value == "_delta_log" and module != LAKE:
                wrong.append(f"{module} builds a Delta path")
    assert wrong == []


def test_every_table_has_one_location_and_bad_names_are_refused(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    assert lake.bronze("diabetes").uri == f"{tmp_path}/lake/bronze/diabetes"
    assert lake.silver("diabetes").name == "silver/diabetes"
    assert lake.rejects().name == "silver/_rejects"
    assert lake.gold("customers").name == "gold/customers"
    assert lake.ingest_log().name == "_lakectl/ingest_log"
    assert lake.runs().name == "_lakectl/runs"
    for bad in ("../../etc", "bronze/../../x", "other/t", "bronze/a/b", "bronze/"):
        with pytest.raises(ConfigError, match="no table"):
            lake.table(bad)
    s3 = Lake("s3://bucket/prefix/", {"AWS_SECRET_ACCESS_KEY": "s3cr3t-value"})
    assert s3.bronze("diabetes").uri == "s3://bucket/prefix/bronze/diabetes" and not s3.is_local
    assert "s3cr3t" not in repr(s3)
    with pytest.raises(ConfigError, match="scheme"):
        Lake("ftp://host/lake")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("api")
    settings = lake_settings(tmp_path)
    load_examples_module().generate(settings.landing_zone)
    odd = settings.landing_zone / "diabetes" / "odd.csv"  # an unparseable amount: a row in silver/_rejects
    odd.write_text("Código da transação;Valor;Data\nZ1;dez reais;01/02/2026 10:00\n", encoding="utf-8")
    results = lakectl.ingest([settings.landing_zone], settings=settings)
    promoted = lakectl.promote("all", settings=settings)
    return settings, results, promoted


def test_the_public_api_runs_the_whole_flow(built):
    settings, results, promoted = built
    ingested = [r for r in results if r.status == "ingested"]
    assert ingested and all(r.bronze_version is not None for r in ingested)
    assert {p["cluster"] for p in promoted["silver"]} == set(settings.clusters)
    assert promoted["gold"]["status"] == "promoted"
    figures = lakectl.report(settings=settings)
    assert figures["gold_built"] and figures["health"]["files"]["ingested"] == len(ingested)
    lake = lakectl.Lake.from_settings(settings)
    rows = sum(r.rows for r in ingested)
    assert sum(lake.bronze(c).scan().select(pl.len()).collect().item() for c in settings.clusters if lake.bronze(c).exists()) == rows  # fmt: skip
    with pytest.raises(TypeError):
        lakectl.promote("silver", settings, None)  # type: ignore[misc]  # options are keyword-only
    assert issubclass(lakectl.StorageError, lakectl.LakectlError) and lakectl.ConfigError.exit_code == 3


def test_reading_as_arrow_polars_and_a_dataset_agree(built):
    settings, _, _ = built
    silver = Lake.from_settings(settings).silver("diabetes")
    arrow = silver.read_arrow()
    assert arrow is not None
    dataset = silver.dataset()
    assert dataset is not None
    assert arrow.num_rows == silver.scan().select(pl.len()).collect().item() == dataset.count_rows() > 0
    assert silver.read_arrow(["transaction_id"]).column_names == ["transaction_id"]


def test_every_table_lakectl_writes_stays_at_the_lowest_protocol(built):
    """Reader 1 / writer 2 and no table features: what Spark, Databricks, DuckDB, Trino and polars
    all open. A feature (deletion vectors, timestampNtz, column mapping) must be a decision."""
    settings, _, _ = built
    lakectl.promote("silver", settings=settings, full=True)  # a rebuild deletes rejects: still no DV
    from lakectl.lake.maintenance import maintain

    maintain(settings)
    tables = Lake.from_settings(settings).tables()
    names = {t.name for t in tables}
    assert {"bronze/diabetes", "silver/diabetes", "silver/_rejects", "gold/daily_sales",
            "_lakectl/ingest_log", "_lakectl/runs"} <= names  # fmt: skip
    for table in tables:
        proto = table.protocol()
        assert (proto["min_reader_version"], proto["min_writer_version"]) == (1, 2), table.name
        assert proto["reader_features"] == proto["writer_features"] == [], table.name
        independent = DeltaTable(table.uri).protocol()  # as another reader sees it
        assert (independent.min_reader_version, independent.min_writer_version) == (1, 2)


def test_key_ranges_cover_every_source_key_and_cut_where_a_file_begins():
    source = pa.table({"platform": ["hotmart", "hotmart", "hotmart", "kiwify", None],
                       "transaction_id": ["A1", "A2", "C7", "O'B", "Z"]})  # fmt: skip
    predicate = key_ranges(source, "platform", "transaction_id", ["A0", "B0", "D0"])
    assert predicate == (
        "(t.platform = 'hotmart' AND t.transaction_id >= 'A1' AND t.transaction_id <= 'A2') OR "
        "(t.platform = 'hotmart' AND t.transaction_id >= 'C7' AND t.transaction_id <= 'C7') OR "
        "(t.platform = 'kiwify' AND t.transaction_id >= 'O''B' AND t.transaction_id <= 'O''B')"
    )
    assert (
        key_ranges(
            pa.table({"platform": ["p"], "transaction_id": ["a\\b"]}), "platform", "transaction_id", []
        )
        is None
    )


def test_a_merge_pruned_by_key_ranges_equals_an_unpruned_one(tmp_path):
    """Keys spread over several sorted files, a quote in one: the pruned merge updates and inserts
    exactly what the plain merge does."""
    rows = pl.DataFrame({"platform": ["hotmart"] * 3000, "transaction_id": [f"T{n:05d}'x" for n in range(3000)],
                         "status": ["approved"] * 3000})  # fmt: skip
    source = pl.DataFrame({"platform": ["hotmart"] * 4, "transaction_id": ["T00007'x", "T00500'x", "T02500'x", "T09999'x"],
                           "status": ["refunded"] * 4}).to_arrow()  # fmt: skip
    clauses: list = [("update_all", None, "true"), ("insert_all", None, "true")]
    results = []
    for name, key in (("plain", None), ("pruned", ("platform", "transaction_id"))):
        table = Lake(str(tmp_path)).table(f"silver/{name}")
        for start in range(0, 3000, 1000):  # three files, each a key range
            table.append_once(rows.slice(start, 1000).to_arrow(), [], {})
        table.merge(
            source, "t.platform = s.platform AND t.transaction_id = s.transaction_id", clauses, {}, key=key
        )
        results.append(table.read().sort("transaction_id"))
    assert results[0].equals(results[1])
    assert results[1].height == 3001 and results[1]["status"].value_counts().sort("status").rows() == [
        ("approved", 2997), ("refunded", 4)]  # fmt: skip
