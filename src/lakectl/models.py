"""Plain records passed between modules and rendered by the CLI."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["ingested", "skipped", "rejected", "would ingest"]  # the last: dry runs only


@dataclass(frozen=True)
class SheetSummary:
    sheet: str
    header_row: int | None
    columns: list[str]
    headers: list[str]
    rows: int
    new_columns: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class IngestResult:
    file: str
    path: str
    cluster: str | None
    status: Status
    sha256: str | None = None
    size: int | None = None
    rows: int = 0
    sheets: list[SheetSummary] = field(default_factory=list)
    reason: str | None = None
    hint: str | None = None
    duplicate_of: str | None = None
    bronze_version: int | None = None
    ingest_id: str | None = None
    duration_s: float = 0.0
    error_class: str | None = None
    transient: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IngestResult:
        sheets = [SheetSummary(**s) for s in data.get("sheets", [])]
        return cls(**{**data, "sheets": sheets})
