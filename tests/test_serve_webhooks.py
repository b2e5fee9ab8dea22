"""Webhooks through a real `lakectl serve`: verification, replay, malformed bodies, and silver."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from deltalake import DeltaTable

from lakectl import events
from lakectl.config import load_settings
from lakectl.lake import Lake
from lakectl.promote import promote_silver
from lakectl.transform import webhooks

from .serve_client import HOOK, HOTTOK, KIWIFY, Server, multipart, running

HOTMART_EXPORT = (
    "Código da transação;Status da transação;Produto;Valor de compra com impostos;Moeda de compra;"
    "Data da transação;Email do(a) Comprador(a)\n"
    "HP0001;Aprovado;Curso Glicemia;197,00;BRL;05/10/2026 14:03:00;ana@example.com\n"
    "HP0002;Aprovado;Curso Glicemia;97,00;BRL;06/10/2026 09:00:00;bia@example.com\n"
)


def hotmart(event_id: str, event: str, transaction: str, status: str, price: float = 197.0) -> bytes:
    """A Hotmart 2.0.0 webhook body (the fields lakectl reads, as Hotmart documents them)."""
    payload = {
        "id": event_id,
        "creation_date": 1791300000000,
        "event": event,
        "version": "2.0.0",
        "data": {
            "product": {"id": 4411, "name": "Curso Glicemia"},
            "buyer": {"name": "Ana", "email": "ana@example.com", "checkout_phone": "11 99999-8888"},
            "purchase": {
                "transaction": transaction,
                "status": status,
                "order_date": 1791200000000,
                "approved_date": 1791200005000,
                "price": {"value": price, "currency_value": "BRL"},
                "payment": {"type": "PIX", "installments_number": 1},
            },
            "commissions": [{"source": "PRODUCER", "value": 180.1}],
        },
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def kiwify(order_id: str, status: str, event_type: str) -> bytes:
    payload = {
        "order_id": order_id,
        "order_status": status,
        "webhook_event_type": event_type,
        "payment_method": "pix",
        "created_at": "2026-11-20 14:03",
        "Product": {"product_id": "prod-9", "product_name": "Método Leve"},
        "Customer": {"full_name": "Caio", "email": "Caio@Example.com", "mobile": "+5511988887777"},
        "Commissions": {"charge_amount": 9970, "currency": "BRL", "my_commission": 8500},
    }
    return json.dumps(payload, ensure_ascii=False).encode()


def signed(body: bytes) -> str:
    return hmac.new(KIWIFY.encode(), body, hashlib.sha1).hexdigest()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running(tmp_path_factory.mktemp("hooks"), LAKECTL_SERVE__MAX_BODY_KB="8") as srv:
        yield srv


def post(server: Server, path: str, body: bytes, headers: dict[str, str] | None = None) -> Any:
    return server.request(
        "POST", path, body, {"Content-Type": "application/json", **(headers or {})}, token=None
    )


def silver_row(server: Server, cluster: str, transaction: str, status: str | None = None) -> dict[str, Any]:
    """The silver row of a sale, waiting (bounded) for the server's background promotion."""
    path = server.lake / "silver" / cluster
    deadline = time.monotonic() + 60
    while True:
        if Lake(str(server.lake)).silver(cluster).exists():
            rows = pl.read_delta(str(path)).filter(pl.col("transaction_id") == transaction)
            if rows.height == 1 and (status is None or rows["status"][0] == status):
                return rows.row(0, named=True)
        if time.monotonic() > deadline:
            raise AssertionError(f"{transaction} never reached status {status} in silver/{cluster}")
        time.sleep(0.1)


def test_hotmart_refund_after_an_export_said_aprovado_updates_silver(server: Server) -> None:
    body, content_type = multipart({"cluster": "diabetes"}, [("hotmart_vendas.csv", HOTMART_EXPORT.encode())])
    upload = server.request("POST", "/api/v1/files?ingest=now", body, {"Content-Type": content_type})
    assert upload.status == 201, upload.body
    settings = load_settings(landing_zone=server.landing, lake_root=server.lake, reader={"isolate": False},
                             silver={"salt_file": server.root / "salt"})  # fmt: skip
    promote_silver(settings, ["diabetes"])
    before = silver_row(server, "diabetes", "HP0001", "approved")
    assert before["gross_amount"] == Decimal("197.00") and before["status_raw"] == "Aprovado"

    refund = hotmart("evt-refund-1", "PURCHASE_REFUNDED", "HP0001", "REFUNDED", price=150.0)
    reply = post(server, "/api/v1/webhooks/hotmart/diabetes", refund, {"X-HOTMART-HOTTOK": HOTTOK})
    assert (
        reply.status == 200
        and reply.json()["status"] == "stored"
        and reply.json()["sale_status"] == "refunded"
    )
    after = silver_row(server, "diabetes", "HP0001", "refunded")
    assert after["status_raw"] == "REFUNDED"
    assert after["gross_amount"] == Decimal("197.00")  # the export's values are kept
    assert after["_source_file"] == "webhook:hotmart:evt-refund-1"
    assert silver_row(server, "diabetes", "HP0002", "approved")["status_raw"] == "Aprovado"  # untouched
    silver = pl.read_delta(str(server.lake / "silver" / "diabetes"))
    assert silver.height == 2

    # a replay of the same delivery is stored once and changes nothing
    again = post(server, "/api/v1/webhooks/hotmart/diabetes", refund, {"X-HOTMART-HOTTOK": HOTTOK})
    assert again.json() == {**reply.json(), "status": "duplicate", "applied": False}
    stored = pl.read_delta(Lake(str(server.lake)).events("diabetes").uri)
    assert stored.filter(pl.col("event_id") == "evt-refund-1").height == 1
    assert stored.filter(pl.col("event_id") == "evt-refund-1")["raw"][0] == refund.decode()

    # a later promotion keeps both watermarks: nothing is re-applied, the refund stays
    (result,) = promote_silver(settings, ["diabetes"])
    assert result.status == "up_to_date" and result.report["webhook_events"]["status"] == "up_to_date"
    assert silver_row(server, "diabetes", "HP0001")["status"] == "refunded"
    # a rebuild from bronze re-applies the events
    promote_silver(settings, ["diabetes"], full=True)
    assert silver_row(server, "diabetes", "HP0001")["status"] == "refunded"


def test_kiwify_approval_becomes_a_sale_and_a_refund_changes_it(server: Server) -> None:
    paid = kiwify("kw-100", "paid", "order_approved")
    reply = post(server, f"/api/v1/webhooks/kiwify/renda_extra?signature={signed(paid)}", paid)
    assert reply.status == 200 and reply.json()["event_id"] == "kw-100:order_approved"
    sale = silver_row(server, "renda_extra", "kw-100", "approved")
    assert sale["platform"] == "kiwify" and sale["gross_amount"] == Decimal("99.70")
    assert sale["net_amount"] == Decimal("85.00") and sale["customer_email"] == "caio@example.com"
    assert sale["customer_phone"] == "+5511988887777" and sale["customer_key"]
    refunded = kiwify("kw-100", "refunded", "order_refunded")
    post(server, f"/api/v1/webhooks/kiwify/renda_extra?signature={signed(refunded)}", refunded)
    assert silver_row(server, "renda_extra", "kw-100", "refunded")["gross_amount"] == Decimal("99.70")


def test_generic_receiver_takes_canonical_events(server: Server) -> None:
    event = {"event_id": "g-1", "platform": "eduzz", "transaction_id": "EZ-9", "status": "approved",
             "gross_amount": "49.90", "currency": "brl", "purchased_at": "2026-11-02T10:00:00-03:00"}  # fmt: skip
    reply = post(server, "/api/v1/webhooks/generic/relacionamento", json.dumps(event).encode(),
                 {"Authorization": f"Bearer {HOOK}"})  # fmt: skip
    assert reply.status == 200, reply.body
    row = silver_row(server, "relacionamento", "EZ-9", "approved")
    assert row["platform"] == "eduzz" and row["currency"] == "BRL" and row["gross_amount"] == Decimal("49.90")
    assert str(row["purchased_at"]).startswith("2026-11-02 13:00")


BAD = [
    ("hotmart", {}, "bad signature", 401),
    ("hotmart", {"X-HOTMART-HOTTOK": "wrong-hottok"}, "bad signature", 401),
    ("hotmart", {"X-HOTMART-HOTTOK": HOTTOK}, "not json", 400),
    ("hotmart", {"X-HOTMART-HOTTOK": HOTTOK}, "[1, 2]", 400),
    ("hotmart", {"X-HOTMART-HOTTOK": HOTTOK}, '{"id": "x", "event": "PURCHASE_APPROVED", "data": {}}', 400),
    ("hotmart", {"X-HOTMART-HOTTOK": HOTTOK}, '{"event": "PURCHASE_APPROVED"}', 400),
    ("hotmart", {"X-HOTMART-HOTTOK": HOTTOK}, '{"id": 1, "event": "PURCHASE_APPROVED", "data": []}', 400),
    ("hotmart", {"X-HOTMART-HOTTOK": HOTTOK}, "x" * 9000, 413),
    ("kiwify", {}, '{"order_id": "1"}', 401),
    ("generic", {"Authorization": f"Bearer {HOOK}"}, '{"event_id": "1", "status": "sold"}', 400),
    ("generic", {"Authorization": "Bearer nope"}, "{}", 401),
    ("nosuch", {}, "{}", 404),
]


@pytest.mark.parametrize(("platform", "headers", "body", "status"), BAD)
def test_bad_webhooks_get_the_reason_never_a_500(
    server: Server, platform: str, headers: dict[str, str], body: str, status: int
) -> None:
    reply = post(server, f"/api/v1/webhooks/{platform}/diabetes", body.encode(), headers)
    assert reply.status == status
    assert reply.json()["error"]
    if status == 400:
        assert "payload" in reply.json()["error"] or "JSON" in reply.json()["error"]


def test_kiwify_signature_is_over_the_raw_body(server: Server) -> None:
    body = kiwify("kw-raw", "paid", "order_approved")
    reserialised = json.dumps(json.loads(body)).encode()  # same JSON, other bytes (escapes, spaces)
    assert reserialised != body
    wrong = post(server, f"/api/v1/webhooks/kiwify/diabetes?signature={signed(reserialised)}", body)
    assert wrong.status == 401
    right = post(server, f"/api/v1/webhooks/kiwify/diabetes?signature={signed(body).upper()}", body)
    assert right.status == 200


def test_unknown_cluster_is_refused_after_verification(server: Server) -> None:
    body = hotmart("evt-x", "PURCHASE_APPROVED", "HPX", "APPROVED")
    assert post(server, "/api/v1/webhooks/hotmart/nope", body).status == 401
    assert post(server, "/api/v1/webhooks/hotmart/nope", body, {"X-HOTMART-HOTTOK": HOTTOK}).status == 404


def test_events_that_change_no_sale_are_kept_but_not_applied(server: Server) -> None:
    body = json.dumps({"id": "evt-club", "event": "CLUB_FIRST_ACCESS", "data": {"user": {"email": "a@b.c"}}})
    reply = post(
        server, "/api/v1/webhooks/hotmart/rejuvenescimento", body.encode(), {"X-HOTMART-HOTTOK": HOTTOK}
    )
    assert reply.status == 200 and reply.json()["applied"] is False
    stored = pl.read_delta(Lake(str(server.lake)).events("rejuvenescimento").uri)
    assert stored["event_type"].to_list() == ["CLUB_FIRST_ACCESS"]


# ------------------------------------------------------------------------------- pure functions


def test_verification_is_constant_time_and_refuses_unconfigured_platforms() -> None:
    with pytest.raises(webhooks.WebhookError) as missing:
        webhooks.verify("hotmart", b"{}", {}, {}, None)
    assert missing.value.status == 404
    webhooks.verify("hotmart", b"{}", {"x-hotmart-hottok": "s3cret"}, {}, "s3cret")
    with pytest.raises(webhooks.WebhookError):
        webhooks.verify("hotmart", b"{}", {"x-hotmart-hottok": "s3cre"}, {}, "s3cret")
    assert webhooks.any_secret("b", ["a", "b", "c"]) and not webhooks.any_secret(None, ["a"])


def test_to_silver_keeps_one_row_per_sale_the_latest_status_and_earlier_values(tmp_path: Path) -> None:
    first = webhooks.parse("hotmart", hotmart("e1", "PURCHASE_APPROVED", "HP9", "APPROVED"))
    later = webhooks.parse("kiwify", kiwify("K1", "chargedback", "chargeback"))
    rows = []
    for version, event in enumerate([first, later]):
        rows.append({"event_id": event.event_id, "platform": event.platform, "event_type": event.event_type,
                     "occurred_at": event.occurred_at, "seq": version + 1, "_bronze_version": version,
                     "body_sha256": "0" * 64, **event.fields})  # fmt: skip
    refund = dict(rows[0], event_id="e2", event_type="PURCHASE_REFUNDED", status="refunded", status_raw="REFUNDED",
                  gross_amount=None, seq=3, _bronze_version=2)  # fmt: skip
    frame = pl.DataFrame([*rows, refund], infer_schema_length=None)
    silver = events.to_silver(frame, "diabetes", "salt")
    by_key = {r["transaction_id"]: r for r in silver.iter_rows(named=True)}
    assert set(by_key) == {"HP9", "K1"}
    assert by_key["HP9"]["status"] == "refunded" and by_key["HP9"]["gross_amount"] == Decimal("197.00")
    assert by_key["K1"]["status"] == "chargeback"


def test_two_stores_on_one_lake_keep_an_event_once(tmp_path: Path) -> None:
    settings = load_settings(lake_root=tmp_path / "lake", landing_zone=tmp_path / "lz")
    body = hotmart("evt-twice", "PURCHASE_APPROVED", "HP7", "APPROVED")
    event = webhooks.parse("hotmart", body)
    first, second = events.EventStore(settings), events.EventStore(settings)  # e.g. two server processes
    assert first.record("diabetes", event, body) == 0
    assert second.record("diabetes", event, body) is None
    other = webhooks.parse("hotmart", hotmart("evt-other", "PURCHASE_APPROVED", "HP8", "APPROVED"))
    assert second.record("diabetes", other, body) == 1
    assert first.record("diabetes", other, body) is None  # learnt from the commit it did not write
    assert pl.read_delta(Lake(str(settings.lake_root)).events("diabetes").uri).height == 2


def test_events_landing_during_a_promotion_are_not_skipped(tmp_path: Path) -> None:
    """Webhooks keep arriving while the promoter runs; every one must reach silver."""
    import threading

    settings = load_settings(lake_root=tmp_path / "lake", landing_zone=tmp_path / "lz",
                             silver={"customer_salt": "s"})  # fmt: skip
    store = events.EventStore(settings)
    done = threading.Event()

    def arrive() -> None:
        for i in range(40):
            body = hotmart(f"evt-race-{i}", "PURCHASE_APPROVED", f"HPR{i:03d}", "APPROVED")
            store.record("diabetes", webhooks.parse("hotmart", body), body)
        done.set()

    writer = threading.Thread(target=arrive)
    writer.start()
    while not done.is_set():
        events.promote_events(settings, "diabetes")
    writer.join()
    events.promote_events(settings, "diabetes")
    silver = pl.read_delta(str(tmp_path / "lake" / "silver" / "diabetes"))
    assert sorted(silver["transaction_id"]) == [f"HPR{i:03d}" for i in range(40)]


def hotmart_post(server: Server, event_id: str, transaction: str) -> Any:
    body = hotmart(event_id, "PURCHASE_APPROVED", transaction, "APPROVED")
    return post(server, "/api/v1/webhooks/hotmart/diabetes", body, {"X-HOTMART-HOTTOK": HOTTOK})


def stored_events(lake: Path) -> pl.DataFrame:
    return pl.read_delta(str(lake / "bronze" / "_events" / "diabetes"))


def test_concurrent_webhooks_share_commits_and_each_lands_exactly_once(tmp_path: Path) -> None:
    """A burst from 8 clients, a quarter of it re-sent deliveries: every event is stored once,
    numbered without gaps, each answered once as stored, and the burst took fewer commits than events."""
    from concurrent.futures import ThreadPoolExecutor

    ids = [f"evt-burst-{i}" for i in range(48)]
    with running(tmp_path / "srv") as server:
        with ThreadPoolExecutor(8) as pool:
            replies = list(
                pool.map(lambda i: hotmart_post(server, ids[i % 48], f"HPB{i % 48:03d}"), range(64))
            )
        assert {r.status for r in replies} == {200}
        answers = [r.json() for r in replies]
        stored = stored_events(server.lake)
        commits = DeltaTable(str(server.lake / "bronze" / "_events" / "diabetes")).history()
    assert sorted(a["event_id"] for a in answers if a["status"] == "stored") == sorted(ids)
    assert sum(a["status"] == "duplicate" for a in answers) == 16
    assert sorted(stored["event_id"]) == sorted(ids)
    assert sorted(stored["seq"]) == list(range(1, 49))
    assert sum(c.get("lakectl.operation") == "webhook_event" for c in commits) < len(ids)


def test_every_acknowledged_event_is_stored_when_the_server_is_killed_mid_burst(tmp_path: Path) -> None:
    """Six clients post new events non-stop; the server is killed (SIGKILL) while batches are in
    flight. Every event answered 'stored' is in the table, and none twice."""
    import threading

    acknowledged: list[str] = []
    halt = threading.Event()

    def client(n: int, server: Server) -> None:
        i = 0
        while not halt.is_set():
            event_id = f"evt-kill-{n}-{i}"
            try:
                reply = hotmart_post(server, event_id, f"HPK{n}{i:05d}")
            except OSError:  # the server is gone
                return
            if reply.status == 200 and reply.json()["status"] == "stored":
                acknowledged.append(event_id)
            i += 1

    with running(tmp_path / "srv") as server:
        clients = [threading.Thread(target=client, args=(n, server)) for n in range(6)]
        for thread in clients:
            thread.start()
        deadline = time.monotonic() + 120
        while len(acknowledged) < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.process.kill()
        server.process.wait(timeout=30)
        halt.set()
        for thread in clients:
            thread.join(timeout=60)
    assert len(acknowledged) >= 40
    stored = stored_events(server.lake)["event_id"].to_list()
    assert len(stored) == len(set(stored))
    assert set(acknowledged) <= set(stored)
