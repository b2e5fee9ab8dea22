"""``lakectl map``: how lakectl understands a file's (or a cluster's) layouts, as a profile to paste
or save in lakectl.toml, and the decisions of the last promotion for the report."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import polars as pl

from lakectl.config import Settings
from lakectl.errors import ConfigError
from lakectl.lake import Lake
from lakectl.pipeline import read_options
from lakectl.promote import user_profiles
from lakectl.read.sheets import read_file
from lakectl.transform.recognise import understand
from lakectl.transform.silver import explain


def _understood(rows: pl.DataFrame, settings: Settings, cluster: str, schema: str) -> dict[str, Any]:
    layout, profile = understand(rows, user_profiles(settings, cluster))
    record = explain(rows, layout, schema)
    record["locale"] = {
        "decimal_comma": profile.decimal_comma if layout.decimal_comma is None else layout.decimal_comma,
        "day_first": profile.day_first if layout.day_first is None else layout.day_first,
        "currency": layout.unit_currency or profile.currency,
    }
    return record


def map_files(settings: Settings, paths: list[Path], cluster: str = "*") -> list[dict[str, Any]]:
    """Each table of each file, understood as a promotion would (with the cluster's profiles)."""
    found = []
    for path in paths:
        for sheet in read_file(path, read_options(settings)):
            tables = list(sheet.batches())
            frame = pl.concat([pl.DataFrame(t) for t in tables], how="diagonal_relaxed") if tables else None
            if frame is None or not frame.height:
                continue
            rows = frame.select(pl.all().cast(pl.String)).with_columns(
                pl.lit(path.name).alias("_source_file"), pl.lit(sheet.sheet).alias("_sheet")
            )
            record = _understood(rows, settings, cluster, "")
            record["headers"] = dict(zip(sheet.columns, sheet.headers, strict=False))
            found.append(record)
    return found


def map_cluster(settings: Settings, cluster: str) -> list[dict[str, Any]]:
    """The layouts already in a cluster's bronze table."""
    settings.check_cluster(cluster)
    table = Lake.from_settings(settings).bronze(cluster)
    bronze = table.read() if table.exists() else None
    if bronze is None:
        return []
    return [
        _understood(rows, settings, cluster, str(schema))
        for (schema,), rows in bronze.group_by("_schema_id", maintain_order=True)
    ]


def profile_name(record: dict[str, Any]) -> str:
    stem = Path(record["files"][0]).stem if record["files"] else "layout"
    return re.sub(r"[^a-z0-9_]+", "_", stem.lower()).strip("_")[:40] or "layout"


def _toml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def to_toml(record: dict[str, Any], cluster: str = "*", name: str | None = None) -> str:
    """A ``[silver.profiles.<cluster>.<name>]`` table that maps this layout as lakectl understood it."""
    fields = {f: c["column"] for f, c in record["fields"].items()}
    section = f"[silver.profiles.{_toml_string(cluster)}.{name or profile_name(record)}]"
    lines = [section, f"match = [{', '.join(_toml_string(c) for c in sorted(set(fields.values())))}]"]
    if record.get("platform"):
        lines.append(f"platform = {_toml_string(record['platform'])}")
    pairs = ", ".join(f"{f} = {_toml_string(c)}" for f, c in fields.items())
    lines.append(f"columns = {{ {pairs} }}")
    locale = record.get("locale", {})
    for key in ("decimal_comma", "day_first"):
        if key in locale:
            lines.append(f"{key} = {'true' if locale[key] else 'false'}")
    if locale.get("currency"):
        lines.append(f"currency = {_toml_string(locale['currency'])}")
    return "\n".join(lines) + "\n"


def save(config_file: Path, text: str) -> Path:
    """Append profile tables to lakectl.toml (created if missing); a table already there is an error."""
    existing = config_file.read_text(encoding="utf-8") if config_file.exists() else ""
    for header in re.findall(r"^\[silver\.profiles\..+\]$", text, flags=re.MULTILINE):
        if header in existing:
            raise ConfigError(
                f"{config_file} already has {header}",
                hint="edit that table, or remove it and run 'lakectl map --save' again",
            )
    separator = "\n" if existing and not existing.endswith("\n\n") else ""
    config_file.write_text(existing + separator + text, encoding="utf-8")
    return config_file


def last_decisions(settings: Settings, cluster: str | None = None) -> list[dict[str, Any]]:
    """How each layout of each cluster (or one) was understood at its latest promotion: field ->
    column, score, evidence, platform and what stayed unmapped. For the report."""
    table = Lake.from_settings(settings).runs()
    if not table.exists() or "layouts" not in table.columns():
        return []
    runs = table.scan().filter(pl.col("layer") == "silver", pl.col("layouts").is_not_null()).collect()
    if cluster is not None:
        runs = runs.filter(pl.col("cluster") == cluster)
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for name, text in runs.sort("started_at").select("cluster", "layouts").iter_rows():
        for layout in json.loads(text):
            latest[(name, layout["schema_id"])] = {"cluster": name, **layout}
    return list(latest.values())
