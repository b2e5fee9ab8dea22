"""Pure functions over header and cell text: name normalisation, header and footer detection.

No I/O here: readers hand in the first rows of a sheet as lists of strings (None for empty cells).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

Row = Sequence[str | None]

# Normalised names never start with "_": that prefix is kept for lakectl's lineage columns.
MAX_NAME_LENGTH = 120
HEADER_SCAN_ROWS = 50

_NON_WORD = re.compile(r"[^a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NUMBER = re.compile(
    r"""^[\s(]*[-+]?\s*(?:r\$|us\$|\$|€|£|eur|usd|brl)?\s*[-+]?
        (?:\d{1,3}(?:[.,\s]\d{3})+|\d+)(?:[.,]\d+)?(?:e[-+]?\d+)?\s*%?\s*\)?$""",
    re.IGNORECASE | re.VERBOSE,
)
_DATE = re.compile(
    r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?$"
)
_TIME = re.compile(r"^\d{1,2}:\d{2}(?::\d{2})?$")
# A first cell like "Total", "TOTAL GERAL:", "Totais", "Soma", "Subtotal", "Grand total".
_NOTE = re.compile(
    r"^(?:\*|obs\b|observa|nota\b|notes?\b|fonte\b|source\b|gerado|generated|exportado|exported|"
    r"relatorio|report|emitido|impresso|printed|pagina|page)",
    re.IGNORECASE,
)
_TOTAL = re.compile(
    r"^(?:sub-?)?(?:total(?:es|s)?|totais|soma|suma|sum|summe|gesamt\w*|somatorio|grand total)\b",
    re.IGNORECASE,
)


def fold(text: str) -> str:
    """Accent- and case-folded text: 'Código da Transação' -> 'codigo da transacao'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def normalise_name(text: str | None) -> str:
    """One header cell -> snake_case ASCII (may be empty; see unique_names)."""
    if text is None:
        return ""
    spaced = _CAMEL.sub(" ", text.strip())
    # a currency sign is a unit the name keeps ("Betrag (€)" -> betrag_eur), as R$ and US$ keep a letter
    folded = (
        fold(spaced).replace("%", " pct ").replace("#", " num ").replace("€", " eur ").replace("£", " gbp ")
    )
    name = _NON_WORD.sub("_", folded).strip("_")
    if name and name[0].isdigit():
        name = "c_" + name
    return name[:MAX_NAME_LENGTH].rstrip("_")


def unique_names(headers: Sequence[str | None]) -> list[str]:
    """Normalise a header row into unique, non-empty, Delta-safe column names.

    Empty names become ``column_<position>``; repeats get ``_2``, ``_3``... in order of appearance.
    """
    names: list[str] = []
    taken: set[str] = set()
    for position, header in enumerate(headers, start=1):
        base = normalise_name(header) or f"column_{position}"
        name, suffix = base, 2
        while name in taken:
            name = f"{base}_{suffix}"
            suffix += 1
        taken.add(name)
        names.append(name)
    return names


def schema_id(names: Sequence[str]) -> str:
    """A short stable id of a normalised header list: the same layout gets the same id."""
    return hashlib.sha256("\x1f".join(names).encode()).hexdigest()[:16]


def is_blank(cell: str | None) -> bool:
    return cell is None or not cell.strip()


def looks_like_value(cell: str) -> bool:
    """Numbers, money, percentages, dates and times: what data looks like and labels do not."""
    text = cell.strip()
    return bool(_NUMBER.match(text) or _DATE.match(text) or _TIME.match(text))


def _is_note(cell: str) -> bool:
    """A free-text line under a table: a known note prefix, or a sentence rather than a value."""
    folded = fold(cell)
    return bool(_NOTE.match(folded)) or (len(folded) >= 20 and folded.count(" ") >= 3)


def filled(row: Row) -> int:
    return sum(not is_blank(cell) for cell in row)


@dataclass(frozen=True)
class HeaderGuess:
    """Where the header is in the scanned rows; ``index`` is None for a sheet without a header."""

    index: int | None
    reason: str


def detect_header(rows: Sequence[Row]) -> HeaderGuess:
    """Find the header row among the first rows of a sheet.

    Title, period and blank rows above the table have fewer filled cells than the table is wide; a
    header is the first row that fills (nearly) the table's width with labels rather than values.
    """
    sample = list(rows[:HEADER_SCAN_ROWS])
    counts = [filled(row) for row in sample]
    width = max(counts, default=0)
    if width == 0:
        return HeaderGuess(None, "no data")

    def label_share(row: Row) -> float:
        cells = [c for c in row if c is not None and c.strip()]
        return sum(not looks_like_value(c) for c in cells) / len(cells)

    needed = width - width // 5 if width > 2 else width
    for index, (row, count) in enumerate(zip(sample, counts, strict=True)):
        wide_enough = count >= needed or (count >= 3 and count * 2 >= width)
        if wide_enough and label_share(row) >= 0.7:
            return HeaderGuess(index, f"first row filling {count} of {width} columns with labels")
    # No row is wide enough: take the widest row of labels, if any.
    best = max(
        (i for i, row in enumerate(sample) if counts[i] >= 1 and label_share(row) >= 0.7),
        key=lambda i: (counts[i], -i),
        default=None,
    )
    if best is not None and (counts[best] >= 2 or width == 1):
        return HeaderGuess(best, f"widest row of labels ({counts[best]} of {width} columns)")
    return HeaderGuess(None, "no row of labels: columns get generated names")


def footer_length(rows: Sequence[Row], width: int) -> int:
    """How many rows at the end of a table are totals or notes rather than data.

    A trailing row is a footer when its first filled cell says Total/Totais/Soma..., or when a table
    of 3+ columns ends in rows that fill a single cell with text (notes, 'Gerado em ...').
    """
    dropped = 0
    for row in reversed(rows):
        cells = [c.strip() for c in row if c is not None and c.strip()]
        if not cells:
            dropped += 1
            continue
        first = fold(cells[0])
        if _TOTAL.match(first):
            dropped += 1
            continue
        if width >= 3 and len(cells) == 1 and not is_blank(row[0]) and _is_note(cells[0]):
            dropped += 1
            continue
        break
    return dropped
