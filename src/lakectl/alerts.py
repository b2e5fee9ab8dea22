"""Alerts: what went wrong (or looks wrong), sent to webhooks and e-mail, once per cause per period.

Triggers are pure functions of what ingest, promotion and health already computed. Delivery is
retried with back-off and never raises: an alert that cannot be sent is logged, and the work that
raised it (ingest, promotion) is never held up by it; the watcher sends from a thread of its own.
Secrets (webhook URLs carry tokens, SMTP passwords) come from settings and are never logged: a
target is named by its kind and host only.
"""

from __future__ import annotations

import fcntl
import json
import logging
import queue
import smtplib
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lakectl import __version__
from lakectl.config import AlertTarget, Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alert:
    kind: str  # quarantined | layout | unknown_status | rejects | heartbeat | refund_rate | chargeback_rate
    cause: str  # what makes two alerts the same one (de-duplication key, with kind)
    title: str
    text: str
    cluster: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.cluster or '-'}:{self.cause}"

    def payload(self) -> dict[str, Any]:
        return {**asdict(self), "key": self.key, "sent_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "lakectl_version": __version__}  # fmt: skip


# -------------------------------------------------------------------------------------- triggers


def quarantined(result: dict[str, Any], where: str) -> Alert:
    """A file the watcher could not ingest and put in quarantine."""
    return Alert("quarantined", str(result.get("sha256") or result.get("file")),
                 f"file quarantined: {result.get('file')}",
                 f"{result.get('reason')}\nWhat to do: {result.get('hint') or 'see lakectl quarantine list'}"
                 f"\nNow in {where}; after fixing: lakectl quarantine retry {result.get('file')}",
                 result.get("cluster"), {"file": result.get("file"), "reason": result.get("reason")})  # fmt: skip


def new_layout(result: dict[str, Any]) -> list[Alert]:
    """An export whose columns bronze never had: the platform changed its layout (or a new one came)."""
    alerts = []
    for sheet in result.get("sheets", []):
        added = sheet.get("new_columns") or []
        if added and (result.get("bronze_version") or 0) > 0:
            alerts.append(Alert("layout", ",".join(sorted(added)), f"export layout changed: {result.get('file')}",
                                f"new columns in {result.get('cluster')}: {', '.join(added)}. Check that silver "
                                "still recognises the file: lakectl promote silver --dry-run",
                                result.get("cluster"), {"file": result.get("file"), "new_columns": added}))  # fmt: skip
    return alerts


def from_promotion(promotion: dict[str, Any], rejects_share: float) -> list[Alert]:
    """Unknown layouts, unknown statuses and too many rejects in one cluster's silver promotion."""
    cluster, report = promotion.get("cluster"), promotion.get("report") or {}
    alerts = []
    for layout in report.get("unknown_layouts", []):
        files = layout.get("files", [])
        alerts.append(Alert("layout", ",".join(sorted(layout.get("columns", []))), f"unknown export layout in {cluster}",
                            f"no profile recognises {', '.join(files)} (columns: {', '.join(layout.get('columns', [])[:20])}); "
                            f"its rows wait in silver/_rejects. Map it in lakectl.toml ([silver.profiles.{cluster}.<name>]), "
                            f"then: lakectl promote silver --cluster {cluster} --full",
                            cluster, {"files": files, "suggested_mapping": layout.get("suggested_mapping")}))  # fmt: skip
    for raw, count in sorted((report.get("unknown_statuses") or {}).items()):
        alerts.append(Alert("unknown_status", raw, f"unknown status {raw!r} in {cluster}",
                            f"{count} sale(s) have the status {raw!r}, which nothing maps; they are in silver with no "
                            f'status. Add statuses = {{ "{raw}" = "..." }} to the profile in lakectl.toml, then: '
                            f"lakectl promote silver --cluster {cluster} --full", cluster, {"rows": count}))  # fmt: skip
    rows_in = report.get("rows_in") or 0
    rejected = sum((report.get("rejected") or {}).values())
    if rows_in and rejected / rows_in > rejects_share:
        rules = ", ".join(f"{rule} {n}" for rule, n in sorted(report["rejected"].items()) if n)
        alerts.append(Alert("rejects", "share", f"{rejected / rows_in:.0%} of the rows rejected in {cluster}",
                            f"{rejected} of {rows_in} rows were rejected ({rules}); limit {rejects_share:.0%}. "
                            f"See: lakectl query \"select * from silver._rejects where cluster = '{cluster}'\"",
                            cluster, {"rejected": rejected, "rows_in": rows_in}))  # fmt: skip
    return alerts


def from_rates(revenue: Iterable[dict[str, Any]], settings: Settings) -> list[Alert]:
    """Refund or chargeback rate of a cluster's last 30 days (the report's window) above the limit."""
    cfg = settings.alerts
    alerts = []
    for row in revenue:
        sales = row.get("sales") or 0  # too few sales make a rate noise
        for kind, limit in (("refund_rate", cfg.refund_rate), ("chargeback_rate", cfg.chargeback_rate)):
            rate = row.get(kind)
            if rate is None or rate <= limit or sales < cfg.min_sales:
                continue
            name = kind.replace("_", " ")
            alerts.append(Alert(kind, row["currency"], f"{name} {rate:.1%} in {row['cluster']} ({row['currency']})",
                                f"the last 30 days' {name} in {row['cluster']} is {rate:.1%} (limit {limit:.1%}); "
                                "see the report's refund section: lakectl report", row["cluster"],
                                {"rate": rate, "limit": limit}))  # fmt: skip
    return alerts


def heartbeat_stale(message: str) -> Alert:
    return Alert(
        "heartbeat",
        "stale",
        "the watcher is not running",
        message + "\nCheck: systemctl status lakectl-watch",
    )


# -------------------------------------------------------------------------------------- delivery


def describe(target: AlertTarget) -> str:
    """A target as it may appear in logs: kind and host, never a URL path, token or password."""
    if target.kind == "webhook":
        url = target.url.get_secret_value() if target.url else ""
        return f"webhook {urlsplit(url).hostname or '?'}"
    return f"smtp {target.host}:{target.port}"


class Permanent(Exception):
    """A failure a retry cannot fix (a 4xx answer, a refused login)."""


def _post(target: AlertTarget, alert: Alert) -> None:
    assert target.url is not None
    if target.chat_id:  # Telegram's bot API: POST .../bot<token>/sendMessage {chat_id, text}
        body: dict[str, Any] = {"chat_id": target.chat_id, "text": f"{alert.title}\n\n{alert.text}"}
    else:
        body = alert.payload()
    request = urllib.request.Request(target.url.get_secret_value(), data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": f"lakectl/{__version__}"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=target.timeout_s) as answer:
            answer.read()
    except urllib.error.HTTPError as exc:
        if 400 <= exc.code < 500 and exc.code not in (408, 429):
            raise Permanent(f"HTTP {exc.code}") from None
        raise OSError(f"HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        raise OSError(str(exc.reason)) from None


def _mail(target: AlertTarget, alert: Alert) -> None:
    assert target.host is not None
    message = EmailMessage()
    message["Subject"] = f"[lakectl] {alert.title}"
    message["From"] = target.sender or f"lakectl@{target.host}"
    message["To"] = ", ".join(target.to)
    message.set_content(f"{alert.text}\n\n-- lakectl {__version__}, {alert.key}")
    context = ssl.create_default_context(cafile=str(target.ca_file) if target.ca_file else None)
    try:
        with smtplib.SMTP(target.host, target.port, timeout=target.timeout_s) as smtp:
            smtp.ehlo()
            if target.starttls:
                smtp.starttls(context=context)
                smtp.ehlo()
            if target.username:
                password = target.password.get_secret_value() if target.password else ""
                smtp.login(target.username, password)
            smtp.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        raise Permanent(f"login refused ({exc.smtp_code})") from None
    except (smtplib.SMTPException, ssl.SSLError) as exc:
        raise OSError(
            type(exc).__name__ + (f" {exc.smtp_code}" if hasattr(exc, "smtp_code") else "")
        ) from None


def send_to(target: AlertTarget, alert: Alert, attempts: int, backoff_s: float) -> bool:
    """Deliver one alert to one target, retrying transient failures; True when it got there."""
    for attempt in range(1, attempts + 1):
        try:
            (_post if target.kind == "webhook" else _mail)(target, alert)
            log.info("alert %s sent to %s", alert.key, describe(target))
            return True
        except Permanent as exc:
            log.error("alert %s refused by %s: %s", alert.key, describe(target), exc)
            return False
        except (OSError, TimeoutError) as exc:  # connection refused, timeouts, 5xx, TLS trouble
            log.warning("alert %s to %s failed (attempt %d/%d): %s", alert.key, describe(target), attempt, attempts,
                        type(exc).__name__ if not str(exc) else str(exc).splitlines()[0][:200])  # fmt: skip
            if attempt < attempts:
                time.sleep(backoff_s * 2 ** (attempt - 1))
    return False


class Ledger:
    """Which alerts went out when (a JSON file under a lock), so each cause is sent once a period."""

    def __init__(self, settings: Settings) -> None:
        root = settings.lake_root
        local = (
            root / "_lakectl" / "alerts_sent.json"
            if isinstance(root, Path)
            else Path("lakectl-alerts-sent.json")
        )
        self.path = settings.alerts.state_file or local  # an object-store lake keeps it in the working folder
        self.period_s = settings.alerts.dedupe_hours * 3600

    def _load(self) -> dict[str, float]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return {k: float(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def claim(self, keys: list[str]) -> list[str]:
        """The keys not sent within the period, marked as sent now (so a parallel process skips them)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            sent, now = self._load(), time.time()
            fresh = [k for k in dict.fromkeys(keys) if now - sent.get(k, 0.0) >= self.period_s]
            if fresh:
                kept = {k: t for k, t in sent.items() if now - t < max(self.period_s, 86400) * 7}
                self._write({**kept, **dict.fromkeys(fresh, now)})
            return fresh

    def release(self, keys: list[str]) -> None:
        """Forget keys whose alert reached no target: the next trigger tries again."""
        if not keys:
            return
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._write({k: t for k, t in self._load().items() if k not in keys})

    def _write(self, data: dict[str, float]) -> None:
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(data, indent=1))
        temporary.replace(self.path)


def deliver(settings: Settings, alerts: Iterable[Alert]) -> list[Alert]:
    """Send the alerts not already sent this period to every target; returns those that got out.

    Never raises: a failure to alert must not fail the work that found the problem."""
    cfg = settings.alerts
    wanted = {a.key: a for a in alerts}
    if not cfg.targets or not wanted:
        return []
    try:
        ledger = Ledger(settings)
        fresh = ledger.claim(list(wanted))
    except OSError as exc:
        log.error("cannot read or write the alert ledger (%s); alerts are sent without de-duplication", exc)
        ledger, fresh = None, list(wanted)
    sent: list[Alert] = []
    failed: list[Alert] = []
    for key in fresh:
        alert = wanted[key]
        delivered = [send_to(t, alert, cfg.attempts, cfg.backoff_s) for t in cfg.targets]
        (sent if any(delivered) else failed).append(alert)
    if ledger is not None:
        try:
            ledger.release([a.key for a in failed])
        except OSError as exc:
            log.error("cannot update the alert ledger: %s", exc)
    return sent


def after_promotion(settings: Settings, silver: list[dict[str, Any]], gold: bool) -> list[Alert]:
    """The alerts a promotion raises (silver's layouts, statuses and rejects; with gold, the clusters'
    refund and chargeback rates over the report's window), sent; never raises."""
    if not settings.alerts.targets:
        return []
    found = [a for p in silver for a in from_promotion(p, settings.alerts.rejects_share)]
    if gold:
        from lakectl.report import cluster_window

        try:
            found += from_rates(cluster_window(settings), settings)
        except Exception as exc:  # the rates are a check, never a reason to fail the promotion
            log.error("cannot check refund and chargeback rates for alerts: %s", exc)
    return deliver(settings, found)


class Sender:
    """Alerts sent from a thread of their own, so the watcher never waits on a slow receiver."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.queue: queue.Queue[list[Alert] | None] = queue.Queue()
        self.thread: threading.Thread | None = None
        if settings.alerts.targets:
            self.thread = threading.Thread(target=self._run, name="lakectl-alerts", daemon=True)
            self.thread.start()

    def submit(self, alerts: Iterable[Alert]) -> None:
        batch = list(alerts)
        if batch and self.thread is not None:
            self.queue.put(batch)

    def _run(self) -> None:
        while (batch := self.queue.get()) is not None:
            try:
                deliver(self.settings, batch)
            except Exception:  # a bug here must not end the thread: later alerts still go out
                log.exception("alert delivery failed")

    def close(self, timeout_s: float = 30.0) -> None:
        """Let queued alerts go out for up to ``timeout_s``, then stop (the thread is a daemon)."""
        if self.thread is not None:
            self.queue.put(None)
            self.thread.join(timeout_s)
            if self.thread.is_alive():
                log.warning("stopping with alerts still being sent")
