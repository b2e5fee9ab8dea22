"""A generator of sales layouts lakectl has never seen: for each platform and a hand-kept sheet,
many renderings per field (Portuguese, English, Spanish, German; abbreviations, units, accents
dropped, word order, case), extra columns that tempt the matcher (notes, a paid-with-interest total,
a net value, a due date, a birth date, an affiliate's e-mail), and optional fields left out.

The labels here were written from how people and platforms name columns, not from lakectl's own
vocabulary, so the accuracy it measures is generalisation, not recall of a list.

    python -m tests.variations [LAYOUTS]     # prints the matcher's accuracy
"""

from __future__ import annotations

import random
import sys
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import polars as pl

from lakectl.read.schema import unique_names

LABELS: dict[str, list[str]] = {
    "transaction_id": [
        "Código da transação", "Cód. Transação", "Nº do pedido", "Número do Pedido", "ID Venda", "Order Number",
        "Order #", "Transaction Code", "Id de la transacción", "Nro. de orden", "Número de pedido",
        "Bestellnummer", "Transaktions-ID", "Referência da venda", "Sale ID", "Invoice No.", "Fatura nº",
        "Pedido", "Cod Venda", "ID do pedido", "Código de compra", "Compra (código)", "Purchase ID",
        "Auftragsnummer", "Numero de factura",
    ],
    "status": [
        "Status", "Situação", "Status do pedido", "Order Status", "Estado del pago", "Estado", "Zahlungsstatus",
        "Bestellstatus", "Sit. Pagamento", "Payment status", "Status da compra", "Situacao da venda",
        "Estatus", "Transaction status",
    ],
    "product_name": [
        "Produto", "Nome do produto", "Product", "Product Name", "Item comprado", "Producto",
        "Nombre del producto", "Produktname", "Artikel", "Curso", "Oferta", "Produto adquirido", "Prod.",
        "Artikelbezeichnung",
    ],
    "gross_amount": [
        "Valor", "Valor total", "Vlr. Bruto", "Valor (R$)", "Preço", "Price", "Total (BRL)", "Gross amount",
        "Importe bruto", "Monto total", "Precio", "Bruttobetrag", "Gesamtbetrag", "Betrag (EUR)",
        "Valor da compra", "Sale amount", "Order total", "Vlr Venda", "Preço de venda", "Valor bruto (R$)",
        "Faturamento bruto", "Total da venda", "Importe", "Umsatz brutto",
    ],
    "net_amount": [
        "Valor líquido", "Líquido", "Net amount", "Vlr. Líq.", "Monto neto", "Nettobetrag", "Net revenue",
        "Valor liquido (R$)", "Receita líquida", "Ganho líquido",
    ],
    "commission_amount": ["Comissão", "Comissão do afiliado", "Affiliate commission", "Comisión", "Vlr. Comissão"],
    "currency": ["Moeda", "Currency", "Moneda", "Währung", "Divisa", "Moeda da compra"],
    "purchased_at": [
        "Data", "Data da compra", "Dt. Venda", "Data do pedido", "Order date", "Purchase date", "Fecha",
        "Fecha de compra", "Kaufdatum", "Bestelldatum", "Datum", "Criado em", "Created at", "Date of sale",
        "Data/hora da venda", "Dt Pedido", "Venda - data", "Fecha del pedido", "Transaction date",
    ],
    "approved_at": [
        "Data de pagamento", "Data aprovação", "Paid at", "Payment date", "Fecha de pago", "Zahlungsdatum",
        "Dt. Confirmação", "Data de confirmação", "Approval date",
    ],
    "payment_method": [
        "Forma de pagamento", "Meio de pagamento", "Payment method", "Método de pago", "Zahlungsart",
        "Pagamento", "Tipo de pagamento", "Forma pgto", "Payment type", "Medio de pago",
    ],
    "installments": ["Parcelas", "Nº de parcelas", "Qtd. parcelas", "Installments", "Cuotas", "Raten", "Parcelamento"],
    "customer_name": [
        "Cliente", "Nome do cliente", "Comprador", "Customer", "Customer name", "Buyer", "Nombre del cliente",
        "Kunde", "Kundenname", "Aluno", "Nome do comprador", "Buyer name", "Cliente - nome",
    ],
    "customer_email": [
        "E-mail", "Email do cliente", "E-mail comprador", "Customer email", "Correo electrónico", "Correo",
        "E-Mail-Adresse", "Mail", "Email", "Buyer e-mail",
    ],
    "customer_phone": [
        "Telefone", "Tel.", "Celular", "WhatsApp", "Fone", "Phone", "Teléfono", "Móvil", "Telefonnummer",
        "Handynummer", "Contato (WhatsApp)", "Cel. cliente", "Phone number", "Tel. (Zap)",
    ],
    "customer_document": ["CPF", "CPF/CNPJ", "Documento", "Doc. comprador", "Document", "DNI", "CPF do cliente",
                          "Documento (CPF)"],
    "platform": ["Plataforma", "Platform", "Plattform", "Plataforma de venda"],
}  # fmt: skip

# Columns that are none of the fields, some built to be mistaken for one.
DISTRACTORS: dict[str, str] = {
    "Observações": "notes",
    "Obs.": "notes",
    "Notes": "notes",
    "Cupom": "coupon",
    "Cidade": "city",
    "UF": "state",
    "UTM Source": "utm",
    "Afiliado": "person",
    "E-mail do afiliado": "email",
    "Data de nascimento": "date",
    "Data de vencimento": "date",
    "Valor da parcela": "money_small",
    "Valor pago com juros": "money_interest",
    "Taxa da plataforma": "money_small",
    "Desconto (R$)": "money_small",
    "Código do produto": "code",
    "ID do afiliado": "code",
}

STATUS_WORDS = {
    "approved": ["Pago", "Paid", "Pagado", "Bezahlt", "Aprovada", "Completed", "Completado", "Abgeschlossen",
                 "Concluída", "Confirmed"],
    "refunded": ["Reembolsada", "Refunded", "Reembolsado", "Erstattet", "Estornada", "Devuelto",
                 "Zurückerstattet", "Returned"],
    "chargeback": ["Chargeback", "Contestação", "Disputed", "Rückbuchung", "Contracargo"],
    "pending": ["Pendente", "Aguardando", "Pending", "Pendiente", "Ausstehend", "Em processamento", "Processing",
                "Procesando"],
    "refused": ["Recusada", "Declined", "Rechazado", "Abgelehnt", "Negado", "Failed"],
    "cancelled": ["Cancelada", "Canceled", "Cancelado", "Storniert", "Anulado"],
    "expired": ["Expirada", "Expired", "Vencido", "Abgelaufen", "Caducado"],
    "blocked": ["Bloqueada", "Blocked", "Em análise", "Under review", "En revisión", "In Prüfung", "Gesperrt"],
    "refund_pending": ["Reembolso solicitado", "Refund requested", "Reembolso pendiente", "Erstattung beantragt"],
}  # fmt: skip
PLATFORMS = ("hotmart", "kiwify", "eduzz", "monetizze", "braip", "clickbank", "digistore24", "hand-kept")
REQUIRED = ("transaction_id", "gross_amount", "purchased_at")
OPTIONAL = tuple(f for f in LABELS if f not in REQUIRED and f != "platform")


def _drop_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def render(label: str, rng: random.Random) -> str:
    """One way a person or an export writes a label: case, accents, separators."""
    choice = rng.random()
    if choice < 0.2:
        label = _drop_accents(label)
    elif choice < 0.35:
        label = label.upper()
    elif choice < 0.5:
        label = label.lower()
    if rng.random() < 0.15:
        label = label.replace(" ", "_")
    return label


@dataclass
class Variation:
    platform: str
    headers: list[str]
    truth: dict[str, str]  # field -> bronze column name
    frame: pl.DataFrame  # bronze-like: normalised names, text values, lineage columns


def _cpf(rng: random.Random) -> str:
    digits = [rng.randrange(10) for _ in range(9)]
    for length in (9, 10):
        total = sum(d * w for d, w in zip(digits, range(length + 1, 1, -1), strict=False)) % 11
        digits.append(0 if total < 2 else 11 - total)
    text = "".join(map(str, digits))
    return f"{text[:3]}.{text[3:6]}.{text[6:9]}-{text[9:]}"


def _money(value: Decimal, comma: bool) -> str:
    text = f"{value:,.2f}"
    return text.replace(",", "_").replace(".", ",").replace("_", ".") if comma else text


def _values(kind: str, rows: int, rng: random.Random, platform: str, comma: bool) -> list[str]:
    base = datetime(2026, 9, 1, 8, 0)
    names = ["Ana Souza", "Bruno Lima", "Carla Dias", "Jürgen Weiß", "María Pérez", "John Smith", "Lia Rocha"]
    if kind == "transaction_id":
        shapes = {"hotmart": lambda i: f"HP{rng.randrange(10**11, 10**12)}", "kiwify": lambda i: uuid.UUID(int=rng.getrandbits(128)).hex[:8],
                  "clickbank": lambda i: "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(8))}  # fmt: skip
        make = shapes.get(platform, lambda i: str(10_000_000 + i * 7 + rng.randrange(7)))
        return [make(i) for i in range(rows)]
    if kind in ("gross_amount", "money_interest", "net_amount", "commission_amount", "money_small"):
        factor = {"gross_amount": 1, "money_interest": 1.12, "net_amount": 0.9, "commission_amount": 0.4,
                  "money_small": 0.05}[kind]  # fmt: skip
        return [
            _money(Decimal(rng.choice([97, 197, 49.9, 1997, 37])) * Decimal(str(factor)), comma)
            for _ in range(rows)
        ]
    if kind in ("purchased_at", "approved_at", "date"):
        fmt = rng.choice(["%d/%m/%Y %H:%M:%S", "%d/%m/%Y", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"])
        offset = 400 if kind == "date" else 0
        return [
            (base + timedelta(days=rng.randrange(60) - offset, minutes=i)).strftime(fmt) for i in range(rows)
        ]
    if kind == "status":
        labels = [w for words in STATUS_WORDS.values() for w in words]
        chosen = rng.sample(labels, 6)
        return [rng.choice(chosen) for _ in range(rows)]
    if kind == "product_name":
        return [
            rng.choice(["Curso de Excel", "Mentoria Pro", "Ebook Receitas", "Kurs Deutsch"])
            for _ in range(rows)
        ]
    if kind in ("customer_name", "person"):
        return [rng.choice(names) for _ in range(rows)]
    if kind in ("customer_email", "email"):
        return [f"user{rng.randrange(10**6)}@example.com" for _ in range(rows)]
    if kind == "customer_phone":
        return [f"(11) 9{rng.randrange(1000, 9999)}-{rng.randrange(1000, 9999)}" for _ in range(rows)]
    if kind == "customer_document":
        return [_cpf(rng) for _ in range(rows)]
    if kind == "currency":
        return [rng.choice(["BRL", "BRL", "USD"]) for _ in range(rows)]
    if kind == "installments":
        return [str(rng.choice([1, 1, 3, 6, 12])) for _ in range(rows)]
    if kind == "payment_method":
        return [
            rng.choice(["Pix", "Boleto", "Cartão de crédito", "Credit card", "Tarjeta"]) for _ in range(rows)
        ]
    if kind == "platform":
        return [rng.choice(["Hotmart", "Kiwify", "Eduzz"]) for _ in range(rows)]
    if kind == "notes":
        words = [
            "cliente",
            "pediu",
            "nota",
            "fiscal",
            "ligar",
            "amanhã",
            "entregue",
            "via",
            "email",
            "sem",
            "resposta",
        ]
        return [" ".join(rng.sample(words, rng.randrange(2, 6))) + f" #{i}" for i in range(rows)]
    if kind == "code":
        return [str(rng.randrange(100, 999)) for _ in range(rows)]
    if kind == "city":
        return [rng.choice(["São Paulo", "Recife", "Curitiba"]) for _ in range(rows)]
    if kind == "state":
        return [rng.choice(["SP", "PE", "PR"]) for _ in range(rows)]
    if kind == "coupon":
        return [rng.choice(["", "BLACK10", "PROMO"]) for _ in range(rows)]
    return [rng.choice(["google", "instagram", "email"]) for _ in range(rows)]  # utm


def variation(rng: random.Random, platform: str | None = None, rows: int = 30) -> Variation:
    platform = platform or rng.choice(PLATFORMS)
    fields = list(REQUIRED) + [f for f in OPTIONAL if rng.random() < 0.6]
    if platform == "hand-kept":
        fields.append("platform")
    distractors = rng.sample(sorted(DISTRACTORS), rng.randrange(0, 4))
    columns: list[tuple[str | None, str, str]] = [(f, f, render(rng.choice(LABELS[f]), rng)) for f in fields]
    columns += [(None, DISTRACTORS[d], render(d, rng)) for d in distractors]
    rng.shuffle(columns)
    headers = [label for _, _, label in columns]
    names = unique_names(headers)
    comma = rng.random() < 0.7
    data = {}
    truth = {}
    for (name_field, kind, _), name in zip(columns, names, strict=True):
        data[name] = _values(kind, rows, rng, platform, comma)
        if name_field:
            truth[name_field] = name
    frame = pl.DataFrame(data).with_columns(
        pl.lit(f"{uuid.UUID(int=rng.getrandbits(128)).hex[:6]}.csv").alias("_source_file"),
        pl.lit("export").alias("_sheet"),
        pl.int_range(1, rows + 1).alias("_row"),
    )
    return Variation(platform, headers, truth, frame)


def accuracy(count: int = 400, seed: int = 11) -> dict[str, float]:
    """The matcher on ``count`` generated layouts: share of fields mapped right, of layouts all
    right, and the mistakes by field."""
    from lakectl.transform.recognise import understand

    rng = random.Random(seed)
    right = total = perfect = 0
    wrong: dict[str, int] = {}
    for _ in range(count):
        case = variation(rng)
        layout, _ = understand(case.frame)
        got = layout.mapping
        ok = True
        for name, column in case.truth.items():
            total += 1
            if got.get(name) == column:
                right += 1
            else:
                ok = False
                wrong[name] = wrong.get(name, 0) + 1
        extra = {f for f, c in got.items() if f not in case.truth and f != "event"}
        for name in extra - {"product_id"}:  # a product code distractor may rightly be product_id
            ok = False
            wrong[f"{name} (invented)"] = wrong.get(f"{name} (invented)", 0) + 1
        perfect += ok
    return {
        "fields": right / total,
        "layouts": perfect / count,
        "fields_checked": total,
        **{k: v / count for k, v in sorted(wrong.items())},
    }


if __name__ == "__main__":
    print(accuracy(int(sys.argv[1]) if len(sys.argv) > 1 else 400))
