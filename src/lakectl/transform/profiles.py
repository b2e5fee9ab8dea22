"""Source layouts -> the canonical sales schema: one profile per platform export, recognised by
several of its headers (bronze names are normalised snake_case), plus a generic profile of
Portuguese/English synonyms for hand-kept sheets. Users add or override profiles per cluster in
lakectl.toml. Pure data and pure functions: no I/O.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

CANONICAL_FIELDS = (
    "transaction_id",
    "status",
    "event",
    "product_id",
    "product_name",
    "gross_amount",
    "net_amount",
    "commission_amount",
    "currency",
    "purchased_at",
    "approved_at",
    "payment_method",
    "installments",
    "customer_name",
    "customer_first_name",
    "customer_last_name",
    "customer_email",
    "customer_phone",
    "customer_document",
    "platform",
    "original_transaction_id",  # a refund/chargeback row's reference to the sale it undoes
)
STATUSES = (
    "approved",
    "pending",
    "refunded",
    "refund_pending",
    "chargeback",
    "cancelled",
    "refused",
    "expired",
    "blocked",  # blocked or under review: the sale stays visible in silver, out of revenue
    "duplicated",
    "test",
)

# Folded (lower-case, no accents) labels of every platform -> canonical status.
_MULTI = {
    "approved": ["pagamento aprovado", "venda realizada"],
    "pending": [
        "aguardando pagamento",
        "em recuperacao",
        "boleto impresso",
        "boleto gerado",
        "waiting payment",
    ],
    "refunded": ["reembolso efetuado"],
    "refund_pending": ["aguardando reembolso", "reembolso pendente", "reembolso solicitado"],
    "chargeback": ["estorno de cartao"],
    "refused": ["nao autorizado", "nao autorizada"],
    "expired": ["boleto vencido"],
}
_SINGLE = {
    "approved": "aprovado aprovada completo completa pago paga finalizada finalizado confirmado confirmada "
    "concluido concluida approved paid complete completed sale bill payment",
    "pending": "pendente aberta aberto processando aguardando autorizado autorizada waiting_payment pending "
    "processing authorized",
    "refunded": "reembolsado reembolsada estornado estornada devolvida devolvido refunded refund rfnd",
    "refund_pending": "reclamado reclamada protestado protestada pending_refund refund_requested",
    "chargeback": "chargeback chargedback cgbk contestado contestada",
    "cancelled": "cancelado cancelada canceled cancelled",
    "refused": "recusado recusada negado negada refused denied insf payment_denial payment_missed",
    "expired": "expirado expirada expired vencido vencida",
    "duplicated": "duplicado duplicada duplicated duplicate",
    "test": "teste test test_sale test_bill test_rfnd",
}
STATUS_LABELS: dict[str, str] = {}
for _status, _words in _SINGLE.items():
    STATUS_LABELS.update(dict.fromkeys(_words.split(), _status))
for _status, _phrases in _MULTI.items():
    STATUS_LABELS.update(dict.fromkeys(_phrases, _status))

# Statuses that arrive as an event on an existing sale (ClickBank RFND/CGBK, Digistore24 refunds):
# they change that sale's status and add no revenue.
EVENT_STATUSES = frozenset({"refunded", "refund_pending", "chargeback", "cancelled"})
# Events that neither create nor change a sale (subscription bookkeeping).
IGNORED_EVENTS = frozenset(
    {"cancel-rebill", "uncancel-rebill", "rebill_cancelled", "rebill_resumed", "last_paid_day"}
)
NULL_TOKENS = ("(none)", "-", "--", "n/a", "na", "null", "none", "#n/a")


@dataclass(frozen=True)
class Profile:
    """How one source layout maps onto the canonical schema.

    ``columns`` lists, per canonical field, the bronze column names that may hold it (first present
    wins). A layout is recognised when every name of one of the ``signatures`` is present.
    """

    name: str
    platform: str | None  # None: the platform comes from the 'platform' column (hand-kept sheets)
    signatures: tuple[frozenset[str], ...]
    columns: Mapping[str, tuple[str, ...]]
    decimal_comma: bool = True  # how its text exports write numbers (workbooks are machine form)
    day_first: bool = True
    timezone: str = "America/Sao_Paulo"
    currency: str = "BRL"  # when the export has no currency column
    statuses: Mapping[str, str] = field(default_factory=dict)  # extra folded labels -> status
    events: bool = False  # rows may be refund/chargeback events that reuse the sale's id
    priority: int = 1  # platform exports (1) are never overridden by hand-kept sheets (0)

    def resolve(self, present: Iterable[str]) -> dict[str, str]:
        """Canonical field -> the bronze column that holds it, for the columns present."""
        available = set(present)
        found = {}
        for canonical, candidates in self.columns.items():
            for candidate in candidates:
                if candidate in available:
                    found[canonical] = candidate
                    break
        return found

    def matches(self, present: Iterable[str]) -> int:
        """How specific a match this layout is (0: no match)."""
        available = set(present)
        return max((len(sig) for sig in self.signatures if sig <= available), default=0)


def _sig(*groups: str) -> tuple[frozenset[str], ...]:
    return tuple(frozenset(group.split()) for group in groups)


def _cols(**fields: str) -> dict[str, tuple[str, ...]]:
    return {name: tuple(value.split()) for name, value in fields.items()}


BUILT_IN = (
    Profile(
        name="hotmart",
        platform="hotmart",
        signatures=_sig(
            "codigo_da_transacao status_da_transacao", "codigo_da_transacao valor_de_compra_com_impostos"
        ),
        columns=_cols(
            transaction_id="codigo_da_transacao",
            status="status_da_transacao",
            product_id="codigo_do_produto",
            product_name="produto nome_do_produto",
            gross_amount="valor_de_compra_com_impostos preco_total valor_total",
            net_amount="faturamento_liquido_do_a_produtor_a faturamento_liquido",
            commission_amount="comissao_do_a_afiliado_a",
            currency="moeda_de_compra moeda",
            purchased_at="data_da_transacao data_de_venda",
            approved_at="confirmacao_do_pagamento data_de_confirmacao",
            payment_method="metodo_de_pagamento forma_de_pagamento",
            installments="quantidade_total_de_parcelas parcelas",
            customer_name="comprador_a nome_do_comprador comprador",
            customer_email="email_do_a_comprador_a email_do_comprador email",
            customer_phone="telefone telefone_do_comprador",
            customer_document="documento documento_do_comprador",
        ),
    ),
    Profile(
        name="hotmart_legacy",
        platform="hotmart",
        signatures=_sig(
            "transacao nome_do_produto", "transacao preco_total", "transacao status data_de_venda"
        ),
        columns=_cols(
            transaction_id="transacao",
            status="status",
            product_id="codigo_do_produto",
            product_name="nome_do_produto produto",
            gross_amount="preco_total valor_total faturamento_bruto",
            net_amount="faturamento_liquido valor_liquido",
            currency="moeda moeda_de_recebimento",
            purchased_at="data_de_venda data_da_venda data",
            approved_at="data_de_confirmacao",
            payment_method="forma_de_pagamento metodo_de_pagamento",
            installments="parcelas",
            customer_name="comprador nome",
            customer_email="email email_do_comprador e_mail",
            customer_phone="telefone",
            customer_document="documento",
        ),
    ),
    Profile(
        name="kiwify",
        platform="kiwify",
        signatures=_sig("id_da_venda status valor", "id_da_venda status produto"),
        columns=_cols(
            transaction_id="id_da_venda",
            status="status",
            product_id="id_do_produto",
            product_name="produto nome_do_produto",
            gross_amount="valor valor_total preco",
            net_amount="valor_liquido",
            commission_amount="comissao",
            currency="moeda",
            purchased_at="data_de_criacao data_da_venda data",
            approved_at="data_de_aprovacao data_de_pagamento",
            payment_method="metodo_de_pagamento forma_de_pagamento",
            installments="parcelas",
            customer_name="cliente nome_do_cliente nome",
            customer_email="email e_mail email_do_cliente",
            customer_phone="celular telefone",
            customer_document="cpf cpf_cnpj documento",
        ),
    ),
    Profile(
        name="eduzz",
        platform="eduzz",
        signatures=_sig("fatura valor_da_venda", "fatura status cliente", "trans_cod trans_value"),
        columns=_cols(
            transaction_id="fatura codigo_da_fatura trans_cod",
            status="status trans_status",
            product_id="codigo_do_produto product_cod",
            product_name="produto product_name",
            gross_amount="valor_da_venda trans_value",  # the sale value, not the paid value with interest
            commission_amount="valor_da_comissao aff_value",
            currency="moeda trans_currency",
            purchased_at="data_de_criacao trans_createdate",
            approved_at="data_de_pagamento trans_paiddate",
            payment_method="forma_de_pagamento trans_paymentmethod",
            installments="parcelas",
            customer_name="cliente cus_name",
            customer_email="e_mail email cus_email",
            customer_phone="telefone celular cus_cel cus_tel",
            customer_document="cpf_cnpj documento cus_taxnumber",
        ),
    ),
    Profile(
        name="monetizze",
        platform="monetizze",
        signatures=_sig("codigo_venda status", "codigo_venda valor"),
        columns=_cols(
            transaction_id="codigo_venda",
            status="status",
            product_id="codigo_produto",
            product_name="produto",
            gross_amount="valor valor_total",
            net_amount="valor_liquido",
            commission_amount="comissao",
            purchased_at="data_pedido data_da_venda data",
            approved_at="data_finalizada data_pagamento",
            payment_method="forma_pagamento forma_de_pagamento",
            installments="parcelas",
            customer_name="comprador cliente",
            customer_email="email e_mail",
            customer_phone="telefone celular",
            customer_document="cpf documento cpf_cnpj",
        ),
    ),
    Profile(
        name="braip",
        platform="braip",
        signatures=_sig("codigo_da_venda valor_total status", "codigo_da_venda status cliente"),
        columns=_cols(
            transaction_id="codigo_da_venda",
            status="status",
            product_id="codigo_do_produto",
            product_name="produto",
            gross_amount="valor_total valor",
            net_amount="valor_liquido",
            commission_amount="comissao",
            purchased_at="data_da_venda data",
            approved_at="data_de_pagamento",
            payment_method="forma_de_pagamento",
            installments="parcelas",
            customer_name="cliente",
            customer_email="e_mail email",
            customer_phone="telefone celular",
            customer_document="documento cpf",
        ),
    ),
    Profile(
        name="clickbank",
        platform="clickbank",
        signatures=_sig("receipt transaction_type", "receipt transaction_time amount"),
        columns=_cols(
            transaction_id="receipt",
            event="transaction_type",
            product_id="item",
            product_name="product_title",
            gross_amount="amount",
            currency="currency",
            purchased_at="transaction_time date",
            payment_method="payment_method",
            customer_name="customer_name",
            customer_first_name="first_name",
            customer_last_name="last_name",
            customer_email="customer_email email",
        ),
        decimal_comma=False,
        day_first=False,
        currency="USD",
        events=True,
    ),
    Profile(
        name="digistore24",
        platform="digistore24",
        signatures=_sig("order_id transaction_type", "order_id transaction_id amount_gross"),
        columns=_cols(
            transaction_id="order_id",
            event="transaction_type",
            product_id="product_id",
            product_name="product_name",
            gross_amount="amount_gross amount_brutto transaction_amount amount",
            net_amount="amount_net amount_netto",
            commission_amount="amount_affiliate",
            currency="currency transaction_currency",
            purchased_at="date order_date_time",
            payment_method="payment_method pay_method",
            customer_first_name="first_name address_first_name",
            customer_last_name="last_name address_last_name",
            customer_email="email",
            customer_phone="phone address_phone_no",
        ),
        currency="EUR",
        events=True,
    ),
)

# The generic profile for hand-kept sheets: synonyms after accent and case folding.
GENERIC = Profile(
    name="generic",
    platform=None,
    signatures=(),
    priority=0,
    columns=_cols(
        transaction_id="pedido id_do_pedido numero_do_pedido codigo codigo_da_venda id_da_venda transacao "
        "id_transacao order_id transaction_id id venda",
        status="situacao status status_da_venda estado",
        product_id="codigo_do_produto id_do_produto sku product_id",
        product_name="produto nome_do_produto product product_name item",
        gross_amount="valor valor_r valor_total valor_da_venda preco preco_total total amount price gross",
        net_amount="valor_liquido liquido net_amount net",
        commission_amount="comissao valor_da_comissao commission",
        currency="moeda currency",
        purchased_at="data data_da_venda data_do_pedido data_de_compra date order_date created_at",
        approved_at="data_de_pagamento data_de_aprovacao paid_at",
        payment_method="forma_de_pagamento metodo_de_pagamento pagamento payment_method",
        installments="parcelas installments",
        customer_name="cliente nome nome_do_cliente comprador customer customer_name name",
        customer_email="e_mail email email_do_cliente customer_email",
        customer_phone="telefone celular whatsapp phone",
        customer_document="cpf cnpj cpf_cnpj documento document",
        platform="plataforma platform",
    ),
)


def generic_matches(present: Iterable[str]) -> bool:
    """A hand-kept sheet counts as sales when it has an order id and an amount."""
    found = GENERIC.resolve(present)
    return "transaction_id" in found and "gross_amount" in found


def profile_from_config(name: str, data: Mapping[str, Any]) -> Profile:
    """A user profile from lakectl.toml (see the README), validated by Settings."""
    match = data.get("match") or list(data["columns"].values())
    return Profile(
        name=name,
        platform=data.get("platform"),
        signatures=(frozenset(match),),
        columns={k: (v,) if isinstance(v, str) else tuple(v) for k, v in data["columns"].items()},
        decimal_comma=data.get("decimal_comma", True),
        day_first=data.get("day_first", True),
        timezone=data.get("timezone", "America/Sao_Paulo"),
        currency=data.get("currency", "BRL"),
        statuses=dict(data.get("statuses", {})),
        events=data.get("events", False),
        priority=data.get("priority", 1 if data.get("platform") else 0),
    )


def recognise(present: Iterable[str], user: Iterable[Profile] = ()) -> Profile | None:
    """The profile for a layout: user profiles first, then the most specific built-in, then the
    generic one; None when nothing fits (reported, never guessed)."""
    columns = set(present)
    for profile in user:
        if profile.matches(columns):
            return profile
    best = max(BUILT_IN, key=lambda p: p.matches(columns))
    if best.matches(columns):
        return best
    return GENERIC if generic_matches(columns) else None


def suggest_mapping(present: Iterable[str]) -> dict[str, str]:
    """For an unknown layout, the closest column for each canonical field (a starting point for a
    user profile in lakectl.toml)."""
    columns = list(present)
    suggestion = {}
    for canonical, synonyms in GENERIC.columns.items():
        for synonym in synonyms:
            close = difflib.get_close_matches(synonym, columns, n=1, cutoff=0.75)
            if close:
                suggestion[canonical] = close[0]
                break
    return suggestion
