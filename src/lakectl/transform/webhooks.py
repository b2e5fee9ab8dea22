"""Platform webhooks: verify the request, then turn its JSON into one flat event. Pure, no I/O.

Verification always runs on the raw bytes, before any parsing, and compares in constant time.

- Hotmart sends the webhook's "Hottok" in the ``X-HOTMART-HOTTOK`` header (a shared token, not a
  signature): https://developers.hotmart.com/docs/en/1.0.0/webhook/using-webhook/
- Kiwify appends ``?signature=<hex HMAC-SHA1 of the raw body, keyed with the webhook token>`` to the
  URL; the token itself is never sent: https://docs.kiwify.com.br/api-reference/webhooks/receiving
- The generic receiver takes ``Authorization: Bearer <serve.webhook_token>`` and a body that already
  speaks lakectl's canonical field names (for platforms lakectl has no adapter for, or scripts).

Payloads have a documented, fixed schema, so each platform gets a dedicated mapping to the flat
fields of the bronze events table (text, as bronze always is); silver types them later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from lakectl.transform.profiles import CANONICAL_FIELDS, STATUS_LABELS, STATUSES

PLATFORMS = ("hotmart", "kiwify", "generic")
# The flat, textual fields every event carries into bronze (and silver maps to its columns): the
# canonical fields a payload states directly, plus the platform's own word for the status.
FIELDS = (
    "status_raw",
    *(
        f
        for f in CANONICAL_FIELDS
        if f
        not in ("event", "customer_first_name", "customer_last_name", "platform", "original_transaction_id")
    ),
)

# Hotmart names the change in ``event``; events that do not concern a purchase's status (club,
# subscription bookkeeping, abandoned carts) are kept in bronze but change nothing in silver.
HOTMART_EVENTS = {
    "PURCHASE_APPROVED": "approved",
    "PURCHASE_COMPLETE": "approved",
    "PURCHASE_REFUNDED": "refunded",
    "PURCHASE_CHARGEBACK": "chargeback",
    "PURCHASE_CANCELED": "cancelled",
    "PURCHASE_EXPIRED": "expired",
    "PURCHASE_PROTEST": "refund_pending",
    "PURCHASE_DELAYED": "pending",
    "PURCHASE_BILLET_PRINTED": "pending",
}


class WebhookError(Exception):
    """A request refused with a reason: ``status`` 401 (not verified) or 400 (malformed)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Event:
    platform: str
    event_id: str
    event_type: str
    occurred_at: datetime | None
    fields: dict[str, str | None] = field(default_factory=dict)

    @property
    def status(self) -> str | None:
        """The canonical status this event gives its sale, or None when it changes none."""
        return self.fields.get("status")


def same_secret(given: str | bytes | None, expected: str | bytes) -> bool:
    """Constant-time comparison; a missing value never matches."""
    if given is None:
        return False
    a = given.encode() if isinstance(given, str) else given
    b = expected.encode() if isinstance(expected, str) else expected
    return hmac.compare_digest(a, b)


def any_secret(given: str | None, secrets: Iterable[str]) -> bool:
    """Whether ``given`` is one of ``secrets``, comparing against every one (no early exit)."""
    found = False
    for secret in secrets:
        found |= same_secret(given, secret)
    return found


def kiwify_signature(body: bytes, token: str) -> str:
    return hmac.new(token.encode(), body, hashlib.sha1).hexdigest()


def verify(platform: str, body: bytes, headers: Mapping[str, str], query: Mapping[str, str],
           secret: str | None) -> None:  # fmt: skip
    """Raise WebhookError(401) unless the request proves it comes from ``platform``."""
    if not secret:
        raise WebhookError(404, f"the {platform} webhook is not configured on this server")
    if platform == "hotmart":
        ok = same_secret(headers.get("x-hotmart-hottok"), secret)
    elif platform == "kiwify":
        ok = same_secret(query.get("signature", "").lower(), kiwify_signature(body, secret))
    else:
        auth = headers.get("authorization", "")
        ok = auth[:7].lower() == "bearer " and same_secret(auth[7:].strip(), secret)
    if not ok:
        raise WebhookError(401, f"{platform} webhook: verification failed (token or signature)")


def parse(platform: str, body: bytes) -> Event:
    """The verified body -> one Event, or WebhookError(400) saying what is wrong."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebhookError(400, f"the body is not valid JSON ({exc})") from None
    if not isinstance(payload, dict):
        raise WebhookError(400, "the body must be a JSON object")
    try:
        return _PARSERS[platform](payload)
    except (KeyError, TypeError, AttributeError, ValueError, InvalidOperation) as exc:
        raise WebhookError(400, f"{platform} payload: missing or malformed field ({exc})") from None


def _dig(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip()
    return text or None


def _epoch_ms(value: Any) -> datetime | None:
    if value is None:
        return None
    return datetime.fromtimestamp(int(value) / 1000, UTC)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _required(value: Any, name: str) -> str:
    text = _text(value)
    if text is None:
        raise ValueError(f"{name} is missing")
    return text


def _hotmart(payload: dict[str, Any]) -> Event:
    event_type = _required(payload.get("event"), "event")
    data = payload.get("data") or {}
    purchase = _dig(data, "purchase") or {}
    buyer = _dig(data, "buyer") or {}
    producer_commission = next(
        (c.get("value") for c in data.get("commissions") or [] if c.get("source") == "PRODUCER"), None
    )
    status = HOTMART_EVENTS.get(event_type)
    fields = {
        "transaction_id": _text(purchase.get("transaction")),
        "status": status,
        "status_raw": _text(purchase.get("status")) or event_type,
        "product_id": _text(_dig(data, "product", "id")),
        "product_name": _text(_dig(data, "product", "name")),
        "gross_amount": _text(_dig(purchase, "price", "value")),
        "net_amount": None,
        "commission_amount": _text(producer_commission),
        "currency": _text(_dig(purchase, "price", "currency_value")),
        "purchased_at": _iso(_epoch_ms(purchase.get("order_date"))),
        "approved_at": _iso(_epoch_ms(purchase.get("approved_date"))),
        "payment_method": _text(_dig(purchase, "payment", "type")),
        "installments": _text(_dig(purchase, "payment", "installments_number")),
        "customer_name": _text(buyer.get("name")),
        "customer_email": _text(buyer.get("email")),
        "customer_phone": _text(buyer.get("checkout_phone") or buyer.get("phone")),
        "customer_document": _text(buyer.get("document")),
    }
    if status is not None and fields["transaction_id"] is None:
        raise ValueError("data.purchase.transaction is missing")
    return Event("hotmart", _required(payload.get("id"), "id"), event_type,
                 _epoch_ms(payload.get("creation_date")), fields)  # fmt: skip


def _cents(value: Any) -> str | None:
    """Kiwify sends amounts in cents (9970 = 99.70)."""
    if value is None:
        return None
    return str((Decimal(str(value)) / 100).quantize(Decimal("0.01")))


def _kiwify(payload: dict[str, Any]) -> Event:
    order_id = _required(payload.get("order_id"), "order_id")
    event_type = _text(payload.get("webhook_event_type")) or _required(
        payload.get("order_status"), "order_status"
    )
    raw_status = _text(payload.get("order_status"))
    status = STATUS_LABELS.get((raw_status or "").lower())
    product = payload.get("Product") or {}
    customer = payload.get("Customer") or {}
    money = payload.get("Commissions") or {}
    fields = {
        "transaction_id": order_id,
        "status": status,
        "status_raw": raw_status,
        "product_id": _text(product.get("product_id")),
        "product_name": _text(product.get("product_name")),
        "gross_amount": _cents(money.get("charge_amount") or money.get("product_base_price")),
        "net_amount": _cents(money.get("my_commission")),
        "commission_amount": None,
        "currency": _text(money.get("currency")) or _text(money.get("product_base_price_currency")),
        "purchased_at": _text(payload.get("created_at")),
        "approved_at": _text(payload.get("approved_date")),
        "payment_method": _text(payload.get("payment_method")),
        "installments": _text(payload.get("installments")),
        "customer_name": _text(customer.get("full_name")),
        "customer_email": _text(customer.get("email")),
        "customer_phone": _text(customer.get("mobile")),
        "customer_document": _text(customer.get("CPF") or customer.get("cnpj")),
    }
    # Kiwify documents no event id; a delivery is one (order, event type) pair, so a re-sent
    # delivery of the same change carries the same id.
    return Event("kiwify", f"{order_id}:{event_type}", event_type, None, fields)


def _generic(payload: dict[str, Any]) -> Event:
    status = _required(payload.get("status"), "status").lower()
    if status not in STATUSES:
        raise ValueError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    platform = _required(payload.get("platform"), "platform").lower()
    fields = {name: _text(payload.get(name)) for name in FIELDS}
    fields.update(status=status, status_raw=_text(payload.get("status_raw")) or status)
    _required(fields["transaction_id"], "transaction_id")
    occurred = _text(payload.get("occurred_at"))
    return Event(
        platform,
        _required(payload.get("event_id"), "event_id"),
        _text(payload.get("event_type")) or status,
        _aware(datetime.fromisoformat(occurred)) if occurred else None,
        fields,
    )


_PARSERS: dict[str, Callable[[dict[str, Any]], Event]] = {
    "hotmart": _hotmart,
    "kiwify": _kiwify,
    "generic": _generic,
}
