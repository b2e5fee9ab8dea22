"""Silver (all clusters) -> gold analytics tables. Pure polars, deterministic, no I/O.

Money is never summed across currencies: every money column sits next to its currency. Sale dates
are in America/Sao_Paulo, the business's calendar. No raw e-mail, phone or document reaches gold.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

BUSINESS_TZ = "America/Sao_Paulo"
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
    known = silver.filter(pl.col("customer_key").is_not_null())
    value = (
        known.filter(approved)
        .group_by("customer_key", "currency")
        .agg(_money(pl.col("gross_amount").sum()).alias("amount"))
        .sort("currency")
        .group_by("customer_key")
        .agg(pl.struct("currency", "amount").alias("lifetime_value"))
    )
    return (
        known.group_by("customer_key")
        .agg(
            pl.col("cluster").unique().sort().alias("clusters"),
            pl.col("purchased_at").min().alias("first_purchase"),
            pl.col("purchased_at").max().alias("last_purchase"),
            approved.sum().cast(pl.Int64).alias("orders"),
            (refunded | chargeback).sum().cast(pl.Int64).alias("refunds"),
        )
        .with_columns(pl.col("clusters").list.len().alias("cluster_count"))
        .join(value, on="customer_key", how="left")
        .sort("customer_key")
    )


def cluster_overlap(customer_table: pl.DataFrame, clusters: list[str]) -> pl.DataFrame:
    """The cross-sell map: for each pair of clusters (a, b), customers who bought in both; for each
    cluster (a, a), its customers, and the share of them who also buy elsewhere."""
    exploded = customer_table.select("customer_key", "clusters", "cluster_count").explode("clusters")
    exploded = exploded.rename({"clusters": "cluster"})
    pairs = (
        exploded.join(exploded.select("customer_key", pl.col("cluster").alias("other")), on="customer_key")
        .group_by("cluster", "other")
        .agg(pl.len().cast(pl.Int64).alias("customers"))
    )
    grid = pl.DataFrame({"cluster": clusters}).join(pl.DataFrame({"other": clusters}), how="cross")
    per_cluster = exploded.group_by("cluster").agg(
        pl.len().cast(pl.Int64).alias("cluster_customers"),
        (pl.col("cluster_count") > 1).sum().cast(pl.Int64).alias("also_elsewhere"),
    )
    return (
        grid.join(pairs, on=["cluster", "other"], how="left")
        .with_columns(pl.col("customers").fill_null(0))
        .join(per_cluster, on="cluster", how="left")
        .with_columns(
            pl.col("cluster_customers").fill_null(0),
            pl.col("also_elsewhere").fill_null(0),
        )
        .with_columns(_rate("also_elsewhere", "cluster_customers").alias("share_also_elsewhere"))
        .sort("cluster", "other")
    )


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


def build(silver: pl.DataFrame, clusters: list[str]) -> dict[str, pl.DataFrame]:
    """Every gold table from the silver rows of all clusters."""
    customer_table = customers(silver)
    builders: dict[str, Callable[[], pl.DataFrame]] = {
        "daily_sales": lambda: daily_sales(silver),
        "product_performance": lambda: product_performance(silver),
        "customers": lambda: customer_table,
        "cluster_overlap": lambda: cluster_overlap(customer_table, clusters),
        "refund_rates": lambda: refund_rates(silver),
    }
    return {name: make() for name, make in builders.items()}
