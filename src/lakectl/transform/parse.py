"""Locale-aware parsing of bronze text into typed values, as polars expressions (vectorised).

Bronze keeps what the file said. Workbooks were rendered by lakectl's reader in machine form
(``1234.56``, ``2026-10-05T14:03:00``); text exports carry the platform's locale (``1.234,56``,
``05/10/2026 14:03:00``, US ``1,234.50``). Each parser takes the locale of the row's source.
"""

from __future__ import annotations

from decimal import Decimal

import polars as pl

MONEY = pl.Decimal(18, 2)
_CURRENCY_MARKS = r"(?i)r\$|us\$|u\$s|\$|€|£|\b(?:brl|usd|eur|gbp)\b|[\s\u00a0]"
_PLAIN = r"^\d+(?:\.\d+)?$"
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
# ISO 4217 codes a small affiliate business meets; anything else is reported, not guessed.
CURRENCIES = frozenset(
    [
        "BRL",
        "USD",
        "EUR",
        "GBP",
        "ARS",
        "CLP",
        "COP",
        "MXN",
        "PEN",
        "UYU",
        "PYG",
        "BOB",
        "CAD",
        "AUD",
        "NZD",
        "CHF",
        "JPY",
        "CNY",
        "INR",
        "ZAR",
        "SEK",
        "NOK",
        "DKK",
        "PLN",
        "CZK",
        "HUF",
        "RON",
        "TRY",
        "ILS",
        "AED",
        "SAR",
        "SGD",
        "HKD",
        "KRW",
        "TWD",
        "THB",
        "MYR",
        "IDR",
        "PHP",
        "VND",
    ]
)
# Ordered: the first format that parses a value wins.
# Dates are written with / . or - and a time after a space, a comma or a word ("às", "um", "at"):
# ``_DATE_PARTS`` rewrites them all as d/m/Y H:M[:S] before these formats are tried.
# (a two-digit year is this century's)
DAY_FIRST_FORMATS = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y")
MONTH_FIRST_FORMATS = (
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
)
_DATE_PARTS = r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4}|\d{2})\b,?\s*(?:(?i:às|as|um|at|a las|-)\s+)?"
ISO_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M:%S",
               "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d")  # fmt: skip
_OFFSET = r"(?:Z|[+-]\d{2}:?\d{2})$"
# Month names, by their first three letters, in Portuguese, English, Spanish and German
_MONTHS = {"jan": 1, "ene": 1, "fev": 2, "feb": 2, "mar": 3, "mär": 3, "mrz": 3, "abr": 4, "apr": 4, "mai": 5,
           "may": 5, "jun": 6, "jul": 7, "ago": 8, "aug": 8, "set": 9, "sep": 9, "out": 10, "oct": 10,
           "okt": 10, "nov": 11, "dez": 12, "dec": 12, "dic": 12}  # fmt: skip
_AT = r"(?:(?i:às|as|at|um|a las|-)\s+)?"
# "18 de ago. de 2026 17:58", "12. Okt. 2026", "Oct 12, 2026 2:03 PM"
_DAY_MONTH = (
    r"^(\d{1,2})\.?\s+(?:(?i:de)\s+)?([A-Za-zÀ-ÿ]{3,10})\.?,?\s+(?:(?i:de)\s+)?(\d{4}),?\s*" + _AT + r"(.*)$"
)
_MONTH_DAY = r"^([A-Za-zÀ-ÿ]{3,10})\.?\s+(\d{1,2}),?\s+(\d{4}),?\s*" + _AT + r"(.*)$"
_NAMED_FORMATS = (
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%d/%m/%Y %I:%M:%S %p",
    "%d/%m/%Y %I:%M %p",
)


def amount(column: pl.Expr, decimal_comma: pl.Expr | bool) -> pl.Expr:
    """Money text -> Decimal(18,2), signed; null when the text is not an amount.

    With both ``.`` and ``,`` the last one is the decimal mark, whatever the locale. With one kind,
    ``decimal_comma`` (a Brazilian/European text source) decides, except for an unmistakable
    thousands shape (``1.234`` in a comma locale, ``1,234,567`` in a dot locale). Workbook values
    reach bronze in machine form (``1234.5``), so their sources pass ``decimal_comma=False``.
    """
    text = column.str.replace_all(_CURRENCY_MARKS, "")
    negative = (
        text.str.starts_with("-")
        | text.str.ends_with("-")
        | (text.str.starts_with("(") & text.str.ends_with(")"))
    )
    s = text.str.replace_all(r"[()+\-]", "")
    comma = pl.lit(decimal_comma) if isinstance(decimal_comma, bool) else decimal_comma
    has_dot, has_comma = s.str.contains(".", literal=True), s.str.contains(",", literal=True)
    comma_decimal = s.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True)
    dot_decimal = s.str.replace_all(",", "", literal=True)
    normal = (
        pl.when(has_dot & has_comma)
        .then(
            pl.when(s.str.contains(r",\d*$") & ~s.str.contains(r",.*\."))
            .then(comma_decimal)
            .otherwise(dot_decimal)
        )
        .when(has_comma)
        .then(
            pl.when(
                s.str.contains(r"^\d{1,3}(?:,\d{3}){2,}$")
                | (~comma & s.str.contains(r"^\d{1,3}(?:,\d{3})+$"))
            )
            .then(dot_decimal)
            .otherwise(comma_decimal)
        )
        .when(has_dot)
        .then(
            pl.when(
                s.str.contains(r"^\d{1,3}(?:\.\d{3}){2,}$")
                | (comma & s.str.contains(r"^\d{1,3}(?:\.\d{3})+$"))
            )
            .then(comma_decimal)
            .otherwise(s)
        )
        .otherwise(s)
    )
    valid = normal.str.contains(_PLAIN) & (normal.str.len_chars() <= 30)
    decimal = pl.when(valid).then(normal).str.to_decimal(scale=6).cast(MONEY, strict=False)
    return pl.when(negative).then(-decimal).otherwise(decimal)


def percent(column: pl.Expr, decimal_comma: pl.Expr | bool) -> pl.Expr:
    """``12,5%`` -> 0.125 (Float64); a bare number is taken as a percentage too."""
    number = column.str.replace_all(r"[%\s]", "")
    comma = pl.lit(decimal_comma) if isinstance(decimal_comma, bool) else decimal_comma
    normal = (
        pl.when(comma)
        .then(number.str.replace_all(r"\.", "").str.replace(",", ".", literal=True))
        .otherwise(number.str.replace_all(",", ""))
    )
    return normal.cast(pl.Float64, strict=False) / 100


def timestamp(column: pl.Expr, timezone: str, day_first: bool = True) -> pl.Expr:
    """Date text -> UTC Datetime. Local times are read in ``timezone``; explicit offsets are kept;
    Excel serial numbers (days since 1899-12-30) are understood."""
    text = column.str.strip_chars()
    written = (
        text.str.replace(_DATE_PARTS, "$1/$2/$3 ")
        .str.replace(r"^(\d{1,2}/\d{1,2}/)(\d{2}) ", "${1}20$2 ")
        .str.replace(r"(?i)\s*h\s*$", "")
        .str.strip_chars()
    )
    local = pl.coalesce(
        [text.str.strptime(pl.Datetime("us"), fmt, strict=False, exact=True) for fmt in ISO_FORMATS]
        + [written.str.strptime(pl.Datetime("us"), fmt, strict=False, exact=True)
           for fmt in (DAY_FIRST_FORMATS if day_first else MONTH_FIRST_FORMATS)]
        + [_excel_serial(text)]
        + [_named_month(text).str.strptime(pl.Datetime("us"), fmt, strict=False, exact=True)
           for fmt in _NAMED_FORMATS]
    )  # fmt: skip
    with_offset = (
        text.str.replace(r"Z$", "+00:00")
        .str.replace(r"([+-]\d{2})(\d{2})$", "$1:$2")
        .str.strptime(pl.Datetime("us", "UTC"), "%Y-%m-%dT%H:%M:%S%.f%:z", strict=False)
    )
    # A repeated hour (clocks going back) is read as its first occurrence; an hour skipped by clocks going
    # forward cannot be on a real clock but is typed by hand: read it as the clock before the change did
    # (00:30 in a 00:00 -> 01:00 gap is 01:30 new time), as Python's zoneinfo does.
    localized = pl.coalesce(
        local.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null"),
        (local + pl.duration(hours=1)).dt.replace_time_zone(
            timezone, ambiguous="earliest", non_existent="null"
        ),
    )
    return (
        pl.when(text.str.contains(_OFFSET) & text.str.contains("T"))
        .then(with_offset)
        .otherwise(localized.dt.convert_time_zone("UTC"))
    )


def _named_month(text: pl.Expr) -> pl.Expr:
    """A date with the month's name -> ``dd/mm/yyyy rest`` (null when no known month is named)."""

    def written(groups: pl.Expr, day: str, month: str) -> pl.Expr:
        number = (
            groups.struct.field(month).str.to_lowercase().str.slice(0, 3)
            .replace_strict(_MONTHS, default=None, return_dtype=pl.Int32)
        )  # fmt: skip
        return pl.concat_str(
            [groups.struct.field(day), pl.lit("/"), number.cast(pl.String), pl.lit("/"),
             groups.struct.field("3"), pl.lit(" "), groups.struct.field("4")]
        ).str.strip_chars()  # fmt: skip

    return pl.coalesce(
        written(text.str.extract_groups(_DAY_MONTH), "1", "2"),
        written(text.str.extract_groups(_MONTH_DAY), "2", "1"),
    )


def _excel_serial(text: pl.Expr) -> pl.Expr:
    serial = pl.when(text.str.contains(r"^\d{4,5}(?:\.\d+)?$")).then(text).cast(pl.Float64, strict=False)
    micros = ((serial - 25569) * 86_400_000_000).round(0).cast(pl.Int64, strict=False)  # 25569 = 1970-01-01
    return pl.when((serial > 20000) & (serial < 80000)).then(micros).cast(pl.Datetime("us"))


def email(column: pl.Expr) -> pl.Expr:
    return column.str.strip_chars().str.to_lowercase()


def valid_email(column: pl.Expr) -> pl.Expr:
    return column.str.contains(EMAIL)


def phone(column: pl.Expr, default_country: str = "55") -> pl.Expr:
    """Phone text -> E.164 (``+5511987654321``); Brazilian numbers need no country code. Null when
    the digits cannot be a phone number."""
    raw = column.str.strip_chars()
    digits = raw.str.replace_all(r"\D", "").str.replace(r"^0+", "")
    international = raw.str.starts_with("+") | raw.str.starts_with("00")
    national = (digits.str.len_chars() >= 10) & (digits.str.len_chars() <= 11)
    with_country = digits.str.starts_with(default_country) & digits.str.len_chars().is_between(12, 13)
    return (
        pl.when(international & digits.str.len_chars().is_between(8, 15))
        .then(pl.lit("+") + digits)
        .when(with_country)
        .then(pl.lit("+") + digits)
        .when(national)
        .then(pl.lit("+" + default_country) + digits)
        .otherwise(None)
    )


def document_digits(column: pl.Expr) -> pl.Expr:
    """CPF/CNPJ text -> digits, leading zeros kept (11 digits CPF, 14 CNPJ), else the trimmed text."""
    digits = column.str.replace_all(r"\D", "")
    return pl.when(digits.str.len_chars().is_in([11, 14])).then(digits).otherwise(column.str.strip_chars())


def valid_document(column: pl.Expr) -> pl.Expr:
    """True when the digits are a CPF or CNPJ whose check digits are right."""
    return column.map_elements(is_valid_document, return_dtype=pl.Boolean, skip_nulls=True)


def is_valid_document(value: str) -> bool:
    digits = [int(c) for c in value if c.isdigit()]
    if len(digits) == 11:
        weights = [list(range(10, 1, -1)), list(range(11, 1, -1))]
    elif len(digits) == 14:
        weights = [[5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2], [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]]
    else:
        return False
    if len(set(digits)) == 1:
        return False  # 000.000.000-00 and friends pass the arithmetic but are not documents
    for weight in weights:
        check = sum(d * w for d, w in zip(digits, weight, strict=False)) % 11
        if digits[len(weight)] != (0 if check < 2 else 11 - check):
            return False
    return True


# Scalar twins of the expressions above, for tests and one-off use.


def parse_amount(text: str, decimal_comma: bool) -> Decimal | None:
    value = pl.select(amount(pl.lit(text, pl.String), decimal_comma)).item()
    return None if value is None else Decimal(value)


def format_br(value: Decimal) -> str:
    """Decimal -> ``1.234,56`` (the inverse of parse_amount with decimal_comma=True)."""
    text = f"{value:,.2f}"
    return text.replace(",", "_").replace(".", ",").replace("_", ".")
