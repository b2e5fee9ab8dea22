"""Alerts reach a real loopback webhook receiver and a real local SMTP server (STARTTLS, login) for
every trigger: a quarantined file, a changed or unknown layout, an unknown status, too many rejects,
a stale heartbeat, refund and chargeback rates; once per cause per period, retried, never holding
up ingest, and no secret in the logs."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lakectl import alerts
from lakectl.cli import app
from lakectl.config import load_settings

from .conftest import env_for, lake_settings
from .tools import require_module, require_tool

TOKEN = "bot123456:SECRET-TOKEN"
PASSWORD = "s3cret-pw"
HOTMART = "Código da transação;Status da transação;Data da transação;Produto;Valor de compra com impostos\n"


class Receiver:
    """A webhook receiver on loopback: records JSON bodies; can fail the first N requests or hold them."""

    def __init__(self, fail_first: int = 0) -> None:
        self.bodies: list[dict] = []
        self.requests = 0
        self.fail_first = fail_first
        self.release = threading.Event()
        self.release.set()
        self.holding = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests += 1
                if receiver.requests <= receiver.fail_first:
                    self.send_response(500)
                    self.end_headers()
                    return
                if not receiver.release.is_set():
                    receiver.holding.set()
                    receiver.release.wait(60)
                receiver.bodies.append({"path": self.path, **json.loads(body)})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{TOKEN}/sendMessage"

    def kinds(self) -> list[str]:
        return sorted(b["kind"] for b in self.bodies)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receiver():
    r = Receiver()
    yield r
    r.close()


def alert_env(settings, receiver: Receiver, **extra: str) -> dict[str, str]:
    return {**env_for(settings), "LAKECTL_ALERTS__TARGETS": json.dumps([{"kind": "webhook", "url": receiver.url}]),
            "LAKECTL_ALERTS__BACKOFF_S": "0", **extra}  # fmt: skip


def lakectl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lakectl", *args], env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=180)  # fmt: skip


def _unhealthy_lake(tmp_path: Path):
    settings = lake_settings(tmp_path)
    folder = settings.landing_zone / "diabetes"
    folder.mkdir(parents=True)
    (folder / "hotmart.csv").write_text(
        HOTMART + "HP1;Aprovado;01/10/2026 10:00:00;Chá;10,00\nHP2;Zeta ômega 42;02/10/2026 10:00:00;Chá;12,00\n"
        "HP3;Reembolsado;03/10/2026 10:00:00;Chá;10,00\nHP4;Chargeback;04/10/2026 10:00:00;Chá;10,00\n"
    )  # fmt: skip
    (folder / "planilha_estranha.csv").write_text("zzz;yyy;xxx\n1;2;3\n4;5;6\n")
    assert lakectl(env_for(settings), "ingest", str(folder)).returncode == 0
    return settings


def test_promote_alerts_on_unknown_layout_status_rejects_and_rates_once(tmp_path, receiver):
    settings = _unhealthy_lake(tmp_path)
    env = alert_env(settings, receiver, LAKECTL_ALERTS__MIN_SALES="1", LAKECTL_ALERTS__REFUND_RATE="0.2",
                    LAKECTL_ALERTS__CHARGEBACK_RATE="0.2")  # fmt: skip
    result = CliRunner().invoke(app, ["promote", "all"], env=env)
    assert result.exit_code == 0, result.output
    assert receiver.kinds() == ["chargeback_rate", "layout", "refund_rate", "rejects", "unknown_status"]
    by_kind = {b["kind"]: b for b in receiver.bodies}
    assert "planilha_estranha.csv" in by_kind["layout"]["text"] and "--full" in by_kind["layout"]["text"]
    assert by_kind["unknown_status"]["cause"] == "Zeta ômega 42"
    assert by_kind["rejects"]["details"] == {"rejected": 2, "rows_in": 6}
    assert by_kind["refund_rate"]["details"]["rate"] == pytest.approx(1 / 3, abs=1e-4)
    again = CliRunner().invoke(app, ["promote", "all", "--full"], env=env)  # the same causes, same period
    assert again.exit_code == 0, again.output
    assert len(receiver.bodies) == 5


def test_health_alert_on_a_stale_heartbeat_once_per_period(tmp_path, receiver):
    settings = lake_settings(tmp_path)
    beat = settings.lake_root / "_lakectl" / "heartbeat.json"
    beat.parent.mkdir(parents=True)
    beat.write_text(json.dumps({"status": "running", "updated_at": time.time() - 3600}))
    env = alert_env(settings, receiver)
    for _ in range(2):
        result = CliRunner().invoke(app, ["health", "--alert", "--max-age", "120"], env=env)
        assert result.exit_code == 1
    assert receiver.kinds() == ["heartbeat"] and "s old (limit 120 s)" in receiver.bodies[0]["text"]
    healthy = CliRunner().invoke(
        app, ["health", "--max-age", "120"], env={**env, "LAKECTL_ALERTS__DEDUPE_HOURS": "0"}
    )
    assert healthy.exit_code == 1 and len(receiver.bodies) == 1  # without --alert nothing is sent


def test_a_failing_receiver_is_retried_and_telegram_gets_chat_id_and_text(tmp_path, caplog):
    flaky = Receiver(fail_first=2)
    try:
        settings = load_settings(lake_root=tmp_path / "lake", alerts={"attempts": 3, "backoff_s": 0, "targets": [
            {"kind": "webhook", "url": flaky.url, "chat_id": "-100123"}]})  # fmt: skip
        with caplog.at_level(logging.INFO, logger="lakectl"):
            sent = alerts.deliver(settings, [alerts.heartbeat_stale("heartbeat is 900 s old")])
        assert [a.kind for a in sent] == ["heartbeat"] and flaky.requests == 3
        assert flaky.bodies == [{"path": f"/{TOKEN}/sendMessage", "chat_id": "-100123",
                                 "text": "the watcher is not running\n\nheartbeat is 900 s old\n"
                                         "Check: systemctl status lakectl-watch"}]  # fmt: skip
        assert "attempt 1/3" in caplog.text and TOKEN not in caplog.text
    finally:
        flaky.close()


def test_an_alert_that_reaches_no_target_is_tried_again_next_time(tmp_path):
    with socket.socket() as probe:  # a port with nothing listening: connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = load_settings(lake_root=tmp_path / "lake", alerts={"attempts": 2, "backoff_s": 0, "targets": [
        {"kind": "webhook", "url": f"http://127.0.0.1:{port}/hook"}]})  # fmt: skip
    assert alerts.deliver(settings, [alerts.heartbeat_stale("old")]) == []
    assert alerts.Ledger(settings).claim(["heartbeat:-:stale"]) == ["heartbeat:-:stale"]  # not marked as sent


@pytest.fixture()
def smtp_server(tmp_path):
    require_module("aiosmtpd", "the alert e-mails go to a real local SMTP server")
    openssl = require_tool("openssl", "a certificate for the local SMTP server's STARTTLS")
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    class Inbox:
        def __init__(self) -> None:
            self.messages: list[str] = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append(envelope.content.decode())
            return "250 OK"

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            b"lake",
            PASSWORD.encode(),
        )
        # handled=False: the server answers 535 itself (handled=True would send nothing, and the
        # client would wait out its timeout on every attempt)
        return AuthResult(success=ok, handled=False)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            authenticator=authenticator, auth_require_tls=True)  # fmt: skip
    controller.start()
    yield {"port": port, "cert": cert, "inbox": inbox}
    controller.stop()


def test_alert_mail_over_starttls_with_login(tmp_path, smtp_server, caplog):
    target = {"kind": "smtp", "host": "127.0.0.1", "port": smtp_server["port"], "username": "lake", "password": PASSWORD,
              "sender": "lakectl@loja.example", "to": ["dono@loja.example"], "ca_file": str(smtp_server["cert"])}  # fmt: skip
    settings = load_settings(lake_root=tmp_path / "lake", alerts={"backoff_s": 0, "targets": [target]})
    with caplog.at_level(logging.INFO, logger="lakectl"):
        sent = alerts.deliver(settings, [alerts.heartbeat_stale("heartbeat is 900 s old")])
    assert len(sent) == 1
    [message] = smtp_server["inbox"].messages
    assert "Subject: [lakectl] the watcher is not running" in message and "To: dono@loja.example" in message
    assert "heartbeat is 900 s old" in message
    assert f"smtp 127.0.0.1:{smtp_server['port']}" in caplog.text and PASSWORD not in caplog.text
    wrong = load_settings(
        lake_root=tmp_path / "other", alerts={"backoff_s": 0, "targets": [{**target, "password": "wrong-pw"}]}
    )
    with caplog.at_level(logging.INFO, logger="lakectl"):
        assert alerts.deliver(wrong, [alerts.heartbeat_stale("x")]) == []
    # not delivered, and said so; a refused login is final, not retried
    assert "login refused (535)" in caplog.text and "attempt 1/3" not in caplog.text
    assert PASSWORD not in caplog.text


def test_watch_alerts_on_a_quarantined_file_and_a_changed_layout_without_holding_up_ingest(tmp_path):
    """A real `lakectl watch`: the receiver holds the first alert while the next file is ingested and
    archived; a copy of the quarantined bytes raises no second alert; a new column raises `layout`."""
    from .test_watch import wait_for

    receiver = Receiver()
    receiver.release.clear()  # every request waits until released
    settings = lake_settings(tmp_path)
    folder = settings.landing_zone / "diabetes"
    folder.mkdir(parents=True)
    env = {**os.environ, **alert_env(settings, receiver, LAKECTL_WATCH__STABILITY_WINDOW_S="0.3",
                                     LAKECTL_WATCH__RECONCILE_INTERVAL_S="1")}  # fmt: skip
    log_file = tmp_path / "watch.log"
    pdf = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
    archive, quarantine = settings.landing_zone / "_archive", settings.landing_zone / "_quarantine"
    with log_file.open("w") as log_out:
        service = subprocess.Popen([sys.executable, "-m", "lakectl", "watch", "--log-format", "json"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=log_out)  # fmt: skip
    try:
        (folder / "relatorio.csv").write_bytes(pdf)
        wait_for(receiver.holding.is_set, what="the quarantine alert reaching the receiver")
        (folder / "hotmart.csv").write_text(HOTMART + "HP1;Aprovado;01/10/2026 10:00:00;Chá;10,00\n")
        wait_for(lambda: list(archive.rglob("hotmart.csv")), what="the next file archived")
        assert receiver.bodies == []  # ingested and archived while the alert was still held
        receiver.release.set()
        wait_for(lambda: len(receiver.bodies) == 1, what="the quarantine alert")
        (folder / "relatorio_copia.csv").write_bytes(pdf)  # same bytes, same cause: no second alert
        wait_for(lambda: list(quarantine.rglob("relatorio_copia.csv")), what="the copy quarantined")
        (folder / "hotmart_nova.csv").write_text(
            HOTMART.rstrip("\n") + ";Cupom\nHP2;Aprovado;02/10/2026 10:00:00;Chá;12,00;BLACK10\n"
        )
        wait_for(lambda: len(receiver.bodies) == 2, what="the layout alert")
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=60) == 0
    finally:
        if service.poll() is None:
            service.kill()
        receiver.close()
    assert receiver.kinds() == ["layout", "quarantined"]
    by_kind = {b["kind"]: b for b in receiver.bodies}
    assert by_kind["quarantined"]["details"]["file"] == "relatorio.csv"
    assert "looks like a PDF document" in by_kind["quarantined"]["text"]
    assert "lakectl quarantine retry relatorio.csv" in by_kind["quarantined"]["text"]
    assert by_kind["layout"]["details"] == {"file": "hotmart_nova.csv", "new_columns": ["cupom"]}
    assert TOKEN not in log_file.read_text()  # the webhook URL carries the token: never logged
