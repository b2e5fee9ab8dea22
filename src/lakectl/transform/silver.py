"""Bronze rows -> canonical sales rows, rejects and a report. Pure polars, no I/O.

Each source layout (bronze ``_schema_id``) is mapped by its profile; values are parsed with the
locale of their source; expectations send bad rows to rejects with the rule, the column and the raw
value; rows of one transaction are folded so the latest wins (a hand-kept sheet never beats a
platform export); refund and chargeback events change the status of their sale.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import polars as pl

from lakectl.errors import SchemaContractError
from lakectl.transform import parse
from lakectl.transform.profiles import EVENT_STATUSES, IGNORED_EVENTS, NULL_TOKENS, STATUS_LABELS, Profile
from lakectl.transform.recognise import (
    Layout,
    classify_status,
    fold,
    platform_of,
    sheet_platforms,
    understand,
)

log = logging.getLogger(__name__)

Action = Literal["warn", "drop", "fail"]
KEY = ("platform", "transaction_id")
WORKBOOK = r"(?i)\.(xlsx|xlsm|xls|xlsb|ods)$"
CURRENCY_SIGNS = {"R$": "BRL", "US$": "USD", "U$S": "USD", "$": "USD", "€": "EUR", "£": "GBP"}
CURRENCY_WORDS = {"REAL": "BRL", "REAIS": "BRL", "DOLAR": "USD", "DÓLAR": "USD", "DOLLAR": "USD", "EURO": "EUR",
                  "EUROS": "EUR", **CURRENCY_SIGNS}  # fmt: skip
# Rule -> (default action, the column it judges). Order matters: a row is rejected for its first rule.
RULES: dict[str, tuple[Action, str]] = {
    "layout_known": ("drop", "_schema_id"),
    "column_found": ("drop", "_schema_id"),  # a recognised layout lacks a required column
    "key_present": ("drop", "transaction_id"),
    "amount_parses": ("drop", "gross_amount"),
    "amount_not_negative": ("drop", "gross_amount"),
    "date_parses": ("drop", "purchased_at"),
    "date_not_future": ("drop", "purchased_at"),
    "currency_known": ("drop", "currency"),
    "sale_exists": ("drop", "transaction_id"),  # a refund/chargeback event whose sale is nowhere
    "status_known": ("warn", "status"),
    "email_valid": ("warn", "customer_email"),
}
SILVER_SCHEMA = pl.Schema(
    {  # type: ignore[arg-type]
        "cluster": pl.String,
        "platform": pl.String,
        "transaction_id": pl.String,
        "status": pl.String,
        "status_raw": pl.String,
        "product_id": pl.String,
        "product_name": pl.String,
        "gross_amount": parse.MONEY,
        "net_amount": parse.MONEY,
        "commission_amount": parse.MONEY,
        "currency": pl.String,
        "purchased_at": pl.Datetime("us", "UTC"),
        "approved_at": pl.Datetime("us", "UTC"),
        "payment_method": pl.String,
        "installments": pl.Int32,
        "customer_name": pl.String,
        "customer_email": pl.String,
        "customer_phone": pl.String,
        "customer_document": pl.String,
        "customer_document_valid": pl.Boolean,
        "customer_key": pl.String,
        "extras": pl.String,
        "_source_file": pl.String,
        "_source_sha256": pl.String,
        "_sheet": pl.String,
        "_row": pl.Int64,
        "_bronze_version": pl.Int64,
        "_source_priority": pl.Int8,
        "_profile": pl.String,
    }
)
REJECTS_SCHEMA = pl.Schema(
    {
        "cluster": pl.String,
        "rule": pl.String,
        "column": pl.String,
        "raw_value": pl.String,
        "detail": pl.String,
        "_source_file": pl.String,
        "_source_sha256": pl.String,
        "_sheet": pl.String,
        "_row": pl.Int64,
        "_bronze_version": pl.Int64,
        "run_id": pl.String,
    }
)
ORDER = ("_source_priority", "_bronze_version", "_source_file", "_sheet", "_row")


@dataclass
class UnknownLayout:
    schema_id: str
    files: list[str]
    columns: list[str]
    suggestion: dict[str, str]


@dataclass
class Batch:
    """What one promotion computed for one cluster."""

    sales: pl.DataFrame  # one row per key, canonical schema
    events: pl.DataFrame  # status changes for keys not in ``sales`` (their sale is in silver already)
    rejects: pl.DataFrame
    rows_in: int = 0
    folded: int = 0  # rows merged into another row of the same key in this batch
    ignored_events: int = 0
    warnings: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    unknown_statuses: Counter[str] = field(default_factory=Counter)
    unknown_layouts: list[UnknownLayout] = field(default_factory=list)
    profiles: Counter[str] = field(default_factory=Counter)
    skipped: int = 0  # rows of sheets that summarise rather than list sales
    layouts: list[dict[str, Any]] = field(default_factory=list)  # every layout decision, explained
    missing_columns: list[dict[str, Any]] = field(default_factory=list)  # once per file
    unknown_platform: Counter[str] = field(default_factory=Counter)  # file -> rows kept as 'unknown'
    claimed: int = 0  # 'unknown'-platform rows found to be a recognised platform's sale
    retired: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=dict.fromkeys(KEY, pl.String)))


def fold_text(column: pl.Expr) -> pl.Expr:
    return column.str.normalize("NFKD").str.replace_all(r"\p{M}", "").str.to_lowercase().str.strip_chars()


def customer_key(email: str, salt: str) -> str:
    return hashlib.sha256((salt + "\x1f" + email).encode()).hexdigest()[:32]


def _source(mapping: Mapping[str, str], name: str) -> pl.Expr:
    if name not in mapping:
        return pl.lit(None, pl.String)
    raw = pl.col(mapping[name]).str.strip_chars()
    return pl.when(raw.str.to_lowercase().is_in(list(NULL_TOKENS)) | (raw == "")).then(None).otherwise(raw)


def _by_distinct(frame: pl.DataFrame, inputs: list[str], expr: pl.Expr, name: str) -> pl.DataFrame:
    """Add ``name`` = ``expr`` computed once per distinct value of ``inputs``: amounts, dates and
    phones repeat a lot, and their regex-heavy parsers dominate a promotion otherwise."""
    distinct = frame.select(inputs).unique().with_columns(expr.alias(name))
    return frame.join(distinct, on=inputs, how="left", nulls_equal=True, maintain_order="left")


PARSED = ("gross_amount", "net_amount", "commission_amount", "purchased_at", "approved_at", "customer_phone")


def _per_distinct(expr: pl.Expr, lookup: Mapping[str, str | None]) -> pl.Expr:
    return expr.replace_strict(dict(lookup), default=None, return_dtype=pl.String)


def status_lookup(labels: Iterable[str], profile: Profile) -> dict[str, str | None]:
    """Folded status labels -> canonical status: the profile's own labels, the platforms' known
    labels, then the four-language vocabulary; None for a label nothing classifies."""
    extra = {k.casefold(): v for k, v in profile.statuses.items()}
    return {label: extra.get(label) or STATUS_LABELS.get(label) or classify_status(label) for label in labels}


def _platform(rows: pl.DataFrame, layout: Layout, src: Any) -> pl.Expr:
    """The export's platform, or per row for a hand-kept sheet: its platform column, its sheet's
    name, its file's name, else 'unknown'."""
    if layout.platform is not None:
        return pl.lit(layout.platform)
    parts = []
    if "platform" in layout.fields:
        values = rows.get_column(layout.fields["platform"].column).drop_nulls().unique().to_list()
        named = {v: platform_of(v) or re.sub(r"[^a-z0-9]+", "", fold(v)) or None for v in values}
        parts.append(_per_distinct(src("platform"), named))
    by_sheet = sheet_platforms(rows)
    if by_sheet:
        parts.append(_per_distinct(pl.col("_sheet"), by_sheet))
    files = {f: platform_of(f) for f in rows.get_column("_source_file").unique().to_list()}
    parts.append(_per_distinct(pl.col("_source_file"), files))
    return pl.coalesce([*parts, pl.lit("unknown")])


def _currency(layout: Layout, profile: Profile, src: Any) -> pl.Expr:
    """The currency column (codes or signs), else the sign on the amount (``US$ 12.50``), else a unit
    in the amount's header (``Valor (R$)``), else the profile's currency."""
    column = src("currency").str.strip_chars().str.to_uppercase()
    column = column.replace(CURRENCY_WORDS)
    raw = src("gross_amount")
    sign = pl.coalesce(
        [
            pl.when(raw.str.contains(pattern, literal=True)).then(pl.lit(code))
            for pattern, code in CURRENCY_SIGNS.items()
        ]
    )
    return pl.coalesce([column, sign, pl.lit(layout.unit_currency), pl.lit(profile.currency)])


def canonical(rows: pl.DataFrame, profile: Profile, layout: Layout, cluster: str) -> pl.DataFrame:
    """One layout's bronze rows -> canonical columns (+ helpers ``_kind``, ``_raw_*``)."""
    mapping = layout.mapping
    present = layout.columns
    src = lambda name: _source(mapping, name)  # noqa: E731
    # an events layout (ClickBank, Digistore24 IPN lists) says refunds in a type column; without one
    # (an order list with a status per order) its rows are sales like any other layout's
    events = profile.events and "event" in mapping
    by_event = events or "status" not in mapping  # the type column is the only status there is
    status_text = src("event") if by_event and "event" in mapping else src("status")
    folded = fold_text(status_text)

    def classified(text: pl.Expr) -> pl.Expr:
        labels = rows.select(text.unique().drop_nulls().alias("s"))["s"].to_list()
        return _per_distinct(text, status_lookup(labels, profile))

    status = classified(folded)
    # a type column next to the status column ("Tipo": Venda / Reembolso) says which rows are refunds
    type_status = classified(fold_text(src("event"))) if not by_event else pl.lit(None, pl.String)
    if events:
        kind = (
            pl.when(folded.is_in(list(IGNORED_EVENTS)))
            .then(pl.lit("ignored"))
            .when(status.is_in(list(EVENT_STATUSES)))
            .then(pl.lit("event"))
            .otherwise(pl.lit("sale"))
        )
    else:
        kind = pl.lit("sale")
    if "customer_name" in mapping:
        name = src("customer_name")
    else:
        name = pl.concat_str(
            [src("customer_first_name"), src("customer_last_name")], separator=" ", ignore_nulls=True
        )
        name = pl.when(name == "").then(None).otherwise(name)
    unmapped = [c for c in present if c not in set(mapping.values())]
    extras = pl.struct(unmapped).struct.json_encode() if unmapped else pl.lit(None, pl.String)
    decimal_comma = profile.decimal_comma if layout.decimal_comma is None else layout.decimal_comma
    day_first = profile.day_first if layout.day_first is None else layout.day_first
    frame = rows.select(
        pl.lit(cluster).alias("cluster"),
        _platform(rows, layout, src).alias("platform"),
        src("transaction_id").alias("transaction_id"),
        status.alias("status"),
        status_text.alias("status_raw"),
        src("product_id").alias("product_id"),
        src("product_name").alias("product_name"),
        _currency(layout, profile, src).alias("currency"),
        src("payment_method").alias("payment_method"),
        src("installments").str.replace(r"\.0+$", "").cast(pl.Int32, strict=False).alias("installments"),
        name.alias("customer_name"),
        parse.email(src("customer_email")).alias("customer_email"),
        parse.document_digits(src("customer_document")).alias("customer_document"),
        extras.alias("extras"),
        pl.col("_source_file"),
        pl.col("_source_sha256"),
        pl.col("_sheet"),
        pl.col("_row"),
        pl.col("_bronze_version"),
        pl.lit(profile.priority, pl.Int8).alias("_source_priority"),
        pl.lit(profile.name).alias("_profile"),
        kind.alias("_kind"),
        type_status.alias("_type_status"),
        src("original_transaction_id").alias("_original_id"),
        *[src(parsed).alias(f"_raw_{parsed}") for parsed in PARSED],
        src("currency").alias("_raw_currency"),
        src("customer_email").alias("_raw_customer_email"),
        # workbook values reach bronze in machine form; text exports carry the platform's locale
        (pl.lit(decimal_comma) & ~pl.col("_source_file").str.contains(WORKBOOK)).alias("_comma"),
    )
    for money in ("gross_amount", "net_amount", "commission_amount"):
        raw = f"_raw_{money}"
        frame = _by_distinct(frame, [raw, "_comma"], parse.amount(pl.col(raw), pl.col("_comma")), money)
    for moment in ("purchased_at", "approved_at"):
        raw = f"_raw_{moment}"
        frame = _by_distinct(frame, [raw], parse.timestamp(pl.col(raw), profile.timezone, day_first), moment)
    frame = _by_distinct(
        frame, ["_raw_customer_phone"], parse.phone(pl.col("_raw_customer_phone")), "customer_phone"
    )
    return frame if events else refund_rows(frame)


REFUNDS = ("refunded", "refund_pending", "chargeback")


def refund_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """Refund and chargeback rows of any layout become events on the sale they undo: a row whose type
    column says refund/chargeback, or whose amount is negative, or whose status says so and that names
    an original transaction of the same export. The sale is the original transaction when the row
    names one, else the row's own id. An event adds no revenue; it changes its sale's status."""
    typed = pl.col("_type_status").is_in(REFUNDS)
    negative = pl.col("gross_amount") < 0
    tids = frame["transaction_id"].drop_nulls().unique().implode()
    names_sale = pl.col("_original_id").is_not_null() & (pl.col("_original_id") != pl.col("transaction_id"))
    referred = names_sale & pl.col("status").is_in(REFUNDS) & pl.col("_original_id").is_in(tids)
    refund = (pl.col("_kind") == "sale") & (typed | negative | referred).fill_null(False)
    status = (
        pl.when(typed).then(pl.col("_type_status"))
        .when(pl.col("status").is_in(EVENT_STATUSES)).then(pl.col("status"))
        .when(pl.col("status") == "pending").then(pl.lit("refund_pending"))
        .otherwise(pl.lit("refunded"))
    )  # fmt: skip
    # a negative amount that names no sale, when no sale has its id either, is a bad amount
    orphan_rule = pl.when(typed | names_sale.fill_null(False)).then(pl.lit("sale_exists"))
    return frame.with_columns(
        pl.when(refund).then(pl.lit("event")).otherwise(pl.col("_kind")).alias("_kind"),
        pl.when(refund).then(status).otherwise(pl.col("status")).alias("status"),
        pl.when(refund & names_sale.fill_null(False))
        .then(pl.col("_original_id"))
        .otherwise(pl.col("transaction_id"))
        .alias("transaction_id"),
        orphan_rule.otherwise(pl.lit("amount_not_negative")).alias("_orphan_rule"),
    )


def _rule_failures(frame: pl.DataFrame, now: datetime) -> dict[str, pl.Expr]:
    sale = pl.col("_kind") == "sale"
    return {
        "key_present": pl.col("transaction_id").is_null(),
        "amount_parses": sale & pl.col("gross_amount").is_null(),
        "amount_not_negative": sale & (pl.col("gross_amount") < 0),
        "date_parses": sale & pl.col("purchased_at").is_null(),
        "date_not_future": sale & (pl.col("purchased_at") > pl.lit(now + timedelta(days=1))),
        "currency_known": sale & ~pl.col("currency").is_in(sorted(parse.CURRENCIES)),
        "status_known": pl.col("status").is_null() & (pl.col("_kind") != "ignored"),
        "email_valid": pl.col("customer_email").is_not_null() & ~parse.valid_email(pl.col("customer_email")),
    }


RAW_OF = {"gross_amount": "_raw_gross_amount", "purchased_at": "_raw_purchased_at", "currency": "_raw_currency",
          "customer_email": "_raw_customer_email", "transaction_id": "transaction_id", "status": "status_raw"}  # fmt: skip


def _reject_rows(
    frame: pl.DataFrame, rule: str, cluster: str, detail: pl.Expr | None = None, column: str | None = None
) -> pl.DataFrame:
    column = column or RULES[rule][1]
    raw = pl.col(RAW_OF[column]) if RAW_OF.get(column) in frame.columns else pl.lit(None, pl.String)
    return frame.select(
        pl.lit(cluster).alias("cluster"),
        pl.lit(rule).alias("rule"),
        pl.lit(column).alias("column"),
        raw.cast(pl.String).alias("raw_value"),
        (detail if detail is not None else pl.lit(None, pl.String)).alias("detail"),
        "_source_file",
        "_source_sha256",
        "_sheet",
        "_row",
        "_bronze_version",
    )


def explain(rows: pl.DataFrame, layout: Layout, schema: str) -> dict[str, Any]:
    """One layout decision as a record for the run log and the report."""
    return {
        "schema_id": schema,
        "files": sorted(rows.get_column("_source_file").unique().to_list()),
        "sheets": sorted(rows.get_column("_sheet").drop_nulls().unique().to_list()),
        "rows": rows.height,
        **layout.to_dict(),
    }


def _missing_detail(layout: Layout) -> str:
    from lakectl.transform.recognise import RULES as FIELD_RULES

    looked = "; ".join(
        f"{name} (a header meaning {' or '.join('+'.join(sorted(c)) for c, _ in FIELD_RULES[name].combos)}, "
        f"with {FIELD_RULES[name].values} values)"
        for name in layout.missing
    )
    return f"no column found for {looked}; columns: {', '.join(layout.columns[:40])}"


def transform(
    bronze: pl.DataFrame,
    cluster: str,
    salt: str,
    actions: Mapping[str, Action] | None = None,
    user_profiles: Iterable[Profile] = (),
    now: datetime | None = None,
) -> Batch:
    """Bronze rows of one cluster (with ``_bronze_version``) -> a Batch ready to merge."""
    now = now or datetime.now().astimezone()
    act = {rule: (actions or {}).get(rule, default) for rule, (default, _) in RULES.items()}
    user = list(user_profiles)
    parts, reject_parts, unknown = [], [], []
    batch = Batch(sales=pl.DataFrame(schema=SILVER_SCHEMA), events=pl.DataFrame(), rejects=pl.DataFrame(),
                  rows_in=bronze.height)  # fmt: skip
    for (schema,), rows in bronze.group_by("_schema_id", maintain_order=True):
        layout, profile = understand(rows, user)
        record = explain(rows, layout, str(schema))
        batch.layouts.append(record)
        if layout.kind == "summary":
            batch.skipped += rows.height
            log.info("%s: %s", ", ".join(record["files"]), "; ".join(layout.notes))
            continue
        if layout.kind == "unknown":
            unknown.append(UnknownLayout(str(schema), record["files"], layout.columns, layout.mapping))
            headers = pl.lit("headers: " + ", ".join(layout.columns[:30]))
            reject_parts.append(_reject_rows(rows, "layout_known", cluster, headers))
            batch.rejected["layout_known"] += rows.height
            continue
        if layout.missing:
            detail = _missing_detail(layout)
            for file in record["files"]:  # said once per file, not once per row
                batch.missing_columns.append({"file": file, "missing": layout.missing, "detail": detail})
                log.warning("%s: %s", file, detail)
            reject_parts.append(
                _reject_rows(rows, "column_found", cluster, pl.lit(detail), layout.missing[0])
            )
            batch.rejected["column_found"] += rows.height
            continue
        batch.profiles[profile.name] += rows.height
        part = canonical(rows, profile, layout, cluster)
        for file, count in (
            part.filter(pl.col("platform") == "unknown").group_by("_source_file").len().iter_rows()
        ):
            batch.unknown_platform[file] += count
            log.warning(
                "%s: a sales layout with no recognisable platform; %d row(s) kept as 'unknown'", file, count
            )
        parts.append(part)
    batch.unknown_layouts = unknown
    if act["layout_known"] == "fail" and unknown:
        raise SchemaContractError(
            f"{len(unknown)} unknown layout(s) in {cluster}", hint=_layout_hint(unknown)
        )
    if act["column_found"] == "fail" and batch.missing_columns:
        raise SchemaContractError(
            f"{len(batch.missing_columns)} file(s) in {cluster} lack a required column",
            hint="map the column with 'lakectl map FILE --save', or set silver.expectations.column_found",
        )
    frame = pl.concat(parts, how="diagonal_relaxed") if parts else None
    if frame is not None and frame.height:
        frame, batch.claimed = claim_unknown(frame, frame.select(*KEY, "customer_email"))
        frame = _apply_rules(frame, batch, act, cluster, now, reject_parts)
        frame = _add_customer_columns(frame, salt)
        _fold(frame, batch)
    batch.rejects = pl.concat(reject_parts, how="diagonal_relaxed") if reject_parts else pl.DataFrame()
    return batch


UNKNOWN = "unknown"


def claim_unknown(rows: pl.DataFrame, known: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Rows of platform 'unknown' whose transaction id is the sale of exactly one recognised platform
    in ``known`` (platform, transaction_id, customer_email) are that sale and take its platform, so a
    hand-kept copy of a platform's sale is never counted twice. Two platforms with that id, or an
    e-mail on both sides that differs, say it is another sale: the row stays 'unknown'."""
    if rows.is_empty() or known.is_empty() or not (rows["platform"] == UNKNOWN).any():
        return rows, 0
    owners = (
        known.filter(pl.col("platform") != UNKNOWN)
        .group_by("transaction_id")
        .agg(pl.col("platform").unique().alias("_owners"), pl.col("customer_email").drop_nulls().unique().alias("_emails"))
        .filter(pl.col("_owners").list.len() == 1)
        .select("transaction_id", pl.col("_owners").list.first().alias("_owner"), "_emails")
    )  # fmt: skip
    email = pl.col("customer_email") if "customer_email" in rows.columns else pl.lit(None, pl.String)
    joined = rows.join(owners, on="transaction_id", how="left", maintain_order="left")
    same = (
        (pl.col("platform") == UNKNOWN)
        & pl.col("_owner").is_not_null()
        & (email.is_null() | (pl.col("_emails").list.len() == 0) | pl.col("_emails").list.contains(email))
    ).fill_null(False)
    claimed = int(joined.select(same.sum()).item())
    platform = pl.when(same).then(pl.col("_owner")).otherwise(pl.col("platform")).alias("platform")
    return joined.with_columns(platform).drop("_owner", "_emails"), claimed


def settle_unknown(batch: Batch, existing: pl.DataFrame) -> None:
    """The batch against the sales already in silver (``existing``: platform, transaction_id,
    customer_email of the ids the batch names): its 'unknown' rows that are a silver sale of a
    recognised platform take that platform; silver's 'unknown' rows that are a recognised sale of
    this batch are retired (the platform's row replaces them), and a platform's refund of a sale
    silver holds only under 'unknown' changes that sale."""
    if existing.is_empty():
        return
    sales, claimed = claim_unknown(batch.sales, existing)
    events, claimed_events = (
        claim_unknown(batch.events, existing) if batch.events.height else (batch.events, 0)
    )
    if claimed:  # two copies of one sale may now share a key: the platform export's wins
        before = sales.height
        sales = sales.sort(list(ORDER)).unique(list(KEY), keep="last", maintain_order=True)
        batch.folded += before - sales.height
    if events.height:  # a platform's refund of a sale silver holds only under 'unknown' refunds that sale
        stray = events.join(existing.select(KEY), on=list(KEY), how="anti").join(
            existing.filter(pl.col("platform") == UNKNOWN).select("transaction_id"),
            on="transaction_id",
            how="semi",
        )
        if stray.height:
            mine = pl.struct(KEY).is_in(stray.select(pl.struct(KEY)).to_series().implode())
            events = events.with_columns(
                pl.when(mine).then(pl.lit(UNKNOWN)).otherwise("platform").alias("platform")
            )
            claimed_events += stray.height
    batch.sales, batch.events = sales, events
    recognised = batch.sales.filter(pl.col("platform") != UNKNOWN).select(*KEY, "customer_email")
    stale, retired = claim_unknown(existing.filter(pl.col("platform") == UNKNOWN), recognised)
    if retired:
        moved = stale.filter(pl.col("platform") != UNKNOWN).select("transaction_id")
        batch.retired = moved.select(pl.lit(UNKNOWN).alias("platform"), "transaction_id")
    batch.claimed += claimed + claimed_events + retired


def _layout_hint(unknown: list[UnknownLayout]) -> str:
    first = unknown[0]
    return (
        f"map it in lakectl.toml, e.g. [silver.profiles.<cluster>.my_sheet] columns = "
        f"{first.suggestion or {'transaction_id': '...', 'gross_amount': '...'}}"
    )


def _apply_rules(
    frame: pl.DataFrame, batch: Batch, act: Mapping[str, Action], cluster: str, now: datetime,
    reject_parts: list[pl.DataFrame],
) -> pl.DataFrame:  # fmt: skip
    failures = _rule_failures(frame, now)
    flags = frame.select(**{rule: expr.fill_null(False) for rule, expr in failures.items()})
    unknown_status = frame.filter(flags["status_known"])["status_raw"].drop_nulls()
    batch.unknown_statuses.update(unknown_status.to_list())
    rejected = pl.Series("rejected", [False] * frame.height)
    for rule in failures:
        failed = flags[rule] & ~rejected
        count = int(failed.sum())
        if not count:
            continue
        if act[rule] == "fail":
            raise SchemaContractError(
                f"{count} row(s) in {cluster} break the rule {rule!r} (action 'fail'); nothing was written",
                hint=f"fix the source files, or set silver.expectations.{rule} to 'drop' or 'warn'",
            )
        if act[rule] == "warn":
            batch.warnings[rule] += count
            continue
        batch.rejected[rule] += count
        reject_parts.append(_reject_rows(frame.filter(failed), rule, cluster))
        rejected = rejected | failed
    return frame.filter(~rejected)


def _add_customer_columns(frame: pl.DataFrame, salt: str) -> pl.DataFrame:
    """customer_key (salted hash of the e-mail) and the CPF/CNPJ check, over distinct values only."""
    emails = frame["customer_email"].drop_nulls().unique()
    keys = {e: customer_key(e, salt) for e in emails.to_list()}
    documents = frame["customer_document"].drop_nulls().unique()
    valid = {d: parse.is_valid_document(d) for d in documents.to_list()}
    return frame.with_columns(
        pl.col("customer_email")
        .replace_strict(keys, default=None, return_dtype=pl.String)
        .alias("customer_key"),
        pl.col("customer_document")
        .replace_strict(valid, default=None, return_dtype=pl.Boolean)
        .alias("customer_document_valid"),
    )


def _fold(frame: pl.DataFrame, batch: Batch) -> None:
    """Latest row per key wins (platform exports above hand-kept sheets); a later event, or one in the
    sale's own file (exports often list the newest first), changes the status of its sale; events
    whose sale is not in this batch are kept for the target."""
    ordered = frame.sort(list(ORDER)).with_row_index("_order")
    batch.ignored_events = int((ordered["_kind"] == "ignored").sum())
    sales = ordered.filter(pl.col("_kind") == "sale")
    events = ordered.filter(pl.col("_kind") == "event")
    latest_sales = sales.unique(list(KEY), keep="last", maintain_order=True)
    latest_events = events.unique(list(KEY), keep="last", maintain_order=True)
    batch.folded = (sales.height - latest_sales.height) + (events.height - latest_events.height)
    joined = latest_sales.join(
        latest_events.select(
            *KEY,
            pl.col("status").alias("_e_status"),
            pl.col("status_raw").alias("_e_raw"),
            pl.col("_order").alias("_e_order"),
            pl.col("_source_sha256").alias("_e_file"),
        ),
        on=list(KEY),
        how="left",
    )
    later = pl.col("_e_order").is_not_null() & (
        (pl.col("_e_order") > pl.col("_order")) | (pl.col("_e_file") == pl.col("_source_sha256"))
    )
    batch.sales = joined.with_columns(
        pl.when(later).then(pl.col("_e_status")).otherwise(pl.col("status")).alias("status"),
        pl.when(later).then(pl.col("_e_raw")).otherwise(pl.col("status_raw")).alias("status_raw"),
    ).select(list(SILVER_SCHEMA.names()))
    # events in this batch that found their sale here are done; the rest go to the target
    batch.folded += int(latest_events.join(latest_sales, on=list(KEY), how="semi").height)
    rule = pl.col("_orphan_rule") if "_orphan_rule" in frame.columns else pl.lit(None, pl.String)
    batch.events = latest_events.join(latest_sales, on=list(KEY), how="anti").select(
        *KEY, "status", "status_raw", "_source_file", "_source_sha256", "_sheet", "_row", "_bronze_version",
        "_raw_gross_amount", rule.fill_null("sale_exists").alias("_orphan_rule"),
    )  # fmt: skip


def orphan_events(batch: Batch, known_keys: pl.DataFrame, cluster: str) -> None:
    """Events whose sale is neither in this batch nor in silver become rejects (never silently lost)."""
    if batch.events.is_empty():
        return
    orphans = batch.events.join(known_keys, on=list(KEY), how="anti")
    why = {"sale_exists": "a refund/chargeback for a sale not in silver",
           "amount_not_negative": "a negative amount, and no sale with this id for it to refund"}  # fmt: skip
    for (rule,), rows in orphans.group_by("_orphan_rule", maintain_order=True):
        batch.rejected[str(rule)] += rows.height
        extra = _reject_rows(rows, str(rule), cluster, pl.lit(why[str(rule)]))
        batch.rejects = (
            pl.concat([batch.rejects, extra], how="diagonal_relaxed") if batch.rejects.height else extra
        )
    if orphans.height:
        batch.events = batch.events.join(orphans.select(KEY), on=list(KEY), how="anti")


def summary(batch: Batch) -> dict[str, Any]:
    return {
        "rows_in": batch.rows_in,
        "transactions": batch.sales.height,
        "status_updates": batch.events.height,
        "folded": batch.folded,
        "ignored_events": batch.ignored_events,
        "rejected": dict(batch.rejected + Counter()),
        "warnings": dict(batch.warnings),
        "unknown_statuses": dict(batch.unknown_statuses),
        "unknown_layouts": [
            {"files": u.files, "columns": u.columns, "suggested_mapping": u.suggestion}
            for u in batch.unknown_layouts
        ],
        "profiles": dict(batch.profiles),
        "skipped": batch.skipped,
        "missing_columns": batch.missing_columns,
        "unknown_platform": dict(batch.unknown_platform),
        "claimed_unknown": batch.claimed,
        "retired_unknown": batch.retired.height,
        "layouts": batch.layouts,
    }
