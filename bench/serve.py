"""`lakectl serve` benchmark: uploads/s and webhook events/s with p50/p95 latency, server on one core.

    python bench/serve.py [--uploads 200] [--now 30] [--events 300] [--threads 4] [--summary-json PATH] [--small]

A real server process pinned to CPU 0 (taskset), a client in this process over loopback. Uploads are
small distinct CSV exports (queued for the watcher, then ingested at once with ?ingest=now, which
parses in the warm child process as in production); webhooks are distinct Hotmart deliveries, then
replays of them, then a burst from several client threads. Last: how long until silver shows them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from measure import summary_row, write_summary  # noqa: E402

from tests.serve_client import HOTTOK, Server, multipart, running  # noqa: E402  (the test harness)


def export(i: int) -> bytes:
    rows = "".join(f"BENCH-{i}-{r};{r},90;Aprovado\n" for r in range(20))
    return ("Código da transação;Valor;Status\n" + rows).encode()


def hotmart(i: int) -> bytes:
    return json.dumps({
        "id": f"bench-{i}", "event": "PURCHASE_APPROVED", "creation_date": 1791300000000 + i,
        "data": {"product": {"id": 1, "name": "Curso"}, "buyer": {"email": f"c{i}@example.com"},
                 "purchase": {"transaction": f"HPB{i:06d}", "status": "APPROVED", "order_date": 1791200000000,
                              "price": {"value": 97.0, "currency_value": "BRL"}}},
    }).encode()  # fmt: skip


def timed(call) -> float:
    started = time.perf_counter()
    reply = call()
    elapsed = time.perf_counter() - started
    if reply.status >= 300 and reply.status != 202:
        raise SystemExit(f"unexpected {reply.status}: {reply.body[:200]!r}")
    return elapsed


def summary(name: str, latencies: list[float], wall: float, unit: str, rows: list[dict[str, object]]) -> str:
    ordered = sorted(latencies)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    rate = len(latencies) / wall
    rows.append(summary_row("P6", name, "throughput", rate, unit))
    rows.append(summary_row("P6", name, "p95 latency", p95 * 1000, "ms"))
    return (f"{name:<32} {len(latencies):>5}  {rate:8.1f}/s  p50 {statistics.median(ordered) * 1000:7.1f} ms"
            f"  p95 {p95 * 1000:7.1f} ms")  # fmt: skip


def upload(server: Server, i: int, query: str = "") -> float:
    body, content_type = multipart({"cluster": "diabetes"}, [(f"bench_{i}.csv", export(i))])
    return timed(
        lambda: server.request("POST", "/api/v1/files" + query, body, {"Content-Type": content_type})
    )


def webhook(server: Server, i: int) -> float:
    return timed(lambda: server.request("POST", "/api/v1/webhooks/hotmart/diabetes", hotmart(i),
                                        {"X-HOTMART-HOTTOK": HOTTOK, "Content-Type": "application/json"}, token=None))  # fmt: skip


def run(args: argparse.Namespace) -> None:
    prefix = ("taskset", "-c", "0") if shutil.which("taskset") else ()
    with (
        tempfile.TemporaryDirectory() as tmp,
        running(Path(tmp), prefix, LAKECTL_READER__ISOLATE="true") as server,
    ):
        print(f"lakectl serve on {'CPU 0' if prefix else 'all CPUs'}; {platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} CPUs, Python {platform.python_version()}")  # fmt: skip
        lines: list[str] = []
        rows: list[dict[str, object]] = []
        started = time.perf_counter()
        lat = [upload(server, i) for i in range(args.uploads)]
        lines.append(summary("upload, queued", lat, time.perf_counter() - started, "uploads/s", rows))
        upload(server, -1, "?ingest=now")  # start the warm parser process
        started = time.perf_counter()
        lat = [upload(server, args.uploads + i, "?ingest=now") for i in range(args.now)]
        lines.append(
            summary("upload, ?ingest=now (20 rows)", lat, time.perf_counter() - started, "uploads/s", rows)
        )
        started = time.perf_counter()
        lat = [webhook(server, i) for i in range(args.events)]
        lines.append(summary("webhook, new event", lat, time.perf_counter() - started, "events/s", rows))
        started = time.perf_counter()
        lat = [webhook(server, i) for i in range(min(args.events, 100))]
        lines.append(
            summary("webhook, replay (duplicate)", lat, time.perf_counter() - started, "events/s", rows)
        )
        first = args.events
        started = time.perf_counter()
        with ThreadPoolExecutor(args.threads) as pool:
            lat = list(pool.map(lambda i: webhook(server, i), range(first, first + args.events)))
        lines.append(
            summary(
                f"webhook, {args.threads} client threads",
                lat,
                time.perf_counter() - started,
                "events/s",
                rows,
            )
        )
        import polars as pl

        silver = server.lake / "silver" / "diabetes"
        waited = time.perf_counter()
        while True:
            try:
                done = (
                    pl.read_delta(str(silver)).filter(pl.col("transaction_id").str.starts_with("HPB")).height
                )
            except Exception:
                done = 0
            if done >= 2 * args.events or time.perf_counter() - waited > 300:
                break
            time.sleep(0.2)
        lines.append(
            f"silver has {done} of {2 * args.events} webhook sales {time.perf_counter() - waited:.1f} s after the last answer"
        )
        print("\n".join(lines))
        write_summary(args.summary_json, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--now", type=int, default=30)
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--summary-json", type=Path)
    parser.add_argument("--small", action="store_true", help="a few requests of each kind: a smoke test")
    args = parser.parse_args()
    if args.small:
        args.uploads, args.now, args.events = 10, 3, 20
    run(args)


if __name__ == "__main__":
    main()
