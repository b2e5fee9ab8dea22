"""Silver (all clusters) -> gold analytics tables. Pure polars, deterministic, no I/O.

Money is never summed across currencies: every money column sits next to its currency. Sale dates
are in America/Sao_Paulo, the business's calendar. No raw e-mail, phone or document reaches gold.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

import polars as pl

BUSINESS_TZ = "America/Sao_Paulo"
# The silver columns gold reads (a projection: the rest is never loaded).
SILVER_COLUMNS = ("cluster", "platform", "status", "product_name", "gross_amount", "net_amount", "currency",
                  "purchased_at", "customer_key")  # fmt: skip
MONEY = pl.Decimal(18, 2)

approved = pl.col("status") == "approved"
refunded = pl.col("status") == "refunded"
chargeback = pl.col("status") == "chargeback"


def _money(expr: pl.Expr) -> pl.Expr:
    return expr.fill_null(0).cast(MONEY)


def daily_sales(silver: pl.DataFrame) -> pl.DataFrame:
    """Per day (Sao Paulo), cluster, platform, product and currency."""
    return (
        silver.with_columns(
            pl.col("purchased_at").dt.convert_time_zone(BUSINESS_TZ).dt.date().alias("sale_date")
        )
        .group_by("sale_date", "cluster", "platform", "product_name", "currency")
        .agg(
            approved.sum().cast(pl.Int64).alias("orders"),
            _money(pl.col("gross_amount").filter(approved).sum()).alias("gross_revenue"),
            refunded.sum().cast(pl.Int64).alias("refunded_orders"),
            _money(pl.col("gross_amount").filter(refunded).sum()).alias("refunded_amount"),
            chargeback.sum().cast(pl.Int64).alias("chargebacks"),
            _money(pl.col("gross_amount").filter(chargeback).sum()).alias("chargeback_amount"),
            # what the producer keeps: the platform's net (after fees) where the export states it
            _money(pl.coalesce("net_amount", "gross_amount").filter(approved).sum()).alias("net_revenue"),
        )
        .sort("sale_date", "cluster", "platform", "product_name", "currency", nulls_last=True)
    )


def product_performance(silver: pl.DataFrame) -> pl.DataFrame:
    """Per cluster, product and currency: orders, revenue, average ticket, refund and chargeback rates."""
    paid = approved | refunded | chargeback  # sales that were paid at some point
    return (
        silver.group_by("cluster", "product_name", "currency")
        .agg(
            approved.sum().cast(pl.Int64).alias("orders"),
            _money(pl.col("gross_amount").filter(approved).sum()).alias("revenue"),
            paid.sum().cast(pl.Int64).alias("paid_orders"),
            refunded.sum().cast(pl.Int64).alias("refunded_orders"),
            chargeback.sum().cast(pl.Int64).alias("chargebacks"),
            pl.col("purchased_at").filter(paid).min().alias("first_sale"),
            pl.col("purchased_at").filter(paid).max().alias("last_sale"),
        )
        .with_columns(
            pl.when(pl.col("orders") > 0)
            .then((pl.col("revenue").cast(pl.Float64) / pl.col("orders")).round(2))
            .alias("average_ticket"),
            _rate("refunded_orders", "paid_orders").alias("refund_rate"),
            _rate("chargebacks", "paid_orders").alias("chargeback_rate"),
        )
        .sort("cluster", "revenue", "product_name", descending=[False, True, False], nulls_last=True)
    )


def _rate(part: str, whole: str) -> pl.Expr:
    return pl.when(pl.col(whole) > 0).then((pl.col(part) / pl.col(whole)).round(4))


def customers(silver: pl.DataFrame) -> pl.DataFrame:
    """One row per customer_key: clusters, first/last purchase, orders, refunds, and lifetime value
    per currency (a struct list: one entry per currency, never a cross-currency sum)."""
    names = sorted(silver["cluster"].unique().drop_nulls().to_list())
    bit = {name: 1 << i for i, name in enumerate(names)}
    # (customer, currency) first; each customer's clusters as a bitmask (a cheap numeric OR instead
    # of a list of unique strings per customer), turned into names once per distinct mask
    parts = (
        silver.lazy()
        .filter(pl.col("customer_key").is_not_null())
        .group_by("customer_key", "currency")
        .agg(
            pl.col("cluster").replace_strict(bit, return_dtype=pl.Int64).bitwise_or().alias("mask"),
            pl.col("purchased_at").min().alias("first"),
            pl.col("purchased_at").max().alias("last"),
            approved.sum().cast(pl.Int64).alias("orders"),
            (refunded | chargeback).sum().cast(pl.Int64).alias("refunds"),
            _money(pl.col("gross_amount").filter(approved).sum()).alias("amount"),
        )
    )
    per_customer = (
        parts.sort("currency")
        .group_by("customer_key")
        .agg(
            pl.col("mask").bitwise_or(),
            pl.col("first").min().alias("first_purchase"),
            pl.col("last").max().alias("last_purchase"),
            pl.col("orders").sum(),
            pl.col("refunds").sum(),
            pl.struct("currency", "amount").filter(pl.col("orders") > 0).alias("lifetime_value"),
        )
        .collect()
    )
    # an empty silver (no clusters to map) leaves the mask typed as the cluster names: make it a number
    per_customer = per_customer.with_columns(pl.col("mask").cast(pl.Int64))
    masks = per_customer["mask"].unique().to_list()
    as_names = pl.DataFrame(
        {"mask": masks, "clusters": [[n for n in names if m & bit[n]] for m in masks]},
        schema={"mask": pl.Int64, "clusters": pl.List(pl.String)},
    )
    return (
        per_customer.join(as_names, on="mask", how="left")
        .with_columns(
            pl.col("mask").bitwise_count_ones().cast(pl.Int64).alias("cluster_count"),
            pl.when(pl.col("lifetime_value").list.len() > 0)
            .then(pl.col("lifetime_value"))
            .alias("lifetime_value"),
        )
        .select(
            "customer_key",
            "clusters",
            "first_purchase",
            "last_purchase",
            "orders",
            "refunds",
            "cluster_count",
            "lifetime_value",
        )
        .sort("customer_key")
    )


def cluster_overlap(customer_table: pl.DataFrame, clusters: list[str]) -> pl.DataFrame:
    """The cross-sell map: for each pair of clusters (a, b), customers who bought in both; for each
    cluster (a, a), its customers, and the share of them who also buy elsewhere.

    Each customer's set of clusters becomes a bitmask; counting customers per mask leaves at most
    2^n groups, from which every pair is summed (no customer-by-customer self-join)."""
    bit = {cluster: 1 << i for i, cluster in enumerate(clusters)}
    masks = (
        customer_table.select(
            pl.col("clusters")
            .list.eval(pl.element().replace_strict(bit, default=0, return_dtype=pl.Int64))
            .list.sum()
        )
        .group_by("clusters")
        .len()
        .rows()
    )
    rows = []
    for a in clusters:
        both = {b: sum(n for mask, n in masks if mask & bit[a] and mask & bit[b]) for b in clusters}
        elsewhere = sum(n for mask, n in masks if mask & bit[a] and mask & ~bit[a])
        total = both[a]
        for b in clusters:
            rows.append((a, b, both[b], total, elsewhere, round(elsewhere / total, 4) if total else None))
    schema = {"cluster": pl.String, "other": pl.String, "customers": pl.Int64, "cluster_customers": pl.Int64,
              "also_elsewhere": pl.Int64, "share_also_elsewhere": pl.Float64}  # fmt: skip
    return pl.DataFrame(rows, schema=schema, orient="row")


def refund_rates(silver: pl.DataFrame) -> pl.DataFrame:
    """Per cluster, platform and month (Sao Paulo): paid orders, refunds, chargebacks and rates."""
    paid = approved | refunded | chargeback
    return (
        silver.with_columns(
            pl.col("purchased_at").dt.convert_time_zone(BUSINESS_TZ).dt.strftime("%Y-%m").alias("month")
        )
        .group_by("cluster", "platform", "month")
        .agg(
            paid.sum().cast(pl.Int64).alias("paid_orders"),
            refunded.sum().cast(pl.Int64).alias("refunded_orders"),
            chargeback.sum().cast(pl.Int64).alias("chargebacks"),
        )
        .with_columns(
            _rate("refunded_orders", "paid_orders").alias("refund_rate"),
            _rate("chargebacks", "paid_orders").alias("chargeback_rate"),
        )
        .sort("cluster", "platform", "month")
    )


TABLES = ("daily_sales", "product_performance", "customers", "cluster_overlap", "refund_rates")


def build(
    silver: pl.DataFrame, clusters: list[str], names: Iterable[str] = TABLES
) -> dict[str, pl.DataFrame]:
    """The gold tables ``names`` (every one by default) from the silver rows of all clusters."""
    customer_table = functools.cache(lambda: customers(silver))  # cluster_overlap builds on it
    builders: dict[str, Callable[[], pl.DataFrame]] = {
        "daily_sales": lambda: daily_sales(silver),
        "product_performance": lambda: product_performance(silver),
        "customers": customer_table,
        "cluster_overlap": lambda: cluster_overlap(customer_table(), clusters),
        "refund_rates": lambda: refund_rates(silver),
    }
    wanted = set(names)
    return {name: builders[name]() for name in TABLES if name in wanted}
