"""Silver and gold on exports written by hand from the platforms' documented fields, not by the
bundled generator: Kiwify, Eduzz (`trans_*`), Braip, Monetizze (text exports, Brazilian locale) and
Digistore24 (a workbook, machine-form cells). Every expected figure below was worked out by hand
from the rows in this file, so a defect in the generator and the same defect in lakectl cannot
cancel out.

The whole path runs as a user runs it: `lakectl ingest` (parser in its capped child process, the
default), `lakectl promote all`, `lakectl report --format json`, each a real process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from lakectl.config import Settings, load_settings
from lakectl.promote import read_silver

from .conftest import run_lakectl

KIWIFY = """\
ID da venda;Status;Produto;Valor;Valor líquido;Comissão;Moeda;Data de criação;Data de aprovação;Método de pagamento;Parcelas;Cliente;Email;Celular;CPF
KW-1;Pago;Glico Control;R$ 1.297,00;1.167,30;129,70;BRL;05/10/2026 23:30:00;05/10/2026 23:45:10;Cartão de Crédito;12;Ana Souza;Ana@Example.com ;(11) 98765-4321;529.982.247-25
KW-2;Reembolsado;Glico Control;297,00;267,30;0,00;BRL;06/10/2026 10:00:00;06/10/2026 10:05:00;Pix;1;Bruno Lima;bruno@example.com;11987654322;111.444.777-35
KW-3;Chargedback;Glico Control;197,00;177,30;0,00;BRL;07/10/2026 09:00:00;07/10/2026 09:01:00;Cartão de Crédito;3;Carla Dias;carla@example.com;;
KW-4;Pago;Glico Control;49,90;44,91;0,00;USD;07/10/2026 12:00:00;07/10/2026 12:00:30;Cartão de Crédito;1;Ana Souza;ana@example.com;;
"""
# Eduzz's webhook field names as column headers; trans_paid (with interest) is not the sale value
EDUZZ = """\
trans_cod;trans_status;trans_value;trans_paid;trans_currency;trans_createdate;trans_paiddate;trans_paymentmethod;product_cod;product_name;cus_name;cus_email;cus_cel;cus_taxnumber;aff_value;parcelas
ED-10;Paga;297,00;310,50;BRL;08/10/2026;08/10/2026 14:20:00;Boleto Bancário;55;Glico Control;Diego Alves;diego@example.com;21999998888;52998224725;59,40;1
ED-11;Reembolsado;97,00;97,00;BRL;09/10/2026;09/10/2026;PIX;56;Ebook Açúcar;Ana Souza;ana@example.com;;;0,00;1
"""
BRAIP = """\
Código da venda;Status;Produto;Valor total;Valor líquido;Comissão;Data da venda;Data de pagamento;Forma de pagamento;Parcelas;Cliente;E-mail;Telefone;CPF
BR-1;Pagamento Aprovado;Detox Chá;R$ 1.500,00;1.350,00;300,00;10/10/2026 08:00:00;10/10/2026 08:02:00;Cartão de crédito;6;Ana Souza;ana@example.com;(11) 98765-4321;52998224725
BR-2;Chargeback;Detox Chá;150,00;135,00;0,00;11/10/2026 20:59:00;11/10/2026 21:00:00;Cartão de crédito;2;Eva Rocha;eva@example.com;;
"""
# MZ-1 is bought at 22:00 on 31 Oct in São Paulo: already 1 Nov in UTC
MONETIZZE = """\
Código Venda;Status;Produto;Valor;Valor Líquido;Comissão;Data Pedido;Data Finalizada;Forma Pagamento;Parcelas;Comprador;Email
MZ-1;Finalizada;Detox Chá;200,00;180,00;20,00;31/10/2026 22:00:00;31/10/2026 22:10:00;Boleto;1;Fábio Reis;fabio@example.com
MZ-2;Cancelada;Detox Chá;200,00;180,00;0,00;01/11/2026 10:00:00;;Boleto;1;Gil Neves;gil@example.com
"""
DIGISTORE_HEADER = ["order_id", "transaction_type", "product_id", "product_name", "amount_gross", "amount_net",
                    "amount_affiliate", "currency", "date", "payment_method", "first_name", "last_name", "email"]  # fmt: skip
DIGISTORE_ROWS = [
    ["DS-1", "payment", "77", "Detox Guide", 49.5, 42.1, 10, "EUR", datetime(2026, 10, 12, 9), "creditcard", "Hana", "Ito", "hana@example.com"],
    ["DS-2", "payment", "77", "Detox Guide", 99, 84.15, 0, "EUR", datetime(2026, 10, 13, 11), "paypal", "Ian", "Roe", "ian@example.com"],
    ["DS-1", "refund", "77", "Detox Guide", 49.5, 42.1, 10, "EUR", datetime(2026, 10, 20, 9), "creditcard", "Hana", "Ito", "hana@example.com"],
    ["DS-2", "chargeback", "77", "Detox Guide", 99, 84.15, 0, "EUR", datetime(2026, 10, 25, 9), "paypal", "Ian", "Roe", "ian@example.com"],
    ["DS-9", "refund", "77", "Detox Guide", 10, 9, 0, "EUR", datetime(2026, 10, 26, 9), "paypal", "Joe", "Doe", "joe@example.com"],
]  # fmt: skip


def write_digistore(path: Path) -> None:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Orders")
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    sheet.write_row(0, 0, DIGISTORE_HEADER)
    for r, row in enumerate(DIGISTORE_ROWS, start=1):
        for c, value in enumerate(row):
            if isinstance(value, datetime):
                sheet.write_datetime(r, c, value, stamp)
            else:
                sheet.write(r, c, value)
    book.close()


@dataclass
class Lake:
    settings: Settings
    report: dict[str, Any]


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    home = tmp_path_factory.mktemp("layouts")
    settings = load_settings(landing_zone=home / "landing_zone", lake_root=home / "lake",
                             silver={"customer_salt": "s", "salt_file": home / "salt"})  # fmt: skip
    for relative, text in {"diabetes/kiwify.csv": KIWIFY, "diabetes/eduzz.csv": EDUZZ,
                           "emagrecimento/braip.csv": BRAIP, "emagrecimento/monetizze.csv": MONETIZZE}.items():  # fmt: skip
        path = settings.landing_zone / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    write_digistore(settings.landing_zone / "emagrecimento" / "digistore24.xlsx")
    env = {"LAKECTL_SILVER__CUSTOMER_SALT": "s"}
    ingested = run_lakectl(settings, "ingest", str(settings.landing_zone), "--json", env=env)
    assert ingested.returncode == 0, ingested.stderr
    assert json.loads(ingested.stdout)["summary"] == {"ingested": 5, "skipped": 0, "rejected": 0}
    promoted = run_lakectl(settings, "promote", "all", env=env)
    assert promoted.returncode == 0, promoted.stderr
    report = run_lakectl(settings, "report", "--format", "json", "--as-of", "2026-11-01", env=env)
    assert report.returncode == 0, report.stderr
    return Lake(settings, json.loads(report.stdout))


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def D(text: str) -> Decimal:
    return Decimal(text)


def silver_by_id(lake) -> dict[str, dict]:
    return {row["transaction_id"]: row for row in read_silver(lake.settings).to_dicts()}


def test_every_hand_built_layout_is_recognised(lake):
    rows = silver_by_id(lake)
    assert {tid: rows[tid]["_profile"] for tid in ("KW-1", "ED-10", "BR-1", "MZ-1", "DS-1")} == {
        "KW-1": "kiwify", "ED-10": "eduzz", "BR-1": "braip", "MZ-1": "monetizze", "DS-1": "digistore24",
    }  # fmt: skip
    assert sorted(rows) == ["BR-1", "BR-2", "DS-1", "DS-2", "ED-10", "ED-11", "KW-1", "KW-2", "KW-3", "KW-4",
                            "MZ-1", "MZ-2"]  # fmt: skip


# transaction -> (status, gross, net, commission, currency, purchased_at, approved_at, method, installments)
EXPECTED_SILVER = {
    "KW-1": ("approved", D("1297.00"), D("1167.30"), D("129.70"), "BRL", utc(2026, 10, 6, 2, 30), utc(2026, 10, 6, 2, 45, 10), "Cartão de Crédito", 12),
    "KW-2": ("refunded", D("297.00"), D("267.30"), D("0.00"), "BRL", utc(2026, 10, 6, 13), utc(2026, 10, 6, 13, 5), "Pix", 1),
    "KW-3": ("chargeback", D("197.00"), D("177.30"), D("0.00"), "BRL", utc(2026, 10, 7, 12), utc(2026, 10, 7, 12, 1), "Cartão de Crédito", 3),
    "KW-4": ("approved", D("49.90"), D("44.91"), D("0.00"), "USD", utc(2026, 10, 7, 15), utc(2026, 10, 7, 15, 0, 30), "Cartão de Crédito", 1),
    "ED-10": ("approved", D("297.00"), None, D("59.40"), "BRL", utc(2026, 10, 8, 3), utc(2026, 10, 8, 17, 20), "Boleto Bancário", 1),
    "ED-11": ("refunded", D("97.00"), None, D("0.00"), "BRL", utc(2026, 10, 9, 3), utc(2026, 10, 9, 3), "PIX", 1),
    "BR-1": ("approved", D("1500.00"), D("1350.00"), D("300.00"), "BRL", utc(2026, 10, 10, 11), utc(2026, 10, 10, 11, 2), "Cartão de crédito", 6),
    "BR-2": ("chargeback", D("150.00"), D("135.00"), D("0.00"), "BRL", utc(2026, 10, 11, 23, 59), utc(2026, 10, 12, 0), "Cartão de crédito", 2),
    "MZ-1": ("approved", D("200.00"), D("180.00"), D("20.00"), "BRL", utc(2026, 11, 1, 1), utc(2026, 11, 1, 1, 10), "Boleto", 1),
    "MZ-2": ("cancelled", D("200.00"), D("180.00"), D("0.00"), "BRL", utc(2026, 11, 1, 13), None, "Boleto", 1),
    "DS-1": ("refunded", D("49.50"), D("42.10"), D("10.00"), "EUR", utc(2026, 10, 12, 12), None, "creditcard", None),
    "DS-2": ("chargeback", D("99.00"), D("84.15"), D("0.00"), "EUR", utc(2026, 10, 13, 14), None, "paypal", None),
}  # fmt: skip
FIELDS = ("status", "gross_amount", "net_amount", "commission_amount", "currency", "purchased_at", "approved_at",
          "payment_method", "installments")  # fmt: skip


@pytest.mark.parametrize("tid", sorted(EXPECTED_SILVER))
def test_silver_values_of_each_sale(lake, tid):
    row = silver_by_id(lake)[tid]
    assert tuple(row[f] for f in FIELDS) == EXPECTED_SILVER[tid]


def test_silver_customer_columns(lake):
    rows = silver_by_id(lake)
    ana = rows["KW-1"]
    assert (ana["customer_name"], ana["customer_email"], ana["customer_phone"]) == (
        "Ana Souza", "ana@example.com", "+5511987654321",
    )  # fmt: skip
    assert (ana["customer_document"], ana["customer_document_valid"]) == ("52998224725", True)
    # the same person under a differently written e-mail, in another platform and cluster: one key
    assert rows["KW-4"]["customer_key"] == rows["ED-11"]["customer_key"] == rows["BR-1"]["customer_key"] == ana["customer_key"]  # fmt: skip
    assert rows["DS-1"]["customer_name"] == "Hana Ito"  # first + last name columns
    assert json.loads(rows["ED-10"]["extras"]) == {"trans_paid": "310,50"}  # unmapped, kept


def test_an_orphan_refund_is_rejected_once(lake):
    rejects = pl.read_delta(str(lake.settings.lake_root / "silver" / "_rejects"))
    assert rejects.select("cluster", "rule", "raw_value").rows() == [("emagrecimento", "sale_exists", "DS-9")]


def gold(lake, name: str) -> pl.DataFrame:
    return pl.read_delta(str(lake.settings.lake_root / "gold" / name))


def test_daily_sales_bucket_by_sao_paulo_day_and_keep_currencies_apart(lake):
    daily = gold(lake, "daily_sales")
    got = {
        (r["sale_date"], r["platform"], r["product_name"], r["currency"]): (
            r["orders"], r["gross_revenue"], r["net_revenue"], r["refunded_orders"], r["refunded_amount"],
            r["chargebacks"], r["chargeback_amount"],
        )
        for r in daily.to_dicts()
    }  # fmt: skip
    z = D("0.00")
    assert got == {
        (date(2026, 10, 5), "kiwify", "Glico Control", "BRL"): (1, D("1297.00"), D("1167.30"), 0, z, 0, z),
        (date(2026, 10, 6), "kiwify", "Glico Control", "BRL"): (0, z, z, 1, D("297.00"), 0, z),
        (date(2026, 10, 7), "kiwify", "Glico Control", "BRL"): (0, z, z, 0, z, 1, D("197.00")),
        (date(2026, 10, 7), "kiwify", "Glico Control", "USD"): (1, D("49.90"), D("44.91"), 0, z, 0, z),
        # no net column in the export: net revenue is the gross
        (date(2026, 10, 8), "eduzz", "Glico Control", "BRL"): (1, D("297.00"), D("297.00"), 0, z, 0, z),
        (date(2026, 10, 9), "eduzz", "Ebook Açúcar", "BRL"): (0, z, z, 1, D("97.00"), 0, z),
        (date(2026, 10, 10), "braip", "Detox Chá", "BRL"): (1, D("1500.00"), D("1350.00"), 0, z, 0, z),
        (date(2026, 10, 11), "braip", "Detox Chá", "BRL"): (0, z, z, 0, z, 1, D("150.00")),
        (date(2026, 10, 31), "monetizze", "Detox Chá", "BRL"): (1, D("200.00"), D("180.00"), 0, z, 0, z),
        (date(2026, 11, 1), "monetizze", "Detox Chá", "BRL"): (0, z, z, 0, z, 0, z),
        (date(2026, 10, 12), "digistore24", "Detox Guide", "EUR"): (0, z, z, 1, D("49.50"), 0, z),
        (date(2026, 10, 13), "digistore24", "Detox Guide", "EUR"): (0, z, z, 0, z, 1, D("99.00")),
    }  # fmt: skip


def test_product_performance_per_currency(lake):
    got = {
        (r["cluster"], r["product_name"], r["currency"]): (
            r["orders"], r["revenue"], r["paid_orders"], r["refunded_orders"], r["chargebacks"], r["refund_rate"],
            r["chargeback_rate"], r["average_ticket"],
        )
        for r in gold(lake, "product_performance").to_dicts()
    }  # fmt: skip
    assert got == {
        ("diabetes", "Glico Control", "BRL"): (2, D("1594.00"), 4, 1, 1, 0.25, 0.25, 797.0),
        ("diabetes", "Glico Control", "USD"): (1, D("49.90"), 1, 0, 0, 0.0, 0.0, 49.9),
        ("diabetes", "Ebook Açúcar", "BRL"): (0, D("0.00"), 1, 1, 0, 1.0, 0.0, None),
        ("emagrecimento", "Detox Chá", "BRL"): (2, D("1700.00"), 3, 0, 1, 0.0, 0.3333, 850.0),
        ("emagrecimento", "Detox Guide", "EUR"): (0, D("0.00"), 2, 1, 1, 0.5, 0.5, None),
    }  # fmt: skip


def test_refund_rates_per_sao_paulo_month(lake):
    got = {
        (r["cluster"], r["platform"], r["month"]): (
            r["paid_orders"], r["refunded_orders"], r["chargebacks"], r["refund_rate"], r["chargeback_rate"],
        )
        for r in gold(lake, "refund_rates").to_dicts()
    }  # fmt: skip
    assert got == {
        ("diabetes", "kiwify", "2026-10"): (4, 1, 1, 0.25, 0.25),
        ("diabetes", "eduzz", "2026-10"): (2, 1, 0, 0.5, 0.0),
        ("emagrecimento", "braip", "2026-10"): (2, 0, 1, 0.0, 0.5),
        ("emagrecimento", "monetizze", "2026-10"): (1, 0, 0, 0.0, 0.0),  # 22:00 on 31 Oct in São Paulo
        ("emagrecimento", "monetizze", "2026-11"): (0, 0, 0, None, None),
        ("emagrecimento", "digistore24", "2026-10"): (2, 1, 1, 0.5, 0.5),
    }  # fmt: skip


def test_customers_and_overlap(lake):
    customers = gold(lake, "customers")
    ana_key = silver_by_id(lake)["KW-1"]["customer_key"]
    ana = customers.filter(pl.col("customer_key") == ana_key).to_dicts()
    assert len(ana) == 1
    assert (ana[0]["clusters"], ana[0]["orders"], ana[0]["refunds"]) == (["diabetes", "emagrecimento"], 3, 1)
    assert sorted((v["currency"], v["amount"]) for v in ana[0]["lifetime_value"]) == [
        ("BRL", D("2797.00")), ("USD", D("49.90")),
    ]  # fmt: skip
    assert (
        customers.height == 9
    )  # ana, bruno, carla, diego, eva, fabio, gil, hana, ian (joe's refund was rejected)
    overlap = {(r["cluster"], r["other"]): r for r in gold(lake, "cluster_overlap").to_dicts()}
    assert overlap[("diabetes", "emagrecimento")]["customers"] == 1
    assert overlap[("diabetes", "diabetes")]["customers"] == 4
    assert overlap[("diabetes", "diabetes")]["share_also_elsewhere"] == 0.25
    assert overlap[("emagrecimento", "emagrecimento")]["share_also_elsewhere"] == 0.1667


def test_json_report_values(lake):
    report = lake.report
    revenue = {(r["cluster"], r["currency"]): r for r in report["revenue"]}
    assert {k: (v["revenue"], v["sales"]) for k, v in revenue.items()} == {  # the window holds every sale
        ("diabetes", "BRL"): ("1594.00", 2),
        ("diabetes", "USD"): ("49.90", 1),
        ("emagrecimento", "BRL"): ("1700.00", 2),
        ("emagrecimento", "EUR"): ("0.00", 0),
    }  # fmt: skip
    rates = {(r["cluster"], r["platform"]): (r["paid_orders"], r["refund_rate"], r["chargeback_rate"])
             for r in report["refund_rates"]}  # fmt: skip
    assert rates[("diabetes", "kiwify")] == (4, 0.25, 0.25)
    assert rates[("emagrecimento", "digistore24")] == (2, 0.5, 0.5)
    top = {(r["currency"], r["product_name"]): r["revenue"] for r in report["products"]}
    assert top[("BRL", "Detox Chá")] == "1700.00" and top[("USD", "Glico Control")] == "49.90"
    by_day = {
        (r["sale_date"], r["cluster"], r["currency"]): r["gross_revenue"] for r in report["revenue_by_day"]
    }
    assert by_day[("2026-10-05", "diabetes", "BRL")] == "1297.00"
    assert by_day[("2026-10-31", "emagrecimento", "BRL")] == "200.00"
    cross = {r["cluster"]: (r["customers"], r["also_elsewhere"], r["share"]) for r in report["cross_sell"]}
    assert cross["diabetes"] == (4, 1, 0.25) and cross["emagrecimento"] == (6, 1, 0.1667)
    assert report["health"]["files"] == {"ingested": 5, "skipped": 0, "rejected": 0, "quarantined": 0}
    rejects = [{k: r[k] for k in ("cluster", "rule", "rows")} for r in report["health"]["rejects"]]
    assert rejects == [{"cluster": "emagrecimento", "rule": "sale_exists", "rows": 1}]
