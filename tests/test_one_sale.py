"""One sale, however many rows speak of it: a hand-kept copy under platform 'unknown' of a platform's
sale, and refund/chargeback rows of any layout (a negative amount, a type column, a column naming
the original transaction)."""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from lakectl.lake import Lake
from lakectl.promote import promote_silver

from .test_silver import HOTMART, drop, lake_settings

# A hand-kept sheet with no platform column, no platform sheet name and no platform in its name.
SHEET = "Data;Pedido;Valor;Situação;E-mail\n"


def silver(settings, cluster="diabetes"):
    table = Lake.from_settings(settings).silver(cluster)
    return pl.read_delta(table.uri).sort("platform", "transaction_id")


def keys(settings):
    return silver(settings).select("platform", "transaction_id", "status", "gross_amount").rows()


def test_an_unknown_platform_copy_of_a_platform_sale_is_that_sale_in_one_promotion(tmp_path):
    settings = lake_settings(tmp_path)
    drop(
        settings, "diabetes", "hotmart.csv", HOTMART + "HP1;Aprovado;01/09/2026 10:00:00;97,00;BRL;a@x.com\n"
    )
    drop(settings, "diabetes", "controle.csv", SHEET + "02/09/2026;HP1;97,00;Pago;a@x.com\n"
         "02/09/2026;HP2;30,00;Pago;b@x.com\n")  # fmt: skip
    report = promote_silver(settings, ["diabetes"])[0].report
    assert keys(settings) == [
        ("hotmart", "HP1", "approved", Decimal("97.00")),  # the platform's row, once
        ("unknown", "HP2", "approved", Decimal("30.00")),  # nowhere else: kept, under 'unknown'
    ]
    assert report["claimed_unknown"] == 1 and report["transactions"] == 2
    assert report["rows_in"] == report["transactions"] + report["folded"]


def test_the_copy_is_settled_whichever_file_comes_first(tmp_path):
    first = lake_settings(tmp_path / "a")
    drop(first, "diabetes", "controle.csv", SHEET + "02/09/2026;HP1;97,00;Pago;a@x.com\n")
    promote_silver(first, ["diabetes"])
    assert keys(first) == [("unknown", "HP1", "approved", Decimal("97.00"))]
    drop(
        first, "diabetes", "hotmart.csv", HOTMART + "HP1;Reembolsado;01/09/2026 10:00:00;97,00;BRL;a@x.com\n"
    )
    report = promote_silver(first, ["diabetes"])[0].report
    assert keys(first) == [("hotmart", "HP1", "refunded", Decimal("97.00"))]  # the unknown copy retired
    assert report["retired_unknown"] == 1

    second = lake_settings(tmp_path / "b")
    drop(second, "diabetes", "hotmart.csv", HOTMART + "HP1;Aprovado;01/09/2026 10:00:00;97,00;BRL;a@x.com\n")
    promote_silver(second, ["diabetes"])
    drop(second, "diabetes", "controle.csv", SHEET + "02/09/2026;HP1;50,00;Cancelado;a@x.com\n")
    report = promote_silver(second, ["diabetes"])[0].report
    assert keys(second) == [("hotmart", "HP1", "approved", Decimal("97.00"))]  # never above the export
    assert report["claimed_unknown"] == 1
    promote_silver(second, ["diabetes"], full=True)
    assert keys(second) == [("hotmart", "HP1", "approved", Decimal("97.00"))]  # a rebuild agrees


def test_nobody_is_blamed_wrongly_another_email_or_two_platforms_keep_it_apart(tmp_path):
    settings = lake_settings(tmp_path)
    drop(settings, "diabetes", "hotmart.csv", HOTMART + "1001;Aprovado;01/09/2026 10:00:00;97,00;BRL;a@x.com\n"
         "1002;Aprovado;01/09/2026 10:00:00;10,00;BRL;c@x.com\n")  # fmt: skip
    kiwify = "ID da venda;Status;Produto;Valor;Data de criação;Email\n"
    drop(settings, "diabetes", "kiwify.csv", kiwify + "1002;pago;Curso;20,00;01/09/2026;d@x.com\n")
    drop(settings, "diabetes", "controle.csv", SHEET + "02/09/2026;1001;40,00;Pago;z@x.com\n"
         "02/09/2026;1002;15,00;Pago;c@x.com\n")  # fmt: skip
    report = promote_silver(settings, ["diabetes"])[0].report
    assert report["claimed_unknown"] == 0
    assert keys(settings) == [
        ("hotmart", "1001", "approved", Decimal("97.00")),
        ("hotmart", "1002", "approved", Decimal("10.00")),
        ("kiwify", "1002", "approved", Decimal("20.00")),
        ("unknown", "1001", "approved", Decimal("40.00")),  # someone else bought it: another sale
        ("unknown", "1002", "approved", Decimal("15.00")),  # two platforms have that id: not guessed
    ]


def test_refund_rows_of_any_layout_change_their_sale_and_add_no_revenue(tmp_path):
    settings = lake_settings(tmp_path)
    # a type column, the refund listed first (newest first) under the sale's own id
    drop(settings, "diabetes", "loja.csv", "Pedido;Tipo;Data;Valor;Status\n"
         "P1;Reembolso;05/10/2026;-100,00;Concluído\nP1;Venda;01/10/2026;100,00;Aprovado\n"
         "P2;Venda;01/10/2026;80,00;Aprovado\n")  # fmt: skip
    # a column naming the original transaction: a negative amount, and a chargeback with no sign
    drop(settings, "diabetes", "outra.csv", "ID;Transação original;Data;Valor;Status\n"
         "T1;;01/10/2026;50,00;Pago\nT2;T1;03/10/2026;-50,00;Pago\nT3;;01/10/2026;30,00;Pago\n"
         "T4;T3;04/10/2026;30,00;Chargeback\nT5;T3;04/10/2026;9,90;Pago\n")  # fmt: skip
    report = promote_silver(settings, ["diabetes"])[0].report
    assert keys(settings) == [
        ("unknown", "P1", "refunded", Decimal("100.00")),
        ("unknown", "P2", "approved", Decimal("80.00")),
        ("unknown", "T1", "refunded", Decimal("50.00")),
        ("unknown", "T3", "chargeback", Decimal("30.00")),
        ("unknown", "T5", "approved", Decimal("9.90")),  # an upsell naming its first sale is a sale
    ]
    assert report["rejected"] == {}
    assert report["rows_in"] == report["transactions"] + report["folded"]


def test_a_refund_row_in_a_later_export_of_a_platform_refunds_the_sale_in_silver(tmp_path):
    settings = lake_settings(tmp_path)
    drop(settings, "diabetes", "v1.csv", HOTMART + "HP1;Aprovado;01/10/2026 10:00:00;97,00;BRL;a@x.com\n")
    promote_silver(settings, ["diabetes"])
    drop(settings, "diabetes", "v2.csv", HOTMART + "HP1;Aprovado;08/10/2026 10:00:00;-97,00;BRL;a@x.com\n"
         "HP9;Aprovado;08/10/2026 10:00:00;-5,00;BRL;z@x.com\n")  # fmt: skip
    report = promote_silver(settings, ["diabetes"])[0].report
    assert keys(settings) == [("hotmart", "HP1", "refunded", Decimal("97.00"))]
    assert report["status_updates"] == 1
    assert report["rejected"] == {"amount_not_negative": 1}  # HP9 refunds nothing: a bad amount
    rejects = pl.read_delta(Lake.from_settings(settings).rejects().uri)
    assert rejects.select("rule", "raw_value").rows() == [("amount_not_negative", "-5,00")]


def test_a_platform_refund_of_a_sale_known_only_from_a_hand_kept_sheet_refunds_it(tmp_path):
    settings = lake_settings(tmp_path)
    drop(settings, "diabetes", "controle.csv", SHEET + "02/09/2026;CB1;97,00;Pago;a@x.com\n")
    promote_silver(settings, ["diabetes"])
    header = "Receipt,Transaction Type,Transaction Time,Item,Product Title,Amount,Currency,Customer Email\n"
    drop(settings, "diabetes", "cb.csv", header + "CB1,RFND,2026-10-09T10:00:00,1,Sugar,-97.00,USD,a@x.com\n")
    report = promote_silver(settings, ["diabetes"])[0].report
    assert keys(settings) == [("unknown", "CB1", "refunded", Decimal("97.00"))]
    assert report["rejected"] == {} and report["status_updates"] == 1


def test_an_order_list_of_an_events_platform_without_a_type_column_is_a_list_of_sales(tmp_path):
    settings = lake_settings(tmp_path)
    drop(settings, "diabetes", "digistore24_bestellungen.csv", "Bestell-ID;Datum;Produktname;E-Mail;Währung;"
         "Bruttobetrag;Status\nD1;26.08.2026 21:30;Kurs;a@x.de;EUR;119,00;Bezahlt\n"
         "D2;27.08.2026 10:21;Kurs;b@x.de;EUR;59,00;Erstattet\nD3;03.09.2026 09:29;Kurs;c@x.de;EUR;59,00;Rückbuchung\n")  # fmt: skip
    report = promote_silver(settings, ["diabetes"])[0].report
    assert keys(settings) == [
        ("digistore24", "D1", "approved", Decimal("119.00")),
        ("digistore24", "D2", "refunded", Decimal("59.00")),  # the order's own status, not an event
        ("digistore24", "D3", "chargeback", Decimal("59.00")),
    ]
    assert report["rejected"] == {}
    assert silver(settings)["purchased_at"].dt.hour().to_list() == [
        0,
        13,
        12,
    ]  # 21:30 in Sao Paulo is 00:30 UTC
