"""lakectl: sales spreadsheets → a Delta lakehouse (bronze → silver → gold).

The public API, for scripts and services (the CLI is a thin layer over the same calls)::

    import lakectl

    settings = lakectl.load_settings(lake_root="s3://bucket/lake")
    results = lakectl.ingest(["landing_zone/diabetes"], settings=settings)
    lakectl.promote("all", settings=settings)
    figures = lakectl.report(settings=settings)
    sales = lakectl.Lake.from_settings(settings).silver("diabetes").scan()  # a polars LazyFrame

Options are keyword-only. Every error a user can fix is a ``LakectlError`` (with ``.hint`` and
``.exit_code``). Heavy modules load on first use, so ``import lakectl`` stays cheap.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from lakectl.errors import (
    AlreadyRunning,
    ConfigError,
    LakectlError,
    SchemaContractError,
    SourceError,
    StorageError,
    TransientError,
)

if TYPE_CHECKING:
    from datetime import date

    from lakectl.config import Settings
    from lakectl.lake import Lake
    from lakectl.models import IngestResult

if TYPE_CHECKING:
    __version__: str

__all__ = [
    "AlreadyRunning",
    "ConfigError",
    "Lake",
    "LakectlError",
    "SchemaContractError",
    "Settings",
    "SourceError",
    "StorageError",
    "TransientError",
    "__version__",
    "ingest",
    "load_settings",
    "promote",
    "report",
]


def __getattr__(name: str) -> Any:
    # Lake and Settings pull in deltalake and pydantic, the version importlib.metadata: load them
    # when first asked for
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("lakectl")
        except PackageNotFoundError:  # running from a source tree without install
            found = "0.0.0"
        globals()["__version__"] = found
        return found
    if name == "Lake":
        from lakectl.lake import Lake

        return Lake
    if name in ("Settings", "load_settings"):
        from lakectl import config

        return getattr(config, name)
    raise AttributeError(f"module 'lakectl' has no attribute {name!r}")


def _settings(settings: Settings | None) -> Settings:
    from lakectl.config import load_settings

    return settings if settings is not None else load_settings()


def ingest(
    paths: list[str | Path],
    *,
    settings: Settings | None = None,
    cluster: str | None = None,
    dry_run: bool = False,
) -> list[IngestResult]:
    """Ingest files or folders into bronze, exactly once. A bad file is a ``rejected`` result,
    never an exception; a lake that cannot be written raises ``StorageError``."""
    from lakectl.service.runner import ingest_paths, plan

    chosen = _settings(settings)
    return ingest_paths(plan([Path(p) for p in paths], cluster, chosen), chosen, dry_run=dry_run)


def promote(
    layer: Literal["silver", "gold", "all"] = "all",
    *,
    settings: Settings | None = None,
    clusters: list[str] | None = None,
    full: bool = False,
    dry_run: bool = False,
) -> dict[str, Any]:
    """bronze → silver (per cluster) and/or silver → gold; returns what each step did."""
    from lakectl.promote import promote_all, promote_gold, promote_silver

    chosen = _settings(settings)
    if layer == "silver":
        results = promote_silver(chosen, clusters, full=full, dry_run=dry_run)
        return {"silver": [r.to_dict() for r in results]}
    if clusters is not None or dry_run:
        raise ConfigError("clusters and dry_run apply to the silver layer only", hint="use layer='silver'")
    if layer == "gold":
        return {"gold": promote_gold(chosen, full=full)}
    return promote_all(chosen, full=full)


def report(*, settings: Settings | None = None, as_of: date | None = None) -> dict[str, Any]:
    """What the lake holds and what it says, as the JSON report's dict."""
    from lakectl.report import build_report

    return build_report(_settings(settings), as_of=as_of)


class _Package(types.ModuleType):
    """Keeps ``lakectl.promote`` and ``lakectl.report`` the public functions: importing the
    submodules of the same name would otherwise rebind them (``from lakectl.promote import ...``
    still reaches the modules)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("promote", "report") and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
