"""Columns, statuses and platforms recognised by meaning, for layouts no one wrote a profile for.

A header is folded into tokens (accents, case, units, stop words, abbreviations), the tokens into the
*concepts* of ``vocabulary`` (four languages), and each canonical field scores the concepts it needs
and the ones that rule it out. The values then decide: the share of each column that parses as
money, dates, e-mails, CPF/CNPJ, phones, statuses; uniqueness for ids. A column is assigned to at
most one field, best score first; every choice keeps its evidence. Pure functions: no I/O.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from lakectl.transform import parse
from lakectl.transform.profiles import BUILT_IN, GENERIC, Profile
from lakectl.transform.vocabulary import (
    ABBREVIATIONS,
    AGGREGATE_WORDS,
    CONCEPTS,
    NEGATION,
    NOT_YET,
    PLATFORM_MARKERS,
    PLATFORM_NAMES,
    REFUND_PENDING_STEMS,
    STATUS_STEMS,
    STOP_WORDS,
    SUMMARY_WORDS,
)

# Fields a sales row cannot do without: a layout that lacks one is a layout problem (column_found).
REQUIRED = ("transaction_id", "gross_amount", "purchased_at")
MATCHER_VERSION = "3"  # bump when recognition changes: layouts rejected before are read again
THRESHOLD = 0.35  # below this a column is not taken for a field
_UNIT_CURRENCY = {"r": "BRL", "brl": "BRL", "reais": "BRL", "us": "USD", "usd": "USD", "dolares": "USD",
                  "eur": "EUR", "euro": "EUR", "euros": "EUR", "gbp": "GBP", "mxn": "MXN", "ars": "ARS"}  # fmt: skip


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def tokens(label: str) -> list[str]:
    """A header (original text or bronze name) -> meaningful tokens: ``Vlr. Total (R$)`` ->
    ``['valor', 'total', 'r']``; ``Nº Pedido`` -> ``['numero', 'pedido']``."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", label).replace("€", " eur ").replace("£", " gbp ")
    words = [w for w in re.split(r"[^0-9a-z]+", fold(spaced)) if w]
    joined: list[str] = []
    for word in words:  # "e-mail" / "e_mail" -> "email"
        if joined and joined[-1] == "e" and word == "mail":
            joined[-1] = "email"
        else:
            joined.append(word)
    out = []
    for i, word in enumerate(joined):
        if word in ("no", "n") and i > 0:
            continue  # "no" is a number sign only in front ("Nº Pedido"); elsewhere a preposition
        word = ABBREVIATIONS.get(word, word)
        if word not in STOP_WORDS:
            out.append(word)
    return out


def _hits(token: str, stem: str) -> bool:
    if token == stem:
        return True
    if len(stem) >= 4 and token.startswith(stem):
        return True
    return len(stem) >= 5 and len(token) >= 8 and stem in token  # German compounds


def _word_concepts(word: str) -> set[str]:
    return {concept for concept, stems in CONCEPTS.items() if any(_hits(word, stem) for stem in stems)}


# Stems that end German compounds ("Transaktions|art", "Kunden|nummer", "Bestell|datum"): the last
# part says what the column is, the first what it is about.
_HEADS = sorted({s for stems in CONCEPTS.values() for s in stems if len(s) >= 3}, key=len, reverse=True)


def compound_parts(word: str) -> list[str]:
    """``transaktionsart`` -> ``['transaktion', 'art']`` when both parts are known words; else []."""
    if len(word) < 8:
        return []
    for head in _HEADS:
        rest = word[: -len(head)]
        if word.endswith(head) and len(rest) >= 4:
            for first in (rest, rest[:-1] if rest.endswith("s") else ""):  # the linking -s-
                if len(first) >= 4 and _word_concepts(first):
                    return [first, head]
    return []


def concepts(words: Iterable[str]) -> frozenset[str]:
    found: set[str] = set()
    name_at = last_at = None
    for i, word in enumerate(words):
        hit = _word_concepts(word)
        for part in compound_parts(word):
            hit |= _word_concepts(part)
        if "NAME" in hit and name_at is None:
            name_at = i
        if "LAST" in hit:
            last_at = i
        found |= hit
    if name_at is not None and last_at is not None and name_at < last_at:
        # "Nome e sobrenome", "Nombre y apellido": the whole name, not its last part ("Last name")
        found = (found - {"FIRST", "LAST"}) | {"FULL"}
    return frozenset(found)


def unit_currency(words: Sequence[str]) -> str | None:
    """A currency written as a unit in the header: ``Valor (R$)``, ``Amount USD``."""
    for word in words[1:]:
        if word in _UNIT_CURRENCY:
            return _UNIT_CURRENCY[word]
    return None


# ------------------------------------------------------------------------------ header scoring


@dataclass(frozen=True)
class FieldRule:
    combos: tuple[tuple[frozenset[str], float], ...]  # concepts needed -> name score
    conflicts: frozenset[str] = frozenset()  # any of these: not this field
    factors: Mapping[str, float] = field(default_factory=dict)  # concept -> multiplier
    values: str = "text"  # the kind of values the field holds


def _rule(combos: str, conflicts: str = "", values: str = "text", **factors: float) -> FieldRule:
    parsed = []
    for part in combos.split(","):
        names, score = part.rsplit("=", 1)
        parsed.append((frozenset(names.split("+")), float(score)))
    return FieldRule(tuple(parsed), frozenset(conflicts.split()), factors, values)


_NOT_ID = (
    "DATE AMOUNT STATUS PRODUCT CUSTOMER EMAIL PHONE DOC PAYMENT CURRENCY TYPE NAME DESCRIPTION PLATFORM INSTALL "
    "PARTY"
)
RULES: dict[str, FieldRule] = {
    # "ID da venda (da plataforma)": the platform's id of the sale; a platform column's values are no id
    "transaction_id": _rule(
        "SALE+ID=1.0,SALE=0.75,ID=0.6",
        _NOT_ID.replace(" PLATFORM", "") + " DISCOUNT PLACE QTY ORIGINAL",
        "id",
    ),
    "original_transaction_id": _rule("ORIGINAL+SALE=1.0,ORIGINAL+ID=0.6", _NOT_ID + " DISCOUNT QTY", "id"),
    "status": _rule("STATUS=1.0", "DATE ID AMOUNT TYPE", "status"),
    "event": _rule("TYPE+SALE=1.0,TYPE=0.6", "DATE ID AMOUNT PAYMENT", "status"),
    "product_id": _rule("PRODUCT+ID=1.0", "NAME DESCRIPTION AMOUNT DATE SALE", "code"),
    "product_name": _rule(
        "PRODUCT+NAME=1.0,PRODUCT+DESCRIPTION=1.0,PRODUCT=0.85,DESCRIPTION=0.6",
        "ID AMOUNT DATE QTY PARTY TYPE",
        "text",
        SALE=0.5,
    ),
    "gross_amount": _rule(
        "AMOUNT+GROSS=1.0,GROSS=0.9,AMOUNT+ORIGINAL=0.9,AMOUNT+SALE=0.85,AMOUNT=0.75",
        "DATE ID COMMISSION INSTALL DISCOUNT REFUND CONVERSION PCT NAME DESCRIPTION QTY CURRENCY",
        "money",
        NET=0.4,
        PAID=0.8,
        INTEREST=0.5,
        PARTY=0.3,
        WITHOUT=0.6,
        FEE=0.25,
        OWN=0.5,
    ),
    "net_amount": _rule(
        "AMOUNT+NET=1.0,NET=0.85,AMOUNT+OWN=0.8", "DATE ID COMMISSION PCT CURRENCY", "money", AFFILIATE=0.4
    ),
    "commission_amount": _rule(
        "COMMISSION+AMOUNT=1.0,COMMISSION=0.9,AFFILIATE+NET=0.8,PARTY+AMOUNT=0.7",
        "DATE ID PCT NAME DESCRIPTION EMAIL",
        "money",
    ),
    "currency": _rule("CURRENCY=1.0", "AMOUNT DATE", "currency", CONVERSION=0.3, RECEIVE=0.8),
    "purchased_at": _rule(
        "DATE+CREATED=1.0,DATE=0.85,CREATED=0.7", "APPROVED EXPIRY REFUND UPDATE BIRTH ID AMOUNT", "date"
    ),
    "approved_at": _rule(
        "DATE+APPROVED=1.0,APPROVED=0.7", "EXPIRY REFUND UPDATE BIRTH ID AMOUNT STATUS", "date"
    ),
    "payment_method": _rule(
        "METHOD+PAYMENT=1.0,PAYMENT=0.6,METHOD=0.45",
        "DATE AMOUNT ID STATUS INSTALL PRODUCT CUSTOMER",
        "category",
    ),
    # "Total de parcelas" counts them; "Valor da parcela" is money, which its values say
    "installments": _rule("INSTALL=1.0", "DATE", "small_int", AMOUNT=0.6),
    "customer_name": _rule(
        "CUSTOMER+NAME=1.0,NAME+FULL=0.9,CUSTOMER=0.85,NAME=0.55",
        "EMAIL PHONE DOC ID DATE PRODUCT DESCRIPTION PARTY AMOUNT FIRST LAST PLACE PLATFORM STATUS TYPE",
        "text",
    ),
    "customer_first_name": _rule("FIRST+NAME=1.0,FIRST=0.8", "PRODUCT PARTY EMAIL", "name_part"),
    "customer_last_name": _rule("LAST+NAME=1.0,LAST=0.8", "PRODUCT PARTY EMAIL DATE", "name_part"),
    "customer_email": _rule("EMAIL=1.0", "PARTY", "email"),
    "customer_phone": _rule("PHONE=1.0", "PARTY", "phone"),
    "customer_document": _rule("DOC=1.0", "PARTY TYPE", "document"),
    "platform": _rule("PLATFORM=1.0", "ID DATE AMOUNT", "platform"),
}


def name_score(field_name: str, hit: frozenset[str]) -> float:
    rule = RULES[field_name]
    score = max((s for need, s in rule.combos if need <= hit), default=0.0)
    if not score or hit & rule.conflicts:
        return 0.0
    for concept, factor in rule.factors.items():
        if concept in hit:
            if concept == "FEE" and "WITH" in hit:
                continue  # "com impostos": the documented gross
            score *= factor
    return round(score, 3)


# ------------------------------------------------------------------------------ value facts


@dataclass(frozen=True)
class Facts:
    """What a column's values look like (shares of its non-empty values)."""

    count: int
    distinct: int
    unique: float  # distinct / count
    money: float
    decimals: float  # money with a decimal part, or a currency mark
    date: float  # dates written as dates (never plain numbers)
    serial: float  # plain numbers in Excel's date range
    email: float
    document: float
    phone: float
    small_int: float
    letters: float
    currency: float
    status: float
    platform: float
    words: float  # mean words per value
    magnitude: float = 0.0  # median of the values read as money (gross is the largest of its kin)


SAMPLE = 400  # distinct values looked at per column


def facts(column: pl.Series) -> Facts:
    values = column.drop_nulls().str.strip_chars()
    values = values.filter(values != "")
    count = values.len()
    distinct_all = values.n_unique() if count else 0
    sample = values.unique(maintain_order=True).head(SAMPLE)
    n = sample.len()
    if not n:
        return Facts(0, 0, 0.0, *([0.0] * 13))
    frame = pl.DataFrame({"v": sample})
    v = pl.col("v")
    amounts = parse.amount(v, True)
    day = parse.timestamp(v, "UTC", True)
    month = parse.timestamp(v, "UTC", False)
    plain_number = v.str.contains(r"^-?\d+(?:\.\d+)?$")
    got = frame.select(
        money=amounts.is_not_null().mean(),
        magnitude=amounts.abs().median(),
        decimals=(
            amounts.is_not_null() & v.str.contains(r"(?:[.,]\d{1,2}$)|R\$|\$|€|(?i:brl|usd|eur)")
        ).mean(),
        date=((day.is_not_null() | month.is_not_null()) & ~plain_number).mean(),
        serial=(day.is_not_null() & plain_number).mean(),
        email=parse.valid_email(v).mean(),
        phone=(
            parse.phone(v).is_not_null()
            & ~v.str.contains(r"@|[a-zA-Z]")
            & ~plain_number.and_(v.str.len_chars() < 8)
        ).mean(),
        small_int=(v.str.contains(r"^\d{1,2}(?:\.0+)?$")).mean(),
        letters=(v.str.contains(r"[A-Za-zÀ-ÿ]") & ~v.str.contains("@")).mean(),
        currency=v.str.to_uppercase().is_in(sorted(parse.CURRENCIES)).mean(),
        words=v.str.split(" ").list.len().mean(),
    ).row(0, named=True)
    texts = sample.to_list()
    documents = sum(1 for t in texts if re.fullmatch(r"[\d.\-/ ]{11,18}", t) and parse.is_valid_document(t))
    letters, email = got["letters"] or 0.0, got["email"] or 0.0
    statuses = platforms = 0
    if _categorical_shape(letters, distinct_all, distinct_all / count, email):
        # only a column of a few repeated words can be a status or a platform (value_fit asks the same)
        statuses = sum(1 for t in texts if classify_status(t) is not None)
        platforms = sum(1 for t in texts if platform_of(t) is not None)
    return Facts(
        count=count,
        distinct=distinct_all,
        unique=distinct_all / count,
        money=got["money"] or 0.0,
        decimals=got["decimals"] or 0.0,
        date=got["date"] or 0.0,
        serial=got["serial"] or 0.0,
        email=got["email"] or 0.0,
        document=documents / n,
        phone=max(0.0, (got["phone"] or 0.0) - documents / n),
        small_int=got["small_int"] or 0.0,
        letters=got["letters"] or 0.0,
        currency=got["currency"] or 0.0,
        status=statuses / n,
        platform=platforms / n,
        words=got["words"] or 0.0,
        magnitude=float(got["magnitude"] or 0.0),
    )


def _categorical_shape(letters: float, distinct: int, unique: float, email: float) -> bool:
    return letters >= 0.8 and (distinct <= 30 or unique <= 0.2) and email < 0.1


def _categorical(f: Facts) -> bool:
    return _categorical_shape(f.letters, f.distinct, f.unique, f.email)


def value_fit(kind: str, f: Facts) -> tuple[float, str]:
    """How well a column's values fit a kind of field (0..1) and why."""
    if kind == "id":
        if f.date >= 0.5:
            return 0.0, f"dates {f.date:.0%}: a date column is never an id"
        if f.email >= 0.5 or (f.letters >= 0.8 and f.words >= 1.5):
            return 0.0, "text, not an id"
        if f.decimals >= 0.8 and f.unique < 0.9:
            return 0.15, f"money {f.decimals:.0%}"
        if _categorical(f) and f.unique < 0.5:
            return 0.1, f"{f.distinct} repeated words"
        return (1.0 if f.unique >= 0.5 else 0.7), f"unique {f.unique:.0%}"
    if kind == "code":  # a product's code repeats from sale to sale: no uniqueness asked
        if f.date >= 0.5 or f.email >= 0.5 or (f.letters >= 0.8 and f.words >= 1.5):
            return 0.0, "not a code"
        return 1.0, f"{f.distinct} codes"
    if kind == "money":
        share = f.money
        return (share if share >= 0.6 else 0.0), f"money {share:.0%}"
    if kind == "date":
        if f.date >= 0.5:
            return f.date, f"dates {f.date:.0%}"
        return (0.8 * f.serial if f.serial >= 0.8 else 0.0), f"dates {f.date:.0%}, serials {f.serial:.0%}"
    if kind in ("email", "document", "phone", "currency"):
        share = getattr(f, kind)
        return (1.0 if share >= 0.5 else share), f"{kind} {share:.0%}"
    if kind == "status":
        if not _categorical(f):
            return 0.0, f"{f.distinct} distinct values: free text, not a status"
        return 0.5 + 0.5 * f.status, f"{f.distinct} labels, {f.status:.0%} known statuses"
    if kind == "platform":
        return ((0.6 + 0.4 * f.platform) if _categorical(f) else 0.0), f"platform names {f.platform:.0%}"
    if kind == "category":
        return (1.0 if _categorical(f) else 0.0), f"{f.distinct} distinct"
    if kind == "small_int":
        return (1.0 if f.small_int >= 0.9 else 0.0), f"small integers {f.small_int:.0%}"
    # text: names and products
    if f.email >= 0.2 or f.date >= 0.2:
        return 0.0, "not free text"
    if kind == "name_part" and f.words >= 2.0:
        return 0.3, f"{f.words:.1f} words a value: a whole name, not a part"
    return (1.0 if f.letters >= 0.5 else 0.3), f"text {f.letters:.0%}"


# Columns whose values alone say what they are, whatever the header (score without a header match).
_BY_VALUES = {"customer_email": ("email", 0.8, 0.6), "customer_document": ("document", 0.8, 0.55),
              "status": ("status", 0.7, 0.5), "currency": ("currency", 0.9, 0.45),
              "platform": ("platform", 0.8, 0.5)}  # fmt: skip


# ------------------------------------------------------------------------------ decisions


@dataclass(frozen=True)
class Choice:
    field: str
    column: str
    score: float
    evidence: str

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "score": self.score, "evidence": self.evidence}


def candidates(
    columns: Sequence[str], column_facts: Mapping[str, Facts], priors: Mapping[str, Sequence[str]] = {}
) -> list[Choice]:
    """Every plausible (field, column) pair with its score, best first. ``priors``: a profile's own
    names per field (an exact name scores 1.0, still checked against the values)."""
    found = []
    for column in columns:
        words = tokens(column)
        hit = concepts(words)
        f = column_facts[column]
        for name, rule in RULES.items():
            fit, why = value_fit(rule.values, f)
            prior = priors.get(name, ())
            if column in prior:
                score, source = 1.0 - 0.01 * prior.index(column), "profile name"
                fit = max(fit, 0.5) if fit else 0.0  # a profile's own name needs only no veto
            else:
                score, source = name_score(name, hit), "header " + "+".join(sorted(hit & _used(rule)))
                if name in _BY_VALUES and not hit & rule.conflicts:
                    attr, need, base = _BY_VALUES[name]
                    if getattr(f, attr) >= need and base > score:
                        score, source = base, "values only"
            total = round(score * fit, 3)
            if not fit and score >= 0.75 and rule.values in ("money", "date"):
                # the header says it plainly: map it, and let the values fail their own rule
                total, why = THRESHOLD, why + ": values do not parse"
            if total >= THRESHOLD:
                found.append(Choice(name, column, total, f"{source} ({score:.2f}); {why}"))

    def order(choice: Choice) -> tuple[float, str, float, str]:
        # equal scores: the gross is the largest of the money columns (net, fees and commissions
        # are parts of it), whatever the columns are called; the sale's key is its order's id, not
        # a payment's or refund's ("Order ID" beside "Transaction ID" in an event list)
        tie = 0.0
        if choice.field == "gross_amount":
            tie = -column_facts[choice.column].magnitude
        elif choice.field == "transaction_id":
            tie = 0.0 if "ORDER" in concepts(tokens(choice.column)) else 1.0
        return (-choice.score, choice.field, tie, choice.column)

    return sorted(found, key=order)


def _used(rule: FieldRule) -> frozenset[str]:
    return frozenset().union(*(need for need, _ in rule.combos), rule.factors)


def assign(choices: Iterable[Choice], fixed: Mapping[str, str] = {}) -> dict[str, Choice]:
    """Best score first; each field and each column once. ``fixed``: field -> column set by a user."""
    chosen = {f: Choice(f, c, 1.0, "user mapping") for f, c in fixed.items()}
    taken = set(fixed.values())
    for choice in choices:
        if choice.field in chosen or choice.column in taken:
            continue
        chosen[choice.field] = choice
        taken.add(choice.column)
    if "purchased_at" not in chosen and "approved_at" in chosen:
        only = chosen["approved_at"]  # the one date there is: when it was paid is when it was bought
        chosen["purchased_at"] = Choice("purchased_at", only.column, only.score, "the only date column")
    return chosen


# ------------------------------------------------------------------------------ statuses


class _StemMatcher:
    """``_hits`` against a whole set of stems at once (two compiled patterns instead of a loop)."""

    def __init__(self, stems: frozenset[str]) -> None:
        self.exact = stems
        self.prefix = _alternation(s for s in stems if len(s) >= 4)
        self.inside = _alternation(s for s in stems if len(s) >= 5)

    def hits(self, word: str) -> bool:
        return (
            word in self.exact
            or self.prefix.match(word) is not None
            or (len(word) >= 8 and self.inside.search(word) is not None)
        )


def _alternation(stems: Iterable[str]) -> re.Pattern[str]:
    ordered = sorted(stems, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, ordered)) if ordered else "(?!)")


_STATUS_MATCHERS = tuple((status, _StemMatcher(stems)) for status, stems in STATUS_STEMS)
_REFUND_PENDING = _StemMatcher(REFUND_PENDING_STEMS)


@functools.lru_cache(maxsize=16384)
def classify_status(label: str | None) -> str | None:
    """A status label in any of the four languages -> a canonical status, or None (unknown)."""
    if label is None:
        return None
    words = [w for w in re.split(r"[^0-9a-z]+", fold(label)) if w]
    if not words:
        return None
    joined = "".join(words)
    # a compound written apart ("Charged back", "Charge back") reads as one word too
    pieces = words + [a + b for a, b in itertools.pairwise(words)]
    first = next(
        (
            status
            for status, matcher in _STATUS_MATCHERS
            if joined in matcher.exact or any(matcher.hits(w) for w in pieces)
        ),
        None,
    )
    if first == "refund":
        return "refund_pending" if any(_REFUND_PENDING.hits(w) for w in words) else "refunded"
    if first in ("approved", "pending") and any(w in NEGATION for w in words):
        # "não autorizado", "nicht bezahlt" are refused; "ainda não pagou", "not yet paid" pending
        return "pending" if any(w in NOT_YET for w in words) else "refused"
    return first


def platform_of(text: str | None) -> str | None:
    """A platform named in a value, sheet name or file name, or None."""
    if not text:
        return None
    squeezed = _NOT_ALNUM.sub("", fold(text))
    return next((p for p, names in _SQUEEZED_PLATFORMS if any(n in squeezed for n in names)), None)


_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
_SQUEEZED_PLATFORMS = tuple(
    (platform, tuple(_NOT_ALNUM.sub("", n) for n in names)) for platform, names in PLATFORM_NAMES.items()
)


# ------------------------------------------------------------------------------ layouts


@dataclass
class Layout:
    """How one source layout is understood: the evidence behind every choice."""

    columns: list[str]
    fields: dict[str, Choice]
    platform: str | None  # None: per row (a platform column, a sheet name) or unknown
    platform_evidence: list[str]
    kind: str  # sales | summary | unknown
    profile: str = "generic"
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unit_currency: str | None = None
    day_first: bool | None = None
    decimal_comma: bool | None = None

    @property
    def mapping(self) -> dict[str, str]:
        return {name: choice.column for name, choice in self.fields.items()}

    @property
    def unmapped(self) -> list[str]:
        used = set(self.mapping.values())
        return [c for c in self.columns if c not in used]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "profile": self.profile,
            "platform": self.platform,
            "platform_evidence": self.platform_evidence,
            "fields": {name: choice.to_dict() for name, choice in sorted(self.fields.items())},
            "unmapped": self.unmapped,
            "missing": self.missing,
            "notes": self.notes,
        }


def platform_votes(
    columns: Sequence[str], column_facts: Mapping[str, Facts], ids: pl.Series | None, files: Sequence[str]
) -> dict[str, tuple[float, list[str]]]:
    """Evidence for each platform from a layout's own shape (headers, id shapes, currency mix) and,
    weakly, its file names."""
    votes: dict[str, tuple[float, list[str]]] = {}

    def vote(platform: str, weight: float, why: str) -> None:
        score, reasons = votes.get(platform, (0.0, []))
        votes[platform] = (score + weight, [*reasons, why])

    words = {w for c in columns for w in tokens(c)}
    for platform, names in PLATFORM_NAMES.items():
        named = sorted(words & set(names))  # "Taxa Hotmart": the export names its platform
        if named:
            vote(platform, 2.0, f"header names {named}")
        # words few other exports use: a hint each, weaker than a file named after a platform
        hit = sorted(words & PLATFORM_MARKERS.get(platform, frozenset()))
        if hit:
            vote(platform, 1.0 * min(len(hit), 2), f"header words {hit}")
    if ids is not None and ids.len():
        sample = ids.drop_nulls().head(500)
        if sample.len() and sample.str.contains(r"^HP\d{6,}$").mean() >= 0.8:  # type: ignore[operator]
            vote("hotmart", 1.5, "transaction ids shaped HP + digits")
    from_files = {platform_of(f) for f in files} - {None}
    if len(from_files) == 1:
        vote(str(from_files.pop()), 1.5, "file name")
    return votes


def summary_like(columns: Sequence[str], sheets: Sequence[str], rows: int) -> bool:
    """A sheet of totals (few rows, aggregate words, or a summary name), not of sales."""
    words = {w for c in columns for w in tokens(c)}
    named = any(set(tokens(s)) & SUMMARY_WORDS for s in sheets)
    return rows <= 200 and (named or len(words & AGGREGATE_WORDS) >= 2)


def detect_day_first(values: pl.Series) -> bool | None:
    """``13/10/2026`` says day first, ``10/13/2026`` month first; None when no value tells."""
    parts = values.drop_nulls().str.extract_groups(r"^(\d{1,2})[/.-](\d{1,2})[/.-]\d{2,4}")
    if parts.is_empty():
        return None
    first = parts.struct.field("1").cast(pl.Int32, strict=False)
    second = parts.struct.field("2").cast(pl.Int32, strict=False)
    if (first > 12).any():
        return True
    if (second > 12).any():
        return False
    return None


def detect_decimal_comma(values: pl.Series) -> bool | None:
    """``1.234,56`` / ``12,5`` say comma; ``1,234.56`` / ``12.50`` say dot; None when no value tells."""
    text = values.drop_nulls()
    comma = text.str.contains(r",\d{1,2}$").any()
    dot = text.str.contains(r"\.\d{1,2}$").any()
    if comma and not dot:
        return True
    if dot and not comma:
        return False
    return None


# ------------------------------------------------------------------------------ one layout, decided

WORKBOOK = r"(?i)\.(xlsx|xlsm|xls|xlsb|ods)$"


def present_columns(frame: pl.DataFrame) -> list[str]:
    return [
        c for c in frame.columns if not c.startswith("_") and frame.get_column(c).null_count() < frame.height
    ]


def sheet_platforms(rows: pl.DataFrame) -> dict[str, str]:
    """Workbook sheets named after a platform (``Hotmart``, ``Vendas Kiwify``): sheet -> platform."""
    if "_sheet" not in rows.columns:
        return {}
    sheets = rows.filter(pl.col("_source_file").str.contains(WORKBOOK)).get_column("_sheet").unique()
    return {s: p for s in sheets.drop_nulls().to_list() if (p := platform_of(s)) is not None}


def understand(rows: pl.DataFrame, user: Sequence[Profile] = ()) -> tuple[Layout, Profile]:
    """One layout's bronze rows -> how it is understood, and the profile whose locale it is read in.

    Order: a user profile whose headers match; a built-in profile whose headers match; a platform
    recognised from the layout's own shape (header words, id shapes) or its file name; else a
    hand-kept sheet whose platform comes per row from a platform column or the sheet name, or
    ``unknown``. The columns are always chosen by meaning and values, a profile's own names first.
    """
    columns = present_columns(rows)
    files = (
        sorted(rows.get_column("_source_file").unique().to_list()) if "_source_file" in rows.columns else []
    )
    sheets = (
        sorted(rows.get_column("_sheet").drop_nulls().unique().to_list()) if "_sheet" in rows.columns else []
    )
    column_facts = {c: facts(rows.get_column(c)) for c in columns}
    available = set(columns)
    evidence: list[str] = []
    profile: Profile | None = next((p for p in user if p.matches(available)), None)
    if profile is not None:
        evidence.append(f"user profile {profile.name!r}")
    else:
        best = max(BUILT_IN, key=lambda p: p.matches(available))
        if best.matches(available):
            profile = best
            evidence.append(f"headers match the {best.name} profile")

    def decide(chosen: Profile | None) -> dict[str, Choice]:
        priors = chosen.columns if chosen is not None else {}
        named = {f: next((c for c in names if c in available), None) for f, names in priors.items()}
        fixed = {f: c for f, c in named.items() if c is not None} if chosen in user else {}
        return assign(candidates(columns, column_facts, priors), fixed)

    fields = decide(profile)
    platform_column = "platform" in fields
    by_sheet = sheet_platforms(rows)
    if profile is None and not platform_column and not by_sheet:
        ids = rows.get_column(fields["transaction_id"].column) if "transaction_id" in fields else None
        votes = platform_votes(columns, column_facts, ids, files)
        if votes:
            name, (score, reasons) = max(votes.items(), key=lambda item: item[1][0])
            if score >= 1.0:
                profile = next(p for p in BUILT_IN if p.platform == name)
                evidence.append(f"{name}: " + "; ".join(reasons))
                fields = decide(profile)
    if profile is None:
        profile = GENERIC
        if platform_column:
            evidence.append(f"per row, from the column {fields['platform'].column!r}")
        if by_sheet:
            evidence.append(
                "per row, from the sheet names " + ", ".join(f"{s} -> {p}" for s, p in by_sheet.items())
            )
        if not evidence:
            evidence.append("no platform recognised: kept as 'unknown'")
    sales = "transaction_id" in fields and bool({"gross_amount", "purchased_at", "status"} & set(fields))
    summary = profile is GENERIC and summary_like(columns, sheets, rows.height)
    if summary and sales:  # "Vendas" counts sales in a totals sheet; an id says so itself ("Nº venda")
        named = any(set(tokens(s)) & SUMMARY_WORDS for s in sheets)
        sales = not named and "ID" in concepts(tokens(fields["transaction_id"].column))
    recognised = profile is not GENERIC or sales
    kind = "sales" if recognised else ("summary" if summary else "unknown")
    layout = Layout(columns, fields, profile.platform, evidence, kind, profile.name)
    if kind == "sales":
        layout.missing = [f for f in REQUIRED if f not in fields]
        amount = fields.get("gross_amount")
        if amount is not None:
            layout.unit_currency = unit_currency(tokens(amount.column))
            layout.decimal_comma = detect_decimal_comma(rows.get_column(amount.column))
        if "purchased_at" in fields:
            layout.day_first = detect_day_first(rows.get_column(fields["purchased_at"].column))
    elif kind == "summary":
        layout.notes.append(f"sheet(s) {', '.join(sheets)}: totals, not sales (skipped)")
    return layout, profile
