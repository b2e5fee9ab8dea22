"""Gold benchmark: rebuild every gold table from generated silver, side by side with DuckDB.

    python bench/gold.py [--rows 10000000] [--repeat 1] [--summary-json PATH] [--small]

Silver is generated straight into the five cluster tables (the canonical schema's columns that gold
reads). Then, each in its own process on the same tables: `lakectl promote gold --full`, and the
same five aggregations as DuckDB SQL over `DeltaTable(...).to_pyarrow_dataset()`, written back to
Delta the same way. Wall time and peak RSS from wait4(). Target (issue): lakectl <= 1.2x DuckDB.
DuckDB is a benchmark-only dependency (`pip install duckdb`).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from measure import measure, summary_row, write_summary

CLUSTERS = ["diabetes", "emagrecimento", "rejuvenescimento", "relacionamento", "renda_extra"]

# the part no gold strategy that reads silver can avoid: lakectl's read of the columns gold needs
READ_SCRIPT = """
from lakectl.config import load_settings
from lakectl.promote import read_silver
from lakectl.transform import gold
read_silver(load_settings(), list(gold.SILVER_COLUMNS))
"""

DUCKDB_SCRIPT = r'''
import sys, duckdb, pyarrow as pa
from deltalake import DeltaTable, write_deltalake
lake, clusters = sys.argv[1], sys.argv[2].split(",")
con = duckdb.connect()
datasets = [DeltaTable(f"{lake}/silver/{c}").to_pyarrow_dataset() for c in clusters]
for i, ds in enumerate(datasets):
    con.register(f"s{i}", ds)
con.execute("create view silver as " + " union all ".join(f"select * from s{i}" for i in range(len(datasets))))
paid = "status in ('approved', 'refunded', 'chargeback')"
queries = {
  "daily_sales": """
    select cast(timezone('America/Sao_Paulo', purchased_at) as date) as sale_date, cluster, platform, product_name, currency,
      count(*) filter (where status = 'approved') as orders,
      coalesce(sum(gross_amount) filter (where status = 'approved'), 0) as gross_revenue,
      count(*) filter (where status = 'refunded') as refunded_orders,
      coalesce(sum(gross_amount) filter (where status = 'refunded'), 0) as refunded_amount,
      count(*) filter (where status = 'chargeback') as chargebacks,
      coalesce(sum(gross_amount) filter (where status = 'chargeback'), 0) as chargeback_amount,
      coalesce(sum(coalesce(net_amount, gross_amount)) filter (where status = 'approved'), 0) as net_revenue
    from silver group by all order by all""",
  "product_performance": f"""
    select cluster, product_name, currency, orders, revenue, paid_orders, refunded_orders, chargebacks, first_sale, last_sale,
      case when orders > 0 then round(revenue / orders, 2) end as average_ticket,
      case when paid_orders > 0 then round(refunded_orders / paid_orders, 4) end as refund_rate,
      case when paid_orders > 0 then round(chargebacks / paid_orders, 4) end as chargeback_rate
    from (select cluster, product_name, currency,
        count(*) filter (where status = 'approved') as orders,
        coalesce(sum(gross_amount) filter (where status = 'approved'), 0) as revenue,
        count(*) filter (where {paid}) as paid_orders,
        count(*) filter (where status = 'refunded') as refunded_orders,
        count(*) filter (where status = 'chargeback') as chargebacks,
        min(purchased_at) filter (where {paid}) as first_sale, max(purchased_at) filter (where {paid}) as last_sale
      from silver group by all) order by cluster, revenue desc, product_name""",
  "customers": """
    with base as (select * from silver where customer_key is not null),
    value as (select customer_key, list(struct_pack(currency := currency, amount := amount) order by currency) as lifetime_value
      from (select customer_key, currency, sum(gross_amount) as amount from base where status = 'approved' group by all)
      group by customer_key)
    select b.*, len(b.clusters) as cluster_count, v.lifetime_value from (
      select customer_key, list(distinct cluster order by cluster) as clusters, min(purchased_at) as first_purchase,
        max(purchased_at) as last_purchase, count(*) filter (where status = 'approved') as orders,
        count(*) filter (where status in ('refunded', 'chargeback')) as refunds
      from base group by customer_key) b left join value v using (customer_key) order by customer_key""",
  "refund_rates": f"""
    select *, case when paid_orders > 0 then round(refunded_orders / paid_orders, 4) end as refund_rate,
      case when paid_orders > 0 then round(chargebacks / paid_orders, 4) end as chargeback_rate
    from (select cluster, platform, strftime(timezone('America/Sao_Paulo', purchased_at), '%Y-%m') as month,
        count(*) filter (where {paid}) as paid_orders, count(*) filter (where status = 'refunded') as refunded_orders,
        count(*) filter (where status = 'chargeback') as chargebacks
      from silver group by all) order by all""",
}
for name, sql in queries.items():
    write_deltalake(f"{lake}/duckdb_gold/{name}", con.sql(sql).to_arrow_table(), mode="overwrite")
con.register("customers_t", DeltaTable(f"{lake}/duckdb_gold/customers").to_pyarrow_dataset())
overlap = """
  with e as (select customer_key, unnest(clusters) as cluster, cluster_count from customers_t),
  pairs as (select a.cluster, b.cluster as other, count(*) as customers from e a join e b using (customer_key) group by all),
  per as (select cluster, count(*) as cluster_customers, count(*) filter (where cluster_count > 1) as also_elsewhere from e group by all)
  select p.*, per.cluster_customers, per.also_elsewhere,
    round(per.also_elsewhere / per.cluster_customers, 4) as share_also_elsewhere
  from pairs p join per using (cluster) order by all"""
write_deltalake(f"{lake}/duckdb_gold/cluster_overlap", con.sql(overlap).to_arrow_table(), mode="overwrite")
'''


def generate(lake: Path, rows: int) -> None:
    import polars as pl
    from deltalake import write_deltalake

    per_cluster = rows // len(CLUSTERS)
    for index, cluster in enumerate(CLUSTERS):
        n = pl.int_range(per_cluster, dtype=pl.Int64)
        h = (n + index * per_cluster).hash(7)
        frame = pl.select(
            pl.lit(cluster).alias("cluster"),
            pl.when(h % 5 == 0).then(pl.lit("kiwify")).otherwise(pl.lit("hotmart")).alias("platform"),
            pl.format("T{}", n + index * per_cluster).alias("transaction_id"),
            pl.when(h % 100 < 80).then(pl.lit("approved")).when(h % 100 < 88).then(pl.lit("refunded"))
            .when(h % 100 < 90).then(pl.lit("chargeback")).otherwise(pl.lit("pending")).alias("status"),
            pl.format("Produto {}", h % 30).alias("product_name"),
            ((h % 200_000).cast(pl.Float64) / 100 + 10).cast(pl.Decimal(18, 2)).alias("gross_amount"),
            ((h % 180_000).cast(pl.Float64) / 100 + 9).cast(pl.Decimal(18, 2)).alias("net_amount"),
            pl.when(h % 20 == 0).then(pl.lit("USD")).otherwise(pl.lit("BRL")).alias("currency"),
            (pl.lit(1_735_700_000_000_000) + (h % 31_000_000) * 1_000_000).cast(pl.Datetime("us", "UTC")).alias("purchased_at"),
            pl.format("c{}", h % (rows // 4)).alias("customer_key"),
        )  # fmt: skip
        write_deltalake(str(lake / "silver" / cluster), frame.to_arrow(), mode="overwrite")


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    result = measure(cmd, env)
    if not result.ok:
        raise SystemExit(f"{cmd[2][:40]!r}... failed: {result.error}")
    return result.wall_s, result.peak_rss_mib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--summary-json", type=Path)
    parser.add_argument("--small", action="store_true", help="100,000 rows: a smoke test")
    args = parser.parse_args()
    if args.small:
        args.rows, args.repeat = 100_000, 1
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="lakectl-gold-bench-") as tmp:
        lake = Path(tmp) / "delta_lake"
        started = time.perf_counter()
        generate(lake, args.rows)
        print(
            f"silver: {args.rows:,} generated rows in {len(CLUSTERS)} tables ({time.perf_counter() - started:.0f} s)"
        )
        env = {**os.environ, "LAKECTL_LAKE_ROOT": str(lake), "LAKECTL_LANDING_ZONE": str(Path(tmp) / "lz")}
        ours: list[tuple[float, float]] = []
        duck: list[tuple[float, float]] = []
        reads: list[tuple[float, float]] = []
        for _ in range(args.repeat):  # alternated
            ours.append(run([sys.executable, "-m", "lakectl", "promote", "gold", "--full"], env))
            duck.append(run([sys.executable, "-c", DUCKDB_SCRIPT, str(lake), ",".join(CLUSTERS)], env))
            reads.append(run([sys.executable, "-c", READ_SCRIPT], env))
        wall, rss = statistics.median(w for w, _ in ours), max(r for _, r in ours)
        duck_wall, duck_rss = statistics.median(w for w, _ in duck), max(r for _, r in duck)
        read_wall = statistics.median(w for w, _ in reads)
        print("variant | wall s (median) | peak RSS MiB")
        print(f"  lakectl promote gold --full | {wall:6.2f} | {rss:7.0f} | {wall / duck_wall:.2f}x DuckDB")
        print(f"  DuckDB SQL over the same tables | {duck_wall:6.2f} | {duck_rss:7.0f}")
        print(f"  reading the silver columns gold needs (its own process) | {read_wall:6.2f} | "
              f"{max(r for _, r in reads):7.0f} | {read_wall / wall:.0%} of the rebuild")  # fmt: skip
        print(f"load average now {os.getloadavg()[0]:.1f}")
        case = f"full rebuild, {args.rows:,} silver rows"
        write_summary(args.summary_json, [
            summary_row("P4", case, "lakectl promote gold --full", wall, "s", duck_wall, "≤ 1.2×", wall <= 1.2 * duck_wall),
            summary_row("P4", case, "DuckDB SQL", duck_wall, "s"),
            summary_row("P4", case, "reading silver alone", read_wall, "s", wall),
            summary_row("P4", case, "lakectl peak RSS", rss, "MiB", duck_rss),
            summary_row("P4", case, "DuckDB peak RSS", duck_rss, "MiB"),
        ])  # fmt: skip


if __name__ == "__main__":
    main()
