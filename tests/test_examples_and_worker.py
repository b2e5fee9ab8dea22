from __future__ import annotations

from collections import Counter

import polars as pl

from lakectl.config import load_settings
from lakectl.service import runner

from .conftest import load_examples_module, write_far_cell_xlsx


def test_example_inventory_and_ingest(tmp_path, settings):
    module = load_examples_module()
    sales = module.generate(settings.landing_zone)
    files = [p for p in settings.landing_zone.rglob("*") if p.is_file()]
    assert Counter(p.parent.name for p in files) == {
        "diabetes": 3,
        "emagrecimento": 4,
        "rejuvenescimento": 4,
        "relacionamento": 1,
        "renda_extra": 10,
    }
    again = tmp_path / "again"
    module.generate(again)
    assert all((again / p.relative_to(settings.landing_zone)).read_bytes() == p.read_bytes() for p in files)
    jobs = runner.plan([settings.landing_zone], None, settings)
    results = runner.ingest_paths(jobs, settings)
    statuses = Counter(r.status for r in results)
    assert statuses == {"ingested": 21, "rejected": 1}
    braip = next(r for r in results if r.file.startswith("braip"))
    assert braip.sheets[0].header_row == 4 and any("Total" in d for d in braip.sheets[0].dropped)
    bronze = pl.read_delta(str(settings.lake_root / "bronze" / "diabetes"))
    hotmart = bronze.filter(pl.col("_source_file") == "hotmart_vendas_2026-09.csv")
    assert hotmart.height == 40 and hotmart["valor_de_compra_com_impostos"].str.contains(",").all()
    assert len(sales) > 700


def far_cell_then_a_good_file(tmp_path, **reader):
    """Ingest a far-cell workbook and a good CSV through the capped child (runner, isolated)."""
    settings = load_settings(
        landing_zone=tmp_path / "lz", lake_root=tmp_path / "lake", reader={"isolate": True, **reader}
    )
    folder = tmp_path / "lz" / "diabetes"
    folder.mkdir(parents=True)
    write_far_cell_xlsx(folder / "a_far.xlsx")
    (folder / "b_ok.csv").write_text("id,valor\n1,2\n")
    results = runner.ingest_paths(runner.plan([folder], None, settings), settings)
    assert [r.status for r in results] == ["rejected", "ingested"]
    return results


def test_a_file_that_starves_the_parser_past_the_preflight_is_not_blamed_and_the_run_goes_on(tmp_path):
    """With the full check let through, the far cell makes the parser fail a native allocation in a
    fresh process too: a shortage under the cap, not a verdict on the bytes. The failure is
    transient (tried again, never remembered), names the cap and its setting, and the run goes on."""
    results = far_cell_then_a_good_file(tmp_path, max_cells=10**18)  # the full check lets it through
    first = results[0]
    assert first.transient and first.error_class == "OutOfResources", first
    assert "a_far.xlsx" in first.reason and "6,144 MiB (reader.memory_limit_mb)" in first.reason, first.reason
    assert "memory allocation of" in first.reason and "512.0 GiB at once" in (first.hint or ""), first
    assert not list((tmp_path / "lake" / "_lakectl").rglob("rejected/*.json")), (
        "remembered as the file's fault"
    )
    log = pl.read_delta(str(tmp_path / "lake" / "_lakectl" / "ingest_log"))
    assert sorted(log["status"].to_list()) == ["ingested", "rejected"]


def test_a_far_cell_that_kills_the_optimistic_child_is_rejected_with_its_cause(tmp_path):
    """The child reads without the range scan; when the far cell kills it, the fresh child's full
    preflight names the cause, and the run goes on."""
    results = far_cell_then_a_good_file(tmp_path)
    assert "spans 1,048,576 rows x 16,384 columns" in (results[0].reason or "")
    assert results[0].error_class == "SourceError"


def test_the_in_process_path_writes_the_same_bronze_as_the_isolated_one(settings, inproc_settings):
    """reader.isolate = false (no child process) is an option, not another reader: same rows, same
    values, same lineage, same outcomes."""
    load_examples_module().generate(settings.landing_zone)
    folder = settings.landing_zone / "renda_extra"
    outcomes = []
    for chosen in (settings, inproc_settings):
        results = runner.ingest_paths(runner.plan([folder], None, chosen), chosen)
        outcomes.append(sorted((r.file, r.status, r.rows, r.reason) for r in results))
    assert settings.reader.isolate and not inproc_settings.reader.isolate
    assert outcomes[0] == outcomes[1] and any(o[1] == "rejected" for o in outcomes[0])
    volatile = ["_ingested_at", "_ingest_id"]
    frames = [
        pl.read_delta(str(s.lake_root / "bronze" / "renda_extra"))
        .drop(volatile)
        .sort("_source_file", "_sheet", "_row")
        for s in (settings, inproc_settings)
    ]
    assert frames[0].height > 0 and frames[0].equals(frames[1])
