"""Deterministic generator of realistic sales exports for the five clusters (22 files).

    python examples/generate.py landing_zone

Each platform's file looks like its real export (see the shared platforms notes): Hotmart's
';'-separated UTF-8-with-BOM "Modelo Detalhado" with Brazilian numbers and dates, its older xlsx
layout with a title row, Kiwify and Braip xlsx, Eduzz .xls, Monetizze cp1252 CSV, ClickBank (USD)
and Digistore24 (EUR) CSVs with refund rows that reuse the sale's id, and a hand-kept sheet. The
mess is deliberate: title and totals rows, a re-export that repeats rows, a status that changes
between months, a column that appears in a later month, and one corrupt file.

``generate()`` returns the ground truth: the final state of every transaction, for tests.
"""

from __future__ import annotations

import csv
import io
import random
import sys
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import xlsxwriter
import xlwt

SEED = 20261126
EVENT_PLATFORMS = ("clickbank", "digistore24")


@dataclass(frozen=True)
class Sale:
    cluster: str
    platform: str
    transaction_id: str
    status: str  # canonical: approved, pending, refunded, chargeback, cancelled, refused
    product: str
    amount: Decimal
    currency: str
    name: str
    email: str
    phone: str
    document: str
    purchased_at: datetime  # local time (America/Sao_Paulo for Brazilian platforms)
    payment: str
    installments: int


PRODUCTS = {
    "diabetes": [("Protocolo Glicemia Controlada", Decimal("197.00")), ("Sugar Defender", Decimal("69.00"))],
    "emagrecimento": [("Desafio 21 Dias Seca", Decimal("97.00")), ("Chá Detox Premium", Decimal("147.90"))],
    "rejuvenescimento": [
        ("Pele de Porcelana", Decimal("127.00")),
        ("Colágeno Verisol Kit", Decimal("249.90")),
    ],
    "relacionamento": [("Reconquista Definitiva", Decimal("67.00"))],
    "renda_extra": [
        ("Afiliado Lucrativo", Decimal("497.00")),
        ("Renda com Celular", Decimal("37.00")),
        ("Mentoria Digital 1.0", Decimal("1997.00")),
    ],
}
FIRST = [
    "Ana",
    "Bruno",
    "Carla",
    "Diego",
    "Eduarda",
    "Felipe",
    "Gabriela",
    "Hugo",
    "Isabela",
    "João",
    "Larissa",
    "Marcos",
    "Natália",
    "Otávio",
    "Paula",
    "Rafael",
    "Sofia",
    "Tiago",
    "Vitória",
    "Wesley",
]
LAST = ["Silva", "Souza", "Oliveira", "Santos", "Pereira", "Lima", "Carvalho", "Gomes", "Ribeiro", "Araújo"]
# How each platform's export spells the canonical statuses (platforms notes; Monetizze/Braip: plausible).
STATUS_LABELS = {
    "kiwify": {"approved": "Pago", "pending": "Aguardando Pagamento", "refunded": "Reembolsado",
               "chargeback": "Chargeback", "cancelled": "Cancelado", "refused": "Recusado"},
    "eduzz": {"approved": "Paga", "pending": "Aberta", "refunded": "Reembolsado", "chargeback": "Chargeback",
              "cancelled": "Cancelada", "refused": "Recusada"},
    "monetizze": {"approved": "Finalizada", "pending": "Aguardando pagamento", "refunded": "Devolvida",
                  "chargeback": "Chargeback", "cancelled": "Cancelada", "refused": "Recusada"},
    "braip": {"approved": "Pagamento Aprovado", "pending": "Aguardando Pagamento", "refunded": "Estornado",
              "chargeback": "Chargeback", "cancelled": "Cancelada", "refused": "Recusada"},
}  # fmt: skip
PT_STATUS = {
    "approved": "Aprovado",
    "pending": "Aguardando pagamento",
    "refunded": "Reembolsado",
    "chargeback": "Chargeback",
    "cancelled": "Cancelado",
    "refused": "Recusado",
}
PAY_PT = ["Cartão de Crédito", "Pix", "Boleto"]


def cpf(rng: random.Random) -> str:
    digits = [rng.randint(0, 9) for _ in range(9)]
    for weight_start in (10, 11):
        total = sum(d * w for d, w in zip(digits, range(weight_start, 1, -1), strict=False))
        digits.append((total * 10 % 11) % 10)
    return "{}{}{}.{}{}{}.{}{}{}-{}{}".format(*digits)


def customers(rng: random.Random, count: int = 120) -> list[tuple[str, str, str, str]]:
    people = []
    for i in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{first.lower().replace('ã', 'a').replace('é', 'e').replace('á', 'a')}.{last.lower()}{i}@example.com"
        phone = f"(11) 9{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}"
        people.append((f"{first} {last}", email, phone, cpf(rng)))
    return people


def make_sales(
    rng: random.Random,
    cluster: str,
    platform: str,
    month: int,
    count: int,
    people: list[tuple[str, str, str, str]],
    prefix: str,
    currency: str = "BRL",
) -> list[Sale]:
    sales = []
    for i in range(count):
        product, price = rng.choice(PRODUCTS[cluster])
        if currency == "USD":
            price = (price / Decimal("5")).quantize(Decimal("0.01"))
        elif currency == "EUR":
            price = (price / Decimal("5.8")).quantize(Decimal("0.01"))
        name, email, phone, doc = rng.choice(people)
        # ClickBank and Digistore24 exports list completed sales plus refund/chargeback events only
        if platform in EVENT_PLATFORMS:
            status = rng.choices(["approved", "refunded", "chargeback"], [85, 10, 5])[0]
        else:
            choices = ["approved", "pending", "refunded", "cancelled", "refused"]
            status = rng.choices(choices, [70, 10, 8, 6, 6])[0]
        when = datetime(2026, month, 1, 8) + timedelta(minutes=rng.randint(0, 60 * 24 * 27))
        payment = rng.choice(PAY_PT)
        sales.append(
            Sale(
                cluster,
                platform,
                f"{prefix}{month:02d}{i:04d}",
                status,
                product,
                price,
                currency,
                name,
                email,
                phone,
                doc,
                when,
                payment,
                rng.choice([1, 1, 1, 3, 6, 12]),
            )
        )
    return sales


def br_money(value: Decimal) -> str:
    text = f"{value:,.2f}"
    return text.replace(",", "_").replace(".", ",").replace("_", ".")


def br_datetime(when: datetime) -> str:
    return when.strftime("%d/%m/%Y %H:%M:%S")


# ------------------------------------------------------------------------------------------ writers


def write_csv(
    path: Path,
    header: list[str],
    rows: list[list[str]],
    delimiter: str = ",",
    crlf: bool = False,
    encoding: str = "utf-8",
    bom: bool = False,
) -> None:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode(encoding))


def write_hotmart_csv(path: Path, sales: list[Sale], extra_rows: list[Sale] = ()) -> None:  # type: ignore[assignment]
    header = [
        "Código da transação",
        "Status da transação",
        "Data da transação",
        "Confirmação do pagamento",
        "Produto",
        "Código do produto",
        "Nome deste preço",
        "Moeda de compra",
        "Valor de compra com impostos",
        "Valor de compra sem impostos",
        "Faturamento líquido do(a) Produtor(a)",
        "Comprador(a)",
        "Email do(a) Comprador(a)",
        "Telefone",
        "Documento",
        "Método de pagamento",
        "Quantidade total de parcelas",
        "Venda feita como",
        "Transação do Produto Principal",
    ]
    rows = []
    for s in [*sales, *extra_rows]:
        net = (s.amount * Decimal("0.9")).quantize(Decimal("0.01"))
        confirmed = br_datetime(s.purchased_at + timedelta(minutes=3)) if s.status == "approved" else "(none)"
        rows.append(
            [
                s.transaction_id,
                PT_STATUS[s.status],
                br_datetime(s.purchased_at),
                confirmed,
                s.product,
                str(1000 + len(s.product)),
                "Oferta principal",
                "BRL",
                br_money(s.amount),
                br_money((s.amount / Decimal("1.05")).quantize(Decimal("0.01"))),
                br_money(net),
                s.name,
                s.email,
                s.phone,
                s.document,
                s.payment,
                str(s.installments),
                "Produto principal",
                "(none)",
            ]
        )
    write_csv(path, header, rows, delimiter=";", crlf=True, bom=True)


def new_book(path: Path) -> xlsxwriter.Workbook:
    book = xlsxwriter.Workbook(str(path))
    book.set_properties({"created": datetime(2026, 11, 1, 9, 0, 0)})  # same bytes on every run
    return book


def write_hotmart_old_xlsx(path: Path, sales: list[Sale]) -> None:
    book = new_book(path)
    sheet = book.add_worksheet("Vendas")
    sheet.write(0, 0, "Relatório de Vendas - Hotmart")
    sheet.write(1, 0, "Período: 01/08/2026 a 31/08/2026")
    header = [
        "Transação",
        "Status",
        "Data de venda",
        "Nome do produto",
        "Preço total",
        "Comprador",
        "Email",
        "Telefone",
        "Documento",
        "Forma de pagamento",
    ]
    sheet.write_row(3, 0, header)
    date_format = book.add_format({"num_format": "dd/mm/yyyy hh:mm"})
    for row, s in enumerate(sales, start=4):
        sheet.write_string(row, 0, s.transaction_id)
        sheet.write_string(row, 1, PT_STATUS[s.status])
        sheet.write_datetime(row, 2, s.purchased_at, date_format)
        sheet.write_string(row, 3, s.product)
        sheet.write_number(row, 4, float(s.amount))
        for col, value in enumerate([s.name, s.email, s.phone, s.document, s.payment], start=5):
            sheet.write_string(row, col, value)
    book.close()


def write_xlsx_table(
    path: Path,
    header: list[str],
    rows: list[list[object]],
    title: list[str] = (),  # type: ignore[assignment]
    totals: list[object] | None = None,
) -> None:
    book = new_book(path)
    sheet = book.add_worksheet("Vendas")
    date_format = book.add_format({"num_format": "dd/mm/yyyy hh:mm"})
    start = 0
    for text in title:
        sheet.write(start, 0, text)
        start += 1
    if title:
        start += 1  # a blank row under the title block
    sheet.write_row(start, 0, header)
    for r, row in enumerate(rows, start=start + 1):
        for c, value in enumerate(row):
            if isinstance(value, datetime):
                sheet.write_datetime(r, c, value, date_format)
            elif isinstance(value, Decimal):
                sheet.write_number(r, c, float(value))
            else:
                sheet.write(r, c, value)
    if totals is not None:
        sheet.write_row(start + 1 + len(rows), 0, totals)
    book.close()


def kiwify_rows(sales: list[Sale], with_coupon: bool) -> tuple[list[str], list[list[object]]]:
    labels = STATUS_LABELS["kiwify"]
    header = [
        "ID da venda",
        "Status",
        "Produto",
        "Cliente",
        "Email",
        "CPF",
        "Celular",
        "Valor",
        "Método de pagamento",
        "Parcelas",
        "Data de criação",
    ] + (["Cupom"] if with_coupon else [])
    rows = [
        [
            s.transaction_id,
            labels[s.status],
            s.product,
            s.name,
            s.email,
            s.document.replace(".", "").replace("-", ""),
            s.phone,
            s.amount,
            s.payment,
            s.installments,
            s.purchased_at,
        ]
        + (["BLACK10" if i % 5 == 0 else ""] if with_coupon else [])
        for i, s in enumerate(sales)
    ]
    return header, rows


def write_eduzz_xls(path: Path, sales: list[Sale]) -> None:
    labels = STATUS_LABELS["eduzz"]
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("Faturas")
    header = [
        "Fatura",
        "Status",
        "Produto",
        "Código do Produto",
        "Cliente",
        "E-mail",
        "Telefone",
        "CPF/CNPJ",
        "Valor da venda",
        "Valor pago",
        "Forma de pagamento",
        "Data de criação",
    ]
    for c, text in enumerate(header):
        sheet.write(0, c, text)
    date_style = xlwt.easyxf(num_format_str="dd/mm/yyyy hh:mm")
    for r, s in enumerate(sales, start=1):
        interest = s.amount * Decimal("0.0299") * (s.installments - 1)
        values = [
            s.transaction_id,
            labels[s.status],
            s.product,
            5000 + len(s.product),
            s.name,
            s.email,
            s.phone,
            s.document,
            float(s.amount),
            float((s.amount + interest).quantize(Decimal("0.01"))),
            s.payment,
        ]
        for c, value in enumerate(values):
            sheet.write(r, c, value)
        sheet.write(r, len(values), s.purchased_at, date_style)
    book.save(str(path))


def write_monetizze_csv(path: Path, sales: list[Sale]) -> None:
    header = ["Código Venda", "Status", "Produto", "Valor", "Comprador", "Email", "Telefone", "CPF",
              "Data Pedido", "Forma Pagamento"]  # fmt: skip
    labels = STATUS_LABELS["monetizze"]
    rows = [[s.transaction_id, labels[s.status], s.product, br_money(s.amount), s.name, s.email, s.phone,
             s.document, s.purchased_at.strftime("%d/%m/%Y %H:%M"), s.payment] for s in sales]  # fmt: skip
    write_csv(path, header, rows, delimiter=";", crlf=True, encoding="cp1252")


def write_clickbank_csv(path: Path, sales: list[Sale]) -> None:
    """Refunds and chargebacks are extra rows that carry the original receipt."""
    header = ["Receipt", "Transaction Type", "Transaction Time", "Item", "Product Title", "Amount",
              "Currency", "Customer Name", "Customer Email", "Payment Method", "Country"]  # fmt: skip
    rows = []
    for s in sales:
        pay = "VISA" if "Cartão" in s.payment else "PYPL"
        events = [("SALE", s.purchased_at, "")]
        if s.status in ("refunded", "chargeback"):
            events.append(
                ("RFND" if s.status == "refunded" else "CGBK", s.purchased_at + timedelta(days=9), "-")
            )
        for kind, when, sign in events:
            rows.append([s.transaction_id, kind, when.isoformat(), "1", s.product, f"{sign}{s.amount:,.2f}",
                         "USD", s.name, s.email, pay, "US"])  # fmt: skip
    write_csv(path, header, rows)


def write_digistore_csv(path: Path, sales: list[Sale]) -> None:
    """Each payment, refund or chargeback is a transaction of its own on the same order."""
    header = ["Order ID", "Transaction ID", "Transaction type", "Date", "Product ID", "Product name",
              "Amount (gross)", "Currency", "First name", "Last name", "Email", "Phone", "Payment method"]  # fmt: skip
    rows = []
    for n, s in enumerate(sales):
        first, _, last = s.name.partition(" ")
        amount = f"{s.amount:.2f}".replace(".", ",")
        events = [(f"T{n:05d}", "payment", s.purchased_at, "")]
        if s.status in ("refunded", "chargeback"):
            kind = "refund" if s.status == "refunded" else "chargeback"
            events.append((f"T{n:05d}R", kind, s.purchased_at + timedelta(days=5), "-"))
        for txn, kind, when, sign in events:
            rows.append([s.transaction_id, txn, kind, when.strftime("%Y-%m-%d %H:%M:%S"), "4711", s.product,
                         f"{sign}{amount}", "EUR", first, last, s.email, s.phone, "creditcard"])  # fmt: skip
    write_csv(path, header, rows, delimiter=";")


# --------------------------------------------------------------------------------------- inventory


def generate(dest: Path, seed: int = SEED) -> list[Sale]:
    """Write the 22 example exports under ``dest/<cluster>/`` and return the true final sales."""
    rng = random.Random(seed)
    people = customers(rng)
    final: dict[tuple[str, str], Sale] = {}

    def folder(cluster: str) -> Path:
        path = dest / cluster
        path.mkdir(parents=True, exist_ok=True)
        return path

    def keep(sales: list[Sale]) -> list[Sale]:
        for s in sales:
            final[(s.platform, s.transaction_id)] = s
        return sales

    def with_changes(sales: list[Sale], status_from: str, status_to: str, share: float) -> list[Sale]:
        return [
            replace(s, status=status_to) if s.status == status_from and rng.random() < share else s
            for s in sales
        ]

    # diabetes: Hotmart Sep, Hotmart Oct re-export (repeats September rows with pending -> approved), ClickBank
    d = folder("diabetes")
    sep = keep(make_sales(rng, "diabetes", "hotmart", 9, 40, people, "HP"))
    write_hotmart_csv(d / "hotmart_vendas_2026-09.csv", sep)
    oct_ = keep(make_sales(rng, "diabetes", "hotmart", 10, 45, people, "HP"))
    updated = keep(with_changes(sep[:15], "pending", "approved", 1.0))
    write_hotmart_csv(d / "hotmart_vendas_2026-10.csv", oct_, extra_rows=updated)
    write_clickbank_csv(
        d / "clickbank_sugar_defender_2026-10.csv",
        keep(make_sales(rng, "diabetes", "clickbank", 10, 30, people, "CBX", "USD")),
    )

    # emagrecimento: Kiwify Sep + Oct (new column Cupom), Braip with title and totals rows, Digistore24 (EUR)
    e = folder("emagrecimento")
    for month, coupon in ((9, False), (10, True)):
        header, rows = kiwify_rows(
            keep(make_sales(rng, "emagrecimento", "kiwify", month, 35, people, "KW")), coupon
        )
        write_xlsx_table(e / f"kiwify_vendas_2026-{month:02d}.xlsx", header, rows)
    braip = keep(make_sales(rng, "emagrecimento", "braip", 10, 30, people, "BRP"))
    labels = STATUS_LABELS["braip"]
    write_xlsx_table(
        e / "braip_relatorio_2026-10.xlsx",
        [
            "Código da Venda",
            "Status",
            "Produto",
            "Valor Total",
            "Cliente",
            "E-mail",
            "Telefone",
            "Documento",
            "Data da Venda",
            "Forma de Pagamento",
            "Parcelas",
        ],
        [
            [
                s.transaction_id,
                labels[s.status],
                s.product,
                s.amount,
                s.name,
                s.email,
                s.phone,
                s.document,
                s.purchased_at,
                s.payment,
                s.installments,
            ]
            for s in braip
        ],
        title=["Braip - Relatório de Vendas", "Período: 01/10/2026 a 31/10/2026"],
        totals=["Total", "", "", float(sum(s.amount for s in braip))],
    )
    write_digistore_csv(
        e / "digistore24_orders_2026-10.csv",
        keep(make_sales(rng, "emagrecimento", "digistore24", 10, 25, people, "DS", "EUR")),
    )

    # rejuvenescimento: Eduzz .xls Sep + Oct, Monetizze cp1252, old Hotmart layout xlsx
    r = folder("rejuvenescimento")
    for month in (9, 10):
        write_eduzz_xls(
            r / f"eduzz_faturas_2026-{month:02d}.xls",
            keep(make_sales(rng, "rejuvenescimento", "eduzz", month, 30, people, "EDZ")),
        )
    write_monetizze_csv(
        r / "monetizze_vendas_2026-10.csv",
        keep(make_sales(rng, "rejuvenescimento", "monetizze", 10, 30, people, "MNZ")),
    )
    write_hotmart_old_xlsx(
        r / "hotmart_antigo_2026-08.xlsx",
        keep(make_sales(rng, "rejuvenescimento", "hotmart", 8, 25, people, "HPA")),
    )

    # relacionamento: one Hotmart export
    write_hotmart_csv(
        folder("relacionamento") / "hotmart_vendas_2026-10.csv",
        keep(make_sales(rng, "relacionamento", "hotmart", 10, 40, people, "HRL")),
    )

    # renda_extra: six monthly Hotmart exports (October re-exports September with refunds), Kiwify,
    # a hand-kept sheet, ClickBank, and a corrupt upload
    x = folder("renda_extra")
    previous: list[Sale] = []
    for month in range(5, 11):
        sales = keep(make_sales(rng, "renda_extra", "hotmart", month, 50, people, "HRE"))
        repeats = keep(with_changes(previous[:10], "approved", "refunded", 0.3)) if month == 10 else []
        write_hotmart_csv(x / f"hotmart_vendas_2026-{month:02d}.csv", sales, extra_rows=repeats)
        previous = sales
    header, rows = kiwify_rows(keep(make_sales(rng, "renda_extra", "kiwify", 10, 30, people, "KWR")), True)
    write_xlsx_table(x / "kiwify_vendas_2026-10.xlsx", header, rows)
    manual = keep(make_sales(rng, "renda_extra", "monetizze", 10, 12, people, "MAN"))
    write_xlsx_table(
        x / "planilha_afiliados_manual.xlsx",
        ["Data", "Plataforma", "Pedido", "Cliente", "E-mail", "Produto", "Valor (R$)", "Situação"],
        [
            [
                s.purchased_at,
                "Monetizze",
                s.transaction_id,
                s.name,
                s.email,
                s.product,
                s.amount,
                PT_STATUS[s.status],
            ]
            for s in manual
        ],
        title=["Controle manual de vendas - afiliados"],
    )
    write_clickbank_csv(
        x / "clickbank_renda_2026-10.csv",
        keep(make_sales(rng, "renda_extra", "clickbank", 10, 20, people, "CBR", "USD")),
    )
    # A half-uploaded xlsx: the zip is cut in the middle.
    good = x / "kiwify_vendas_2026-10.xlsx"
    (x / "relatorio_upload_incompleto.xlsx").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    return sorted(final.values(), key=lambda s: (s.cluster, s.platform, s.transaction_id))


def main() -> None:
    dest = Path(sys.argv[1] if len(sys.argv) > 1 else "landing_zone")
    sales = generate(dest)
    files = sorted(p for p in dest.rglob("*") if p.is_file() and not p.name.startswith("."))
    print(f"wrote {len(files)} example exports ({len(sales)} distinct transactions) under {dest}/")


if __name__ == "__main__":
    main()
