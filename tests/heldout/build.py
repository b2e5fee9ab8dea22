#!/usr/bin/env python3
"""Held-out sales exports with their ground truth, written blind of lakectl's own vocabulary.

The labels here come from how each platform's export looks to a Brazilian seller who downloads it
(Hotmart, Kiwify, Eduzz, Monetizze and Braip in Portuguese; ClickBank in English; Digistore24 in
German or English) and from a hand-kept workbook in Portuguese, never from lakectl's matcher, its
profiles or its example generator. Each set is a landing zone (`<out>/<cluster>/<file>`) of about
twenty files over the seven platforms plus the workbook, and `<out>/expected.json`, worked out from
this generator's own records (never by running lakectl).

The sets render the same fields with different labels (other synonyms, word order, abbreviations,
another language): use one to diagnose and the other only to measure.

Files come in two waves (`expected.json["waves"]`): the exports a seller downloads first, then the
later ones, whose windows overlap the first (the same sale again, often with a new status). Ingest
and promote wave 1, then wave 2, as a seller would month by month.

    python tests/heldout/build.py OUT --set A
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

SETS = ("A", "B", "C", "D", "E", "F", "G")
CLUSTERS = ("diabetes", "emagrecimento", "rejuvenescimento", "relacionamento", "renda_extra")
CENT = Decimal("0.01")

# Purchase windows (São Paulo local time): the first export, the later one (overlapping it), a single
# export covering both, and the older sales only a hand-kept sheet remembers.
WINDOWS = {
    "w1": (datetime(2026, 8, 10), datetime(2026, 10, 10, 23, 59)),
    "w2": (datetime(2026, 9, 25), datetime(2026, 11, 20, 23, 59)),
    "all": (datetime(2026, 8, 10), datetime(2026, 11, 20, 23, 59)),
    "old": (datetime(2026, 7, 1), datetime(2026, 8, 9, 23, 59)),
}
LAST_EVENT = datetime(2026, 11, 24, 18, 0)

# ---------------------------------------------------------------------------------------------
# What is sold: (product id, name, price) per cluster; ClickBank in USD, Digistore24 in EUR.
PRODUCTS: dict[str, dict[str, list[tuple[str, str, str]]]] = {
    "diabetes": {
        "BRL": [("3120451", "Protocolo Glicemia Sob Controle", "197.00"), ("3120988", "Guia Doce Equilíbrio", "47.00"),
                ("3121204", "Mentoria Diabetes Zero", "1497.00")],
        "USD": [("sugardef1", "Sugar Defender - 1 Bottle", "69.00"), ("sugardef6", "Sugar Defender - 6 Bottles", "294.00")],
        "EUR": [("512331", "GlucoBalance Online-Kurs", "47.00")],
    },
    "emagrecimento": {
        "BRL": [("2877310", "Desafio 21 Dias Seca Barriga", "97.00"), ("2877355", "Cardápio Low Carb Completo", "37.00"),
                ("2879012", "Jejum Inteligente", "147.00")],
        "USD": [("javaburn1", "Java Burn 30 Day Supply", "49.00"), ("javaburn6", "Java Burn 180 Day Supply", "204.00")],
        "EUR": [("498120", "Schlank in 30 Tagen", "37.00")],
    },
    "rejuvenescimento": {
        "BRL": [("4011007", "Método Pele de Seda", "127.00"), ("4011090", "Ritual Antirrugas em Casa", "67.00"),
                ("4012230", "Colágeno Natural Pro", "197.00")],
        "USD": [("lumiere1", "Lumière de Vie Serum", "69.00")],
        "EUR": [("530077", "Faltenfrei Programm", "59.00"), ("530078", "Faltenfrei Premium", "119.00")],
    },
    "relacionamento": {
        "BRL": [("1988001", "Conquista Definitiva", "97.00"), ("1988020", "Reconquista em 7 Passos", "67.00"),
                ("1989300", "Casal Blindado - Curso + Mentoria", "1297.00")],
        "USD": [("hissecret", "His Secret Obsession", "47.00")],
        "EUR": [("477001", "Der Liebescode", "29.00")],
    },
    "renda_extra": {
        "BRL": [("5550123", "Afiliado Lucrativo", "297.00"), ("5550190", "Renda com Canva", "47.00"),
                ("5551001", "Fórmula Lançamento Express", "1997.00")],
        "USD": [("affbots3", "Affiliate Bots 3.0", "47.00")],
        "EUR": [("601200", "Online Business Starter", "97.00"), ("601201", "Online Business Pro", "297.00")],
    },
}  # fmt: skip

# Set C sells other things at other prices.
PRODUCTS_C: dict[str, dict[str, list[tuple[str, str, str]]]] = {
    "diabetes": {
        "BRL": [("6120001", "Receitas para Diabéticos", "27.00"), ("6120002", "Programa Glicose Estável 90 Dias", "397.00"),
                ("6120003", "Consultoria Nutricional Individual", "2400.00")],
        "USD": [("glucotrust3", "GlucoTrust - 3 Bottles", "177.00"), ("glucotrust1", "GlucoTrust - 1 Bottle", "69.00")],
        "EUR": [("700101", "Zucker-Detox Programm", "79.00"), ("700102", "Zucker-Detox Coaching", "249.00")],
    },
    "emagrecimento": {
        "BRL": [("6230010", "Emagreça Dormindo", "57.90"), ("6230011", "Método Barriga Zero Plus", "247.00")],
        "USD": [("puravive", "Puravive 6 Bottles", "294.00"), ("ikaria", "Ikaria Lean Belly Juice", "69.00")],
        "EUR": [("700201", "Fit mit 40", "39.00")],
    },
    "rejuvenescimento": {
        "BRL": [("6340100", "Skincare Natural 60+", "89.90"), ("6340101", "Yoga Facial Rejuvenescedor", "177.00"),
                ("6340102", "Kit Rotina Anti-idade Completa", "1297.00")],
        "USD": [("prodentim", "ProDentim 3 Bottles", "147.00")],
        "EUR": [("700301", "Jünger aussehen in 21 Tagen", "67.00")],
    },
    "relacionamento": {
        "BRL": [("6450001", "Destrave Sua Vida Amorosa", "147.00"), ("6450002", "Mentoria Casais Felizes", "3500.00")],
        "USD": [("textchem", "Text Chemistry", "47.00"), ("obsessmeth", "Obsession Method", "37.00")],
        "EUR": [("700401", "Beziehungs-Neustart", "97.00"), ("700402", "Beziehungs-Neustart VIP", "397.00")],
    },
    "renda_extra": {
        "BRL": [("6560001", "Renda Extra com Crochê", "67.00"), ("6560002", "Mestre do Tráfego Pago", "997.00"),
                ("6560003", "Planilha de Finanças Pessoais", "19.90")],
        "USD": [("cbuniv", "CB University", "47.00")],
        "EUR": [("700501", "Passives Einkommen Masterclass", "497.00")],
    },
}  # fmt: skip
# Set D sells a third catalogue.
PRODUCTS_D: dict[str, dict[str, list[tuple[str, str, str]]]] = {
    "diabetes": {
        "BRL": [("7101001", "Diabetes Sem Mistério", "67.00"), ("7101002", "Mesa do Diabético - 120 Receitas", "39.90"),
                ("7101003", "Acompanhamento Glicêmico Premium", "897.00")],
        "USD": [("glucoshld", "GlucoShield Pro - 2 Bottles", "138.00"), ("glucoshl1", "GlucoShield Pro - 1 Bottle", "69.00")],
        "EUR": [("710101", "Blood Sugar Reset Course", "49.00")],
    },
    "emagrecimento": {
        "BRL": [("7202001", "Projeto Verão Sem Culpa", "127.00"), ("7202002", "Detox 10 Dias", "29.90"),
                ("7202003", "Emagrecimento Definitivo VIP", "1497.00")],
        "USD": [("leanbiome", "LeanBiome 3 Bottles", "177.00"), ("teaburn", "Tea Burn 1 Pouch", "49.00")],
        "EUR": [("720201", "Keto Kickstart Program", "57.00")],
    },
    "rejuvenescimento": {
        "BRL": [("7303001", "Rosto Jovem Sem Botox", "97.00"), ("7303002", "Cuidados com a Pele 50+", "57.00"),
                ("7303003", "Formação em Estética Natural", "2497.00")],
        "USD": [("dermaglow", "DermaGlow Serum Kit", "89.00")],
        "EUR": [("730301", "Natural Skin Reset", "69.00"), ("730302", "Natural Skin Reset Plus", "139.00")],
    },
    "relacionamento": {
        "BRL": [("7404001", "Palavras que Conquistam", "47.00"), ("7404002", "Resgate do Casamento", "197.00"),
                ("7404003", "Imersão Amor Próprio", "797.00")],
        "USD": [("capheart", "Capture His Heart", "37.00"), ("textlove", "Text Your Way to Love", "57.00")],
        "EUR": [("740401", "Dating Confidence Course", "79.00")],
    },
    "renda_extra": {
        "BRL": [("7505001", "Dinheiro com Dropshipping", "397.00"), ("7505002", "Ebook Renda Online", "19.90"),
                ("7505003", "Mentoria Empreendedor Digital", "4997.00")],
        "USD": [("commhero", "Commission Hero Lite", "97.00")],
        "EUR": [("750501", "Affiliate Starter Kit", "147.00")],
    },
}  # fmt: skip
# Set E sells a fourth.
PRODUCTS_E: dict[str, dict[str, list[tuple[str, str, str]]]] = {
    "diabetes": {
        "BRL": [("8101001", "Glicemia em Dia", "87.00"), ("8101002", "Lanches Sem Açúcar", "24.90"),
                ("8101003", "Programa Pâncreas Ativo", "647.00")],
        "USD": [("glucofort", "Glucofort 3 Bottles", "177.00"), ("gluco1btl", "Glucofort 1 Bottle", "69.00")],
        "EUR": [("810101", "Diabetes-Kochkurs", "44.00")],
    },
    "emagrecimento": {
        "BRL": [("8202001", "Corpo Leve em 30 Dias", "77.00"), ("8202002", "Marmitas Fit da Semana", "34.90"),
                ("8202003", "Acompanhamento Nutri Online", "1190.00")],
        "USD": [("metaboost", "Metabolic Boost 6 Bottles", "294.00"), ("fitspresso", "Fitspresso 1 Bottle", "59.00")],
        "EUR": [("820201", "Intervallfasten leicht gemacht", "49.00"), ("820202", "Intervallfasten Coaching", "189.00")],
    },
    "rejuvenescimento": {
        "BRL": [("8303001", "Massagem Facial Japonesa", "59.90"), ("8303002", "Pele Radiante 40+", "137.00"),
                ("8303003", "Curso Dermaplaning Profissional", "1890.00")],
        "USD": [("collaglow", "CollaGlow Cream", "79.00")],
        "EUR": [("830301", "Gesichtsyoga Kurs", "39.00")],
    },
    "relacionamento": {
        "BRL": [("8404001", "Homem Irresistível", "97.00"), ("8404002", "Diálogo a Dois", "44.90"),
                ("8404003", "Terapia de Casal Online", "1590.00")],
        "USD": [("lovelang", "Secret Love Language", "47.00"), ("devotion", "Devotion System", "67.00")],
        "EUR": [("840401", "Liebe neu entdecken", "59.00")],
    },
    "renda_extra": {
        "BRL": [("8505001", "Freelancer de Sucesso", "197.00"), ("8505002", "Guia do Marketplace", "29.90"),
                ("8505003", "Aceleradora de Infoprodutos", "2997.00")],
        "USD": [("cashsys", "Commission Cash System", "37.00")],
        "EUR": [("850501", "Digitale Produkte Kurs", "197.00"), ("850502", "Digitale Produkte Mentoring", "497.00")],
    },
}  # fmt: skip
# Set F sells a fifth.
PRODUCTS_F: dict[str, dict[str, list[tuple[str, str, str]]]] = {
    "diabetes": {
        "BRL": [("9101001", "Açúcar Sob Controle 2.0", "117.00"), ("9101002", "Doces Funcionais Sem Culpa", "32.90"),
                ("9101003", "Clube Glicemia Estável - Anual", "780.00")],
        "USD": [("glucozen2", "GlucoZen - 2 Bottles", "118.00"), ("glucozen6", "GlucoZen - 6 Bottles", "294.00")],
        "EUR": [("910101", "Zuckerfrei Leben Kurs", "54.00")],
    },
    "emagrecimento": {
        "BRL": [("9202001", "Seca Tudo 2027", "67.00"), ("9202002", "Plano Alimentar Personalizado", "247.00"),
                ("9202003", "Treino em Casa Para Iniciantes", "49.90")],
        "USD": [("slimgut", "SlimGut Formula 3 Bottles", "177.00"), ("burnlab", "BurnLab Coffee 1 Bag", "39.00")],
        "EUR": [("920201", "Abnehmen ohne Diät", "67.00"), ("920202", "Abnehmen ohne Diät Premium", "167.00")],
    },
    "rejuvenescimento": {
        "BRL": [("9303001", "Pele de Porcelana", "87.00"), ("9303002", "Maquiagem Rejuvenescedora", "127.00"),
                ("9303003", "Harmonização Natural - Formação", "1690.00")],
        "USD": [("youthrx", "YouthRx Night Cream", "59.00")],
        "EUR": [("930301", "Anti-Aging Akademie", "99.00")],
    },
    "relacionamento": {
        "BRL": [("9404001", "Código da Atração", "77.00"), ("9404002", "Namoro Depois dos 40", "57.00"),
                ("9404003", "Mentoria Relacionamento Consciente", "1197.00")],
        "USD": [("heartlock", "Heart Lock Method", "47.00"), ("lovemagnet", "Love Magnet Audio", "29.00")],
        "EUR": [("940401", "Glückliche Partnerschaft", "49.00")],
    },
    "renda_extra": {
        "BRL": [("9505001", "Renda com Inteligência Artificial", "297.00"), ("9505002", "Kit Planilhas MEI", "27.00"),
                ("9505003", "Programa Primeiro Milhão Digital", "3997.00")],
        "USD": [("cashflowx", "CashFlow X Blueprint", "67.00")],
        "EUR": [("950501", "Nebenverdienst Online", "127.00"), ("950502", "Nebenverdienst Online VIP", "347.00")],
    },
}  # fmt: skip
CATALOGUES = {
    "A": PRODUCTS,
    "B": PRODUCTS,
    "C": PRODUCTS_C,
    "D": PRODUCTS_D,
    "E": PRODUCTS_E,
    "F": PRODUCTS_F,
    "G": PRODUCTS_D,  # set G reuses D's catalogue at other records
}

# Final statuses (silver's vocabulary) and how often each platform ends a sale in them.
STATUS_MIX: dict[str, dict[str, float]] = {
    "hotmart": {"approved": 62, "refunded": 8, "chargeback": 3, "cancelled": 5, "pending": 7, "refused": 5,
                "expired": 5, "blocked": 5},
    "kiwify": {"approved": 65, "refunded": 8, "refund_pending": 4, "chargeback": 3, "pending": 10, "refused": 10},
    "eduzz": {"approved": 62, "pending": 10, "cancelled": 8, "refund_pending": 4, "refunded": 8, "duplicated": 3,
              "expired": 5},
    "monetizze": {"approved": 65, "pending": 10, "cancelled": 10, "refunded": 10, "blocked": 5},
    "braip": {"approved": 60, "pending": 10, "cancelled": 8, "chargeback": 4, "refunded": 8, "blocked": 5,
              "refund_pending": 5},
    "clickbank": {"approved": 75, "refunded": 18, "chargeback": 7},
    "digistore24": {"approved": 80, "refunded": 15, "chargeback": 5},
    "manual": {"approved": 75, "refunded": 10, "pending": 10, "cancelled": 5},
}  # fmt: skip

# The platforms' own words for each status, per set (UI labels in the export's language).
STATUS_LABELS: dict[str, dict[str, dict[str, str]]] = {
    "hotmart": {
        "A": {"approved": "Aprovado", "pending": "Aguardando pagamento", "refunded": "Reembolsado",
              "chargeback": "Chargeback", "cancelled": "Cancelado", "refused": "Recusado", "expired": "Expirado",
              "blocked": "Bloqueado"},
        "B": {"approved": "Completo", "pending": "Processando transação", "refunded": "Reembolsado",
              "chargeback": "Chargeback", "cancelled": "Cancelada", "refused": "Recusada", "expired": "Expirada",
              "blocked": "Em análise"},
        "C": {"approved": "Approved", "pending": "Waiting Payment", "refunded": "Refunded", "chargeback": "Chargeback",
              "cancelled": "Canceled", "refused": "Declined", "expired": "Expired", "blocked": "Under Analysis"},
        "D": {"approved": "Compra aprobada", "pending": "Esperando pago", "refunded": "Reembolso efectuado",
              "chargeback": "Contracargo", "cancelled": "Cancelado por el comprador", "refused": "Pago rechazado",
              "expired": "Caducada", "blocked": "En revisión"},
        "E": {"approved": "Purchase complete", "pending": "Awaiting payment", "refunded": "Purchase refunded",
              "chargeback": "Chargeback received", "cancelled": "Cancelled by buyer", "refused": "Payment declined",
              "expired": "Payment expired", "blocked": "Held for review"},
        "F": {"approved": "Venda concluída", "pending": "Pagamento em aberto", "refunded": "Valor devolvido ao comprador",
              "chargeback": "Contestado no cartão", "cancelled": "Compra cancelada",
              "refused": "Pagamento não autorizado", "expired": "Expirado por falta de pagamento",
              "blocked": "Em verificação de segurança"},
        "G": {"approved": "Approved purchase", "pending": "Awaiting buyer payment",
              "refunded": "Refund issued to buyer", "chargeback": "Cardholder dispute", "cancelled": "Purchase canceled",
              "refused": "Card declined", "expired": "Expired unpaid", "blocked": "Flagged for manual review"},
    },
    "kiwify": {
        "A": {"approved": "Pago", "pending": "Aguardando pagamento", "refunded": "Reembolsado",
              "refund_pending": "Reembolso solicitado", "chargeback": "Chargeback", "refused": "Recusado"},
        "B": {"approved": "paid", "pending": "waiting_payment", "refunded": "refunded",
              "refund_pending": "pending_refund", "chargeback": "chargedback", "refused": "refused"},
        "C": {"approved": "Aprovado", "pending": "Pendente", "refunded": "Reembolsado",
              "refund_pending": "Reembolso pendente", "chargeback": "Chargeback", "refused": "Recusado"},
        "D": {"approved": "Pagamento confirmado", "pending": "Pagamento pendente", "refunded": "Reembolso efetuado",
              "refund_pending": "Reembolso em andamento", "chargeback": "Em disputa", "refused": "Pagamento recusado"},
        "E": {"approved": "Pagado", "pending": "Pendiente de pago", "refunded": "Devuelto al cliente",
              "refund_pending": "Devolución solicitada", "chargeback": "Contracargo recibido", "refused": "Rechazada"},
        "F": {"approved": "Compra aprovada", "pending": "Pendente de confirmação", "refunded": "Estorno concluído",
              "refund_pending": "Estorno em processamento", "chargeback": "Chargeback confirmado",
              "refused": "Transação negada"},
        "G": {"approved": "Payment received", "pending": "Not paid yet", "refunded": "Refunded to customer",
              "refund_pending": "Refund being processed", "chargeback": "Disputed by card issuer",
              "refused": "Card refused"},
    },
    "eduzz": {
        "A": {"approved": "Paga", "pending": "Aberta", "cancelled": "Cancelada", "refund_pending": "Aguardando Reembolso",
              "refunded": "Reembolsado", "duplicated": "Duplicada", "expired": "Expirada"},
        "B": {"approved": "Paga", "pending": "Aguardando Pagamento", "cancelled": "Cancelada",
              "refund_pending": "Aguardando Reembolso", "refunded": "Reembolsada", "duplicated": "Duplicada",
              "expired": "Vencida"},
        "C": {"approved": "Pagada", "pending": "Abierta", "cancelled": "Cancelada",
              "refund_pending": "Esperando reembolso", "refunded": "Reembolsada", "duplicated": "Duplicada",
              "expired": "Vencida"},
        "D": {"approved": "Fatura paga", "pending": "Em aberto", "cancelled": "Fatura cancelada",
              "refund_pending": "Reembolso em análise", "refunded": "Fatura reembolsada", "duplicated": "Fatura duplicada",
              "expired": "Prazo expirado"},
        "E": {"approved": "Quitada", "pending": "Pendente de pagamento", "cancelled": "Fatura anulada",
              "refund_pending": "Pedido de reembolso", "refunded": "Reembolso concluído",
              "duplicated": "Fatura em duplicidade", "expired": "Expirou"},
        "F": {"approved": "Invoice paid", "pending": "Open - awaiting payment", "cancelled": "Invoice cancelled",
              "refund_pending": "Refund requested", "refunded": "Invoice refunded", "duplicated": "Duplicate invoice",
              "expired": "Invoice expired"},
        "G": {"approved": "Fatura quitada", "pending": "Aguardando quitação", "cancelled": "Cancelamento efetuado",
              "refund_pending": "Reembolso aguardando aprovação", "refunded": "Valor reembolsado",
              "duplicated": "Pedido duplicado", "expired": "Prazo de pagamento vencido"},
    },
    "monetizze": {
        "A": {"approved": "Finalizada", "pending": "Aguardando pagamento", "cancelled": "Cancelada",
              "refunded": "Devolvida", "blocked": "Bloqueada"},
        "B": {"approved": "Completa", "pending": "Aguardando Pagamento", "cancelled": "Cancelada",
              "refunded": "Reembolsada", "blocked": "Bloqueada"},
        "C": {"approved": "Completa", "pending": "Aguardando pagamento", "cancelled": "Cancelada",
              "refunded": "Devolvida", "blocked": "Bloqueada"},
        "D": {"approved": "Concluída", "pending": "Aguardando aprovação", "cancelled": "Venda cancelada",
              "refunded": "Estornada", "blocked": "Retida em análise"},
        "E": {"approved": "Finished", "pending": "Pending payment", "cancelled": "Order cancelled",
              "refunded": "Returned", "blocked": "Blocked"},
        "F": {"approved": "Venta finalizada", "pending": "Pendiente de aprobación", "cancelled": "Venta anulada",
              "refunded": "Reembolsada al cliente", "blocked": "Bloqueada por seguridad"},
        "G": {"approved": "Pagamento finalizado", "pending": "Aguardando pagto.", "cancelled": "Cancelamento da venda",
              "refunded": "Devolução concluída", "blocked": "Retida pela análise antifraude"},
    },
    "braip": {
        "A": {"approved": "Pagamento Aprovado", "pending": "Aguardando Pagamento", "cancelled": "Cancelada",
              "chargeback": "Chargeback", "refunded": "Devolvida", "blocked": "Em Análise",
              "refund_pending": "Estorno Pendente"},
        "B": {"approved": "Aprovado", "pending": "Em Processamento", "cancelled": "Cancelado",
              "chargeback": "Chargeback", "refunded": "Devolvida", "blocked": "Em análise",
              "refund_pending": "Estorno pendente"},
        "C": {"approved": "Pagamento Aprovado", "pending": "Aguardando Pagamento", "cancelled": "Cancelada",
              "chargeback": "Chargeback", "refunded": "Devolvida", "blocked": "Em Análise",
              "refund_pending": "Estorno Pendente"},
        "D": {"approved": "Aprovada", "pending": "Aguardando confirmação", "cancelled": "Cancelada pelo cliente",
              "chargeback": "Chargeback efetuado", "refunded": "Estorno realizado", "blocked": "Bloqueio preventivo",
              "refund_pending": "Estorno solicitado"},
        "E": {"approved": "Venda confirmada", "pending": "Pagamento em processamento", "cancelled": "Pedido cancelado",
              "chargeback": "Chargeback recebido", "refunded": "Valor estornado", "blocked": "Bloqueio antifraude",
              "refund_pending": "Aguardando estorno"},
        "F": {"approved": "Payment approved", "pending": "Waiting for payment", "cancelled": "Canceled by customer",
              "chargeback": "Charged back by bank", "refunded": "Refund completed", "blocked": "On hold (anti-fraud)",
              "refund_pending": "Refund in progress"},
        "G": {"approved": "Pago e aprovado", "pending": "Pagamento aguardando confirmação",
              "cancelled": "Cancelada a pedido do cliente", "chargeback": "Contestação (chargeback)",
              "refunded": "Reembolso feito ao cliente", "blocked": "Em análise de risco",
              "refund_pending": "Reembolso em aberto"},
    },
    # ClickBank and Digistore24 (set B) write one row per event: the sale, then a refund or chargeback
    # row carrying the sale's receipt / order id.
    "clickbank": {
        "A": {"approved": "SALE", "refunded": "RFND", "chargeback": "CGBK"},
        "B": {"approved": "Sale", "refunded": "Refund", "chargeback": "Chargeback"},
        "C": {"approved": "Sale", "refunded": "Refund", "chargeback": "Chargeback"},
        "D": {"approved": "Purchase", "refunded": "Refund Issued", "chargeback": "Chargeback Filed"},
        "E": {"approved": "New Sale", "refunded": "Customer Refund", "chargeback": "Bank Chargeback"},
        "F": {"approved": "Verkauf", "refunded": "Rückerstattung an Kunden", "chargeback": "Rückbuchung durch Bank"},
        "G": {"approved": "Initial Sale", "refunded": "Refund Processed", "chargeback": "Card Chargeback"},
    },
    "digistore24": {
        "A": {"approved": "Bezahlt", "refunded": "Erstattet", "chargeback": "Rückbuchung"},
        "B": {"approved": "Payment", "refunded": "Refund", "chargeback": "Chargeback"},
        "C": {"approved": "Zahlung", "refunded": "Erstattung", "chargeback": "Rückbuchung"},
        "D": {"approved": "Payment completed", "refunded": "Fully refunded", "chargeback": "Charged back"},
        "E": {"approved": "Pago recibido", "refunded": "Reembolso emitido", "chargeback": "Contracargo bancario"},
        "F": {"approved": "Pagamento recebido", "refunded": "Reembolso ao comprador", "chargeback": "Chargeback bancário"},
        "G": {"approved": "Zahlungseingang", "refunded": "Rückzahlung an Käufer", "chargeback": "Kartenrückbuchung"},
    },
    "manual": {
        "A": {"approved": "Pago", "refunded": "Reembolsado", "pending": "Pendente", "cancelled": "Cancelado"},
        "B": {"approved": "PAGO", "refunded": "Devolvido", "pending": "Aguardando pgto", "cancelled": "Cancelou"},
        "C": {"approved": "Pago ✅", "refunded": "Reembolso feito", "pending": "Aguardando", "cancelled": "Cancelado"},
        "D": {"approved": "Recebido", "refunded": "Reembolsei", "pending": "Esperando pagamento",
              "cancelled": "Cancelou a compra"},
        "E": {"approved": "Paid in full", "refunded": "Refund given", "pending": "Waiting on payment",
              "cancelled": "Customer cancelled"},
        "F": {"approved": "Pagou", "refunded": "Devolvi o dinheiro", "pending": "Ainda não pagou",
              "cancelled": "Desistiu da compra"},
        "G": {"approved": "Pagamento ok", "refunded": "Foi reembolsado", "pending": "Falta pagar",
              "cancelled": "Cancelou o pedido"},
    },
}  # fmt: skip
EVENT_STYLE = {
    ("clickbank", "A"),
    ("clickbank", "B"),
    ("clickbank", "C"),
    ("digistore24", "B"),
    ("digistore24", "C"),
    ("clickbank", "D"),
    ("clickbank", "E"),
    ("digistore24", "E"),
    ("clickbank", "F"),
    ("digistore24", "F"),
    ("clickbank", "G"),
    ("digistore24", "G"),
}
# Set D: Monetizze words a pending sale by how it is being paid.
PENDING_BY_PAYMENT: dict[tuple[str, str], dict[str, str]] = {
    ("monetizze", "D"): {"boleto": "Boleto impresso", "pix": "Pix gerado", "card": "Aguardando aprovação"},
    # set E: Hotmart's older English UI says a boleto was printed
    ("hotmart", "E"): {"boleto": "Billet printed"},
    # set F: Hotmart's 2027 UI and Monetizze in Spanish say how the buyer is paying
    ("hotmart", "F"): {"boleto": "Boleto emitido", "pix": "Pix gerado - aguardando"},
    ("monetizze", "F"): {"boleto": "Boleto generado", "pix": "Pix pendiente"},
    # set G: Hotmart's English UI and Monetizze say what the buyer still has to pay
    ("hotmart", "G"): {"boleto": "Boleto issued - awaiting payment", "pix": "Awaiting Pix payment"},
    ("monetizze", "G"): {"boleto": "Boleto gerado - aguardando pagto.", "pix": "Aguardando pagto. do Pix"},
}

PAYMENT_LABELS: dict[str, dict[str, str]] = {
    "br": {"card": "Cartão de Crédito", "boleto": "Boleto", "pix": "Pix"},
    "kiwify_en": {"card": "credit_card", "boleto": "boleto", "pix": "pix"},
    "clickbank": {"card": "VISA", "boleto": "MSTR", "pix": "PYPL"},
    "de": {"card": "Kreditkarte", "boleto": "SEPA-Lastschrift", "pix": "PayPal"},
    "en": {"card": "Credit card", "boleto": "Direct debit", "pix": "PayPal"},
    "es": {"card": "Tarjeta de crédito", "boleto": "Boleto", "pix": "Pix"},
    "br_short": {"card": "Cartão", "boleto": "Boleto bancário", "pix": "PIX"},
    "en_br": {"card": "Credit Card", "boleto": "Billet", "pix": "PIX"},
    "es_eu": {"card": "Tarjeta", "boleto": "Transferencia bancaria", "pix": "PayPal"},
    "camel": {"card": "creditCard", "boleto": "bankSlip", "pix": "pix"},
    "pt_eu": {"card": "Cartão de crédito", "boleto": "Transferência SEPA", "pix": "PayPal"},
    "de_cb": {"card": "Kreditkarte", "boleto": "Lastschrift", "pix": "PayPal"},
}

# Column layouts: (label, field) in the file's order. Set A follows the platforms' current exports
# where they are known; set B other renderings of the same fields (older layouts, English UI,
# abbreviations, units in the label).
LAYOUTS: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("hotmart", "A"): [
        ("Código da transação", "id"), ("Status da transação", "status"), ("Data da transação", "date"),
        ("Confirmação do pagamento", "paid_at"), ("Produto", "product"), ("Código do produto", "product_id"),
        ("Nome deste preço", "offer"), ("Comprador(a)", "customer"), ("Email do(a) Comprador(a)", "email"),
        ("Documento", "document"), ("Telefone", "phone"), ("País", "country"), ("Moeda de compra", "currency"),
        ("Valor de compra com impostos", "gross"), ("Valor de compra sem impostos", "gross"),
        ("Taxa de processamento", "fee"), ("Comissão do(a) Afiliado(a)", "commission"),
        ("Faturamento líquido do(a) Produtor(a)", "net"), ("Método de pagamento", "payment"),
        ("Quantidade total de parcelas", "installments"), ("Código SCK", "utm_source"),
        ("Venda feita como", "offer_type"), ("Tipo de cobrança", "charge_type"), ("Código de cupom", "coupon"),
    ],
    ("hotmart", "B"): [
        ("Data de venda", "date"), ("Transação", "id"), ("Nome do produto", "product"), ("Status", "status"),
        ("Comprador", "customer"), ("E-mail", "email"), ("CPF/CNPJ", "document"), ("Celular", "phone"),
        ("Preço total", "gross"), ("Taxa Hotmart", "fee"), ("Valor líquido", "net"), ("Moeda", "currency"),
        ("Forma de pagamento", "payment"), ("Parcelas", "installments"), ("Data de aprovação", "paid_at"),
        ("Afiliado", "affiliate"), ("Código SRC", "utm_source"), ("Cupom", "coupon"),
    ],
    ("kiwify", "A"): [
        ("ID da venda", "id"), ("Status", "status"), ("Data de criação", "date"), ("Data de aprovação", "paid_at"),
        ("Produto", "product"), ("Cliente", "customer"), ("Email", "email"), ("CPF", "document"),
        ("Celular", "phone"), ("Método de pagamento", "payment"), ("Parcelas", "installments"),
        ("Valor total", "gross"), ("Taxas", "fee"), ("Comissão do afiliado", "commission"),
        ("Valor líquido", "net"), ("Moeda", "currency"), ("Cupom", "coupon"), ("UTM Source", "utm_source"),
        ("UTM Campaign", "utm_campaign"), ("Afiliado", "affiliate"),
    ],
    ("kiwify", "B"): [
        ("Sale ID", "id"), ("Created at", "date"), ("Product", "product"), ("Customer", "customer"),
        ("Customer email", "email"), ("Customer CPF", "document"), ("Phone", "phone"), ("Status", "status"),
        ("Payment method", "payment"), ("Installments", "installments"), ("Total", "gross"), ("Fees", "fee"),
        ("Net amount", "net"), ("Currency", "currency"), ("Coupon code", "coupon"), ("Affiliate", "affiliate"),
        ("utm_campaign", "utm_campaign"),
    ],
    ("eduzz", "A"): [
        ("Fatura", "id"), ("Status", "status"), ("Data de criação", "date"), ("Data de pagamento", "paid_at"),
        ("Cód. produto", "product_id"), ("Produto", "product"), ("Cliente", "customer"), ("E-mail", "email"),
        ("CPF/CNPJ", "document"), ("Celular", "phone"), ("Valor da venda", "gross"), ("Valor pago", "paid_total"),
        ("Comissão do afiliado", "commission"), ("Valor líquido", "net"), ("Forma de pagamento", "payment"),
        ("Parcelas", "installments"), ("Afiliado", "affiliate"), ("Moeda", "currency"),
    ],
    ("eduzz", "B"): [
        ("Nº da fatura", "id"), ("Criada em", "date"), ("Nome do produto", "product"), ("Comprador", "customer"),
        ("Email do comprador", "email"), ("Documento", "document"), ("Telefone", "phone"), ("Situação", "status"),
        ("Total (R$)", "gross"), ("Total pago c/ juros (R$)", "paid_total"), ("Valor da parcela", "installment_value"),
        ("Qtd. parcelas", "installments"), ("Meio de pagamento", "payment"), ("Meu faturamento (R$)", "net"),
        ("Paga em", "paid_at"), ("utm_campaign", "utm_campaign"),
    ],
    ("monetizze", "A"): [
        ("Código da Venda", "id"), ("Status", "status"), ("Data da Compra", "date"),
        ("Data de Finalização", "paid_at"), ("Produto", "product"), ("Código do Produto", "product_id"),
        ("Nome do Cliente", "customer"), ("E-mail do Cliente", "email"), ("CPF", "document"),
        ("Telefone", "phone"), ("Valor da Compra", "gross"), ("Comissão", "commission"), ("Valor Líquido", "net"),
        ("Forma de Pagamento", "payment"), ("Parcelas", "installments"), ("Afiliado", "affiliate"),
        ("Cupom", "coupon"),
    ],
    ("monetizze", "B"): [
        ("Dt. pedido", "date"), ("Transação", "id"), ("Situação da venda", "status"), ("Oferta", "offer"),
        ("Produto", "product"), ("Comprador", "customer"), ("Email", "email"), ("Doc.", "document"),
        ("Fone", "phone"), ("Preço (R$)", "gross"), ("Líquido (R$)", "net"), ("Pagamento", "payment"),
        ("Nº parcelas", "installments"), ("src", "utm_source"), ("utm_campaign", "utm_campaign"),
    ],
    ("braip", "A"): [
        ("Cód. Transação", "id"), ("Status", "status"), ("Data da venda", "date"), ("Data do pagamento", "paid_at"),
        ("Produto", "product"), ("Plano", "offer"), ("Cliente", "customer"), ("E-mail", "email"), ("CPF", "document"),
        ("Telefone", "phone"), ("Valor total", "gross"), ("Taxa", "fee"), ("Comissão", "commission"),
        ("Valor líquido", "net"), ("Método de pagamento", "payment"), ("Parcelas", "installments"),
        ("Afiliado", "affiliate"),
    ],
    ("braip", "B"): [
        ("Código", "id"), ("Criado em", "date"), ("Status da transação", "status"), ("Nome do produto", "product"),
        ("Nome do comprador", "customer"), ("E-mail do comprador", "email"), ("Documento do comprador", "document"),
        ("Celular do comprador", "phone"), ("Valor bruto", "gross"), ("Valor recebido", "net"), ("Taxa Braip", "fee"),
        ("Forma de pagamento", "payment"), ("Qtd. parcelas", "installments"), ("Chave do afiliado", "affiliate"),
    ],
    ("clickbank", "A"): [
        ("Transaction Time", "date"), ("Receipt", "id"), ("Transaction Type", "status"), ("Vendor", "vendor"),
        ("Item", "product_id"), ("Product Title", "product"), ("Customer Name", "customer"),
        ("Customer Email", "email"), ("Country", "country"), ("Amount", "gross"), ("Currency", "currency"),
        ("Payment Method", "payment"), ("Affiliate", "affiliate"), ("TID", "utm_campaign"),
    ],
    ("clickbank", "B"): [
        ("Order Date", "date"), ("Receipt #", "id"), ("Txn Type", "status"), ("SKU", "product_id"),
        ("Product", "product"), ("Buyer", "customer"), ("E-mail Address", "email"), ("Order Total (USD)", "gross"),
        ("Your Earnings (USD)", "net"), ("Pmt Method", "payment"), ("Affiliate Nickname", "affiliate"),
        ("Tracking ID", "utm_campaign"),
    ],
    ("digistore24", "A"): [
        ("Bestell-ID", "id"), ("Datum", "date"), ("Produkt-ID", "product_id"), ("Produktname", "product"),
        ("Vorname", "first_name"), ("Nachname", "last_name"), ("E-Mail", "email"), ("Telefon", "phone"),
        ("Land", "country"), ("Währung", "currency"), ("Bruttobetrag", "gross"), ("Nettobetrag", "net"),
        ("Affiliate-Provision", "commission"), ("Zahlungsart", "payment"), ("Status", "status"),
        ("Affiliate", "affiliate"),
    ],
    ("digistore24", "B"): [
        ("Order ID", "id"), ("Transaction ID", "event_id"), ("Date", "date"), ("Transaction type", "status"),
        ("Product name", "product"), ("Product ID", "product_id"), ("Buyer name", "customer"),
        ("Buyer email", "email"), ("Amount (gross)", "gross"), ("Amount (net)", "net"), ("Currency", "currency"),
        ("Payment method", "payment"), ("Affiliate", "affiliate"),
    ],
    # set C: Hotmart's English UI, Eduzz's Spanish one, Digistore24 in German with one row per event
    ("hotmart", "C"): [
        ("Transaction", "id"), ("Transaction Status", "status"), ("Purchase Date", "date"),
        ("Approval Date", "paid_at"), ("Product", "product"), ("Product ID", "product_id"), ("Buyer Name", "customer"),
        ("Buyer Email", "email"), ("Buyer Document", "document"), ("Buyer Phone", "phone"),
        ("Purchase Currency", "currency"), ("Purchase Price (with taxes)", "gross"),
        ("Producer Net Revenue", "net"), ("Affiliate Commission", "commission"), ("Payment Type", "payment"),
        ("Installments", "installments"), ("Coupon Code", "coupon"), ("SCK", "utm_source"),
    ],
    ("kiwify", "C"): [
        ("Código da venda", "id"), ("Data", "date"), ("Situação", "status"), ("Nome do produto", "product"),
        ("Nome do cliente", "customer"), ("E-mail do cliente", "email"), ("Documento", "document"),
        ("Telefone", "phone"), ("Forma de pagamento", "payment"), ("Nº de parcelas", "installments"),
        ("Valor bruto (R$)", "gross"), ("Taxa Kiwify (R$)", "fee"), ("Valor líquido (R$)", "net"),
        ("Cupom de desconto", "coupon"), ("Origem (utm_source)", "utm_source"),
    ],
    ("eduzz", "C"): [
        ("Factura", "id"), ("Estado", "status"), ("Fecha de creación", "date"), ("Fecha de pago", "paid_at"),
        ("Producto", "product"), ("Cliente", "customer"), ("Correo electrónico", "email"), ("Documento", "document"),
        ("Teléfono", "phone"), ("Valor de la venta", "gross"), ("Valor pagado", "paid_total"),
        ("Comisión del afiliado", "commission"), ("Moneda", "currency"), ("Método de pago", "payment"),
        ("Cuotas", "installments"),
    ],
    ("monetizze", "C"): [
        ("Cód. venda", "id"), ("Data", "date"), ("Status da venda", "status"), ("Nome do produto", "product"),
        ("Cód. produto", "product_id"), ("Cliente", "customer"), ("E-mail do comprador", "email"),
        ("CPF/CNPJ", "document"), ("Celular", "phone"), ("Valor (R$)", "gross"), ("Valor comissão (R$)", "commission"),
        ("Valor a receber (R$)", "net"), ("Método", "payment"), ("Parcelamento", "installments"), ("Cupom", "coupon"),
        ("utm_source", "utm_source"),
    ],
    ("braip", "C"): [
        ("ID Transação", "id"), ("Data de criação", "date"), ("Situação", "status"), ("Produto", "product"),
        ("Plano", "offer"), ("Comprador", "customer"), ("Email", "email"), ("CPF", "document"), ("Whatsapp", "phone"),
        ("Preço", "gross"), ("Comissão afiliado", "commission"), ("Recebido", "net"), ("Meio de pagamento", "payment"),
        ("Parcelas", "installments"), ("Cupom", "coupon"),
    ],
    ("clickbank", "C"): [
        ("Date", "date"), ("Receipt No.", "id"), ("Type", "status"), ("Product Name", "product"),
        ("Item No.", "product_id"), ("Customer", "customer"), ("Email", "email"), ("Country", "country"),
        ("Gross Sale Amount", "gross"), ("Net Amount", "net"), ("Currency", "currency"), ("Payment Type", "payment"),
        ("Affiliate ID", "affiliate"),
    ],
    ("digistore24", "C"): [
        ("Bestellnummer", "id"), ("Transaktions-ID", "event_id"), ("Bestelldatum", "date"),
        ("Transaktionsart", "status"), ("Produkt", "product"), ("Käufer", "customer"), ("E-Mail-Adresse", "email"),
        ("Betrag (brutto)", "gross"), ("Betrag (netto)", "net"), ("Währung", "currency"), ("Zahlungsart", "payment"),
        ("Partner", "affiliate"),
    ],
    ("manual", "C"): [
        ("DATA COMPRA", "date"), ("ID VENDA", "id"), ("PRODUTO", "product"), ("CLIENTE", "customer"), ("E-MAIL", "email"),
        ("CELULAR/ZAP", "phone"), ("DOC", "document"), ("TOTAL (R$)", "gross"), ("STATUS PGTO", "status"),
        ("OBSERVAÇÕES", "notes"),
    ],
    # set D: Hotmart's Spanish (LatAm) UI, Kiwify in capitals without accents, Eduzz's "Cliente - ..."
    # columns and "Vlr." abbreviations, extra address columns, ClickBank with split names,
    # Digistore24's English order list (one row per order, a VAT column)
    ("hotmart", "D"): [
        ("Código de la transacción", "id"), ("Estado de la transacción", "status"), ("Fecha de la transacción", "date"),
        ("Fecha de confirmación del pago", "paid_at"), ("Nombre del producto", "product"),
        ("ID del producto", "product_id"), ("Nombre de la oferta", "offer"), ("Nombre del comprador", "customer"),
        ("Correo electrónico del comprador", "email"), ("Documento del comprador", "document"),
        ("Teléfono del comprador", "phone"), ("País del comprador", "country"), ("Moneda de la compra", "currency"),
        ("Valor de compra con impuestos", "gross"), ("Valor de compra sin impuestos", "gross"),
        ("Tarifa de procesamiento", "fee"), ("Comisión de afiliado", "commission"),
        ("Ingresos netos del productor", "net"), ("Medio de pago", "payment"), ("Número de cuotas", "installments"),
        ("Origen (sck)", "utm_source"), ("Cupón", "coupon"),
    ],
    ("kiwify", "D"): [
        ("CODIGO DO PEDIDO", "id"), ("DATA DO PEDIDO", "date"), ("SITUACAO DO PAGAMENTO", "status"),
        ("DATA DE CONFIRMACAO", "paid_at"), ("PRODUTO ADQUIRIDO", "product"), ("NOME COMPLETO", "customer"),
        ("EMAIL DE CONTATO", "email"), ("DOCUMENTO (CPF)", "document"), ("CELULAR COM DDD", "phone"),
        ("CIDADE", "city"), ("UF", "state"), ("FORMA DE PAGTO", "payment"), ("NUM. PARCELAS", "installments"),
        ("TOTAL DA COMPRA (R$)", "gross"), ("TARIFAS (R$)", "fee"), ("COMISSAO AFILIADOS (R$)", "commission"),
        ("REPASSE PRODUTOR (R$)", "net"), ("MOEDA DO PEDIDO", "currency"), ("CUPOM USADO", "coupon"),
        ("ORIGEM UTM", "utm_source"), ("CAMPANHA UTM", "utm_campaign"), ("AFILIADO RESPONSAVEL", "affiliate"),
    ],
    ("eduzz", "D"): [
        ("Código da fatura", "id"), ("Status da fatura", "status"), ("Data de emissão", "date"),
        ("Data de quitação", "paid_at"), ("ID do conteúdo", "product_id"), ("Título do conteúdo", "product"),
        ("Cliente - Nome", "customer"), ("Cliente - E-mail", "email"), ("Cliente - CPF/CNPJ", "document"),
        ("Cliente - Celular", "phone"), ("Vlr. da venda", "gross"), ("Vlr. pago c/ juros", "paid_total"),
        ("Vlr. comissão afiliado", "commission"), ("Vlr. líquido", "net"), ("Meio de pagto.", "payment"),
        ("Qtde. parcelas", "installments"), ("Nome do afiliado", "affiliate"), ("Moeda da venda", "currency"),
    ],
    ("monetizze", "D"): [
        ("Número da venda", "id"), ("Data e hora do pedido", "date"), ("Status pagamento", "status"),
        ("Liberada em", "paid_at"), ("Descrição do produto", "product"), ("Oferta escolhida", "offer"),
        ("Nome completo do comprador", "customer"), ("Endereço de e-mail", "email"),
        ("CPF/CNPJ do cliente", "document"), ("Telefone celular", "phone"), ("Cidade", "city"),
        ("Estado (UF)", "state"), ("Faturamento bruto (R$)", "gross"), ("Comissão afiliado (R$)", "commission"),
        ("Líquido produtor (R$)", "net"), ("Tipo de pagamento", "payment"), ("Parcelas (qtd.)", "installments"),
        ("Cupom utilizado", "coupon"),
    ],
    ("braip", "D"): [
        ("Chave da transação", "id"), ("Dt. criação", "date"), ("Dt. pagamento", "paid_at"), ("Status atual", "status"),
        ("Produto vendido", "product"), ("Nome da oferta", "offer"), ("Nome comprador", "customer"),
        ("Email comprador", "email"), ("CPF comprador", "document"), ("Tel. comprador", "phone"),
        ("Total do pedido", "gross"), ("Tarifa Braip", "fee"), ("Comissão paga ao afiliado", "commission"),
        ("Saldo líquido", "net"), ("Pagamento via", "payment"), ("Parcelado em", "installments"),
        ("Parceiro afiliado", "affiliate"), ("Cupom aplicado", "coupon"),
    ],
    ("clickbank", "D"): [
        ("Txn Date", "date"), ("Receipt Number", "id"), ("Trans. Type", "status"), ("Vendor Account", "vendor"),
        ("Item ID", "product_id"), ("Item Title", "product"), ("First Name", "first_name"), ("Last Name", "last_name"),
        ("Purchaser Email", "email"), ("Country Code", "country"), ("Purchase Amount", "gross"),
        ("Net Payout", "net"), ("Currency Code", "currency"), ("Pay Method", "payment"),
        ("Affiliate Name", "affiliate"), ("Tracking Code", "utm_campaign"),
    ],
    ("digistore24", "D"): [
        ("Purchase ID", "id"), ("Created on", "date"), ("Product no.", "product_id"), ("Products", "product"),
        ("Buyer first name", "first_name"), ("Buyer last name", "last_name"), ("Buyer e-mail", "email"),
        ("Buyer country", "country"), ("Billing currency", "currency"), ("Price (gross)", "gross"),
        ("VAT amount", "vat"), ("Vendor earnings", "net"), ("Paid with", "payment"), ("Order status", "status"),
        ("Affiliate partner", "affiliate"),
    ],
    ("manual", "D"): [
        ("Dia da venda", "date"), ("Nº transação", "id"), ("Produto/curso", "product"), ("Cliente/aluno", "customer"),
        ("Contato (e-mail)", "email"), ("Whats", "phone"), ("CPF do aluno", "document"),
        ("Valor da venda em R$", "gross"), ("Status venda", "status"), ("Comentários", "notes"),
    ],
    # set E: Hotmart's older English UI, Kiwify in Spanish, Eduzz's MyEduzz labels, Monetizze in English,
    # Braip's API-like snake_case mixed with UI labels, ClickBank's Orders report, Digistore24 in Spanish
    # (one row per payment or refund), a workbook kept in English by a partner; extra columns (IP, product
    # type, order language)
    ("hotmart", "E"): [
        ("Transaction Code", "id"), ("Purchase Status", "status"), ("Date of Purchase", "date"),
        ("Payment Confirmation Date", "paid_at"), ("Item Name", "product"), ("Product Code", "product_id"),
        ("Offer Name", "offer"), ("Customer Full Name", "customer"), ("Customer E-mail Address", "email"),
        ("Tax ID", "document"), ("Mobile", "phone"), ("Country of Buyer", "country"),
        ("Currency of Purchase", "currency"), ("Purchase Value (incl. taxes)", "gross"),
        ("Processing Fee", "fee"), ("Affiliate's Commission", "commission"), ("Producer's Net Earnings", "net"),
        ("Payment Mode", "payment"), ("No. of Installments", "installments"), ("Source (SRC)", "utm_source"),
        ("Discount Coupon", "coupon"),
    ],
    ("kiwify", "E"): [
        ("ID del pedido", "id"), ("Fecha de compra", "date"), ("Estado del pago", "status"),
        ("Fecha de aprobación", "paid_at"), ("Producto comprado", "product"), ("Nombre completo", "customer"),
        ("Correo", "email"), ("Documento de identidad", "document"), ("Número de celular", "phone"),
        ("Dirección IP", "ip"), ("Forma de pago", "payment"), ("Cantidad de cuotas", "installments"),
        ("Importe total", "gross"), ("Tarifa de la plataforma", "fee"), ("Comisión de afiliados", "commission"),
        ("Monto neto", "net"), ("Divisa", "currency"), ("Cupón de descuento", "coupon"),
        ("Afiliado asociado", "affiliate"), ("Campaña (utm)", "utm_campaign"),
    ],
    ("eduzz", "E"): [
        ("Identificador da fatura", "id"), ("Status do pedido", "status"), ("Compra realizada em", "date"),
        ("Pagamento aprovado em", "paid_at"), ("ID produto", "product_id"), ("Conteúdo", "product"),
        ("Tipo de produto", "product_type"), ("Comprador (nome completo)", "customer"), ("E-mail de cadastro", "email"),
        ("CPF ou CNPJ", "document"), ("Telefone (WhatsApp)", "phone"), ("Preço de venda (R$)", "gross"),
        ("Total cobrado (R$)", "paid_total"), ("Repasse afiliado (R$)", "commission"),
        ("Sua receita (R$)", "net"), ("Forma pgto.", "payment"), ("Total de parcelas", "installments"),
        ("Afiliado (nome)", "affiliate"), ("Moeda (ISO)", "currency"),
    ],
    ("monetizze", "E"): [
        ("Sale Code", "id"), ("Purchased On", "date"), ("Sale Status", "status"), ("Completion Date", "paid_at"),
        ("Product Description", "product"), ("Plan", "offer"), ("Client Name", "customer"),
        ("Client E-mail", "email"), ("Tax Number", "document"), ("Phone Number", "phone"),
        ("Sale Value (R$)", "gross"), ("Affiliate Fee (R$)", "commission"), ("Net Value (R$)", "net"),
        ("Payment Form", "payment"), ("Installments Qty", "installments"), ("Coupon Used", "coupon"),
    ],
    ("braip", "E"): [
        ("sale_key", "id"), ("sale_created_at", "date"), ("Status da compra", "status"), ("paid_at", "paid_at"),
        ("product_label", "product"), ("Plano contratado", "offer"), ("client_full_name", "customer"),
        ("client_email", "email"), ("client_cpf", "document"), ("client_cellphone", "phone"),
        ("Valor da transação", "gross"), ("Taxa da plataforma", "fee"), ("Comissão de afiliados", "commission"),
        ("Valor líquido a receber", "net"), ("pay_type", "payment"), ("installments_count", "installments"),
        ("affiliate_nick", "affiliate"), ("coupon_applied", "coupon"),
    ],
    ("clickbank", "E"): [
        ("Transaction Date/Time", "date"), ("Order Receipt", "id"), ("Order Type", "status"),
        ("Product SKU", "product_id"), ("Title", "product"), ("Buyer Full Name", "customer"),
        ("Buyer Email Address", "email"), ("Ship-To Country", "country"), ("Order Language", "language"),
        ("Total Charged (USD)", "gross"), ("Vendor Amount (USD)", "net"), ("Payment Processor", "payment"),
        ("Affiliate Account", "affiliate"), ("Traffic Source (TID)", "utm_campaign"),
    ],
    ("digistore24", "E"): [
        ("N.º de pedido", "id"), ("ID de transacción", "event_id"), ("Fecha", "date"),
        ("Tipo de transacción", "status"), ("Nombre del artículo", "product"), ("ID del artículo", "product_id"),
        ("Nombre y apellido", "customer"), ("E-mail del comprador", "email"), ("País de facturación", "country"),
        ("Importe bruto", "gross"), ("IVA incluido", "vat"), ("Importe neto", "net"), ("Moneda de pago", "currency"),
        ("Tipo de pago", "payment"), ("Socio afiliado", "affiliate"),
    ],
    ("manual", "E"): [
        ("Sale date", "date"), ("Order #", "id"), ("Course", "product"), ("Student", "customer"),
        ("Email address", "email"), ("Phone (WhatsApp)", "phone"), ("Tax ID (CPF)", "document"),
        ("Amount (R$)", "gross"), ("Payment status", "status"), ("Notes", "notes"),
    ],
    # set F: exports as downloaded in 2027 after the platforms' redesigns: Hotmart's new Portuguese order
    # list, Kiwify's "Relatório de vendas" with camelCase API-like headers, Eduzz in English, Monetizze
    # in Spanish, Braip in English, ClickBank with a German locale, Digistore24 in Portuguese (one row
    # per payment or refund), a workbook with one sheet per month and a platform column
    ("hotmart", "F"): [
        ("Código do pedido", "id"), ("Situação do pedido", "status"), ("Pedido feito em", "date"),
        ("Pagamento confirmado em", "paid_at"), ("Nome do item", "product"), ("ID do item", "product_id"),
        ("Oferta selecionada", "offer"), ("Nome do(a) comprador(a)", "customer"),
        ("Endereço de e-mail do comprador", "email"), ("CPF/CNPJ do(a) comprador(a)", "document"),
        ("Celular do(a) comprador(a)", "phone"), ("País de residência", "country"), ("Moeda da cobrança", "currency"),
        ("Valor pago pelo comprador (R$)", "gross"), ("Tarifa Hotmart (R$)", "fee"),
        ("Comissões de afiliação (R$)", "commission"), ("Você recebe (R$)", "net"),
        ("Meio de pagamento utilizado", "payment"), ("Quantidade de parcelas", "installments"),
        ("Origem da venda (sck)", "utm_source"), ("Código promocional", "coupon"),
    ],
    ("kiwify", "F"): [
        ("orderRef", "id"), ("orderState", "status"), ("orderCreatedAt", "date"), ("paymentApprovedAt", "paid_at"),
        ("productDisplayName", "product"), ("purchaserName", "customer"), ("purchaserEmailAddress", "email"),
        ("purchaserCpf", "document"), ("purchaserMobile", "phone"), ("purchaserIp", "ip"), ("paymentMethodType", "payment"), ("installmentCount", "installments"),
        ("chargeAmount", "gross"), ("platformFee", "fee"), ("affiliateCommissionAmount", "commission"),
        ("producerNetAmount", "net"), ("saleCurrency", "currency"), ("discountCode", "coupon"),
        ("trackingSource", "utm_source"), ("trackingCampaign", "utm_campaign"), ("affiliateDisplayName", "affiliate"),
    ],
    ("eduzz", "F"): [
        ("Invoice ID", "id"), ("Invoice Status", "status"), ("Created Date", "date"), ("Paid Date", "paid_at"),
        ("Content ID", "product_id"), ("Content Title", "product"), ("Content Type", "product_type"),
        ("Client", "customer"), ("Client Email Address", "email"), ("Client Tax ID", "document"),
        ("Client Mobile", "phone"), ("Sale Amount", "gross"), ("Amount Paid (incl. interest)", "paid_total"),
        ("Affiliate Payout", "commission"), ("Producer Revenue", "net"), ("Payment Option", "payment"),
        ("Number of Installments", "installments"), ("Referring Affiliate", "affiliate"),
        ("Invoice Currency", "currency"),
    ],
    ("monetizze", "F"): [
        ("Código de venta", "id"), ("Fecha del pedido", "date"), ("Estado de la venta", "status"),
        ("Fecha de liberación", "paid_at"), ("Descripción del producto", "product"), ("Plan elegido", "offer"),
        ("Nombre del cliente", "customer"), ("Correo del cliente", "email"), ("CPF/CNPJ del cliente", "document"),
        ("Celular del cliente", "phone"), ("Monto de la venta (R$)", "gross"), ("Comisión pagada (R$)", "commission"),
        ("Neto a recibir (R$)", "net"), ("Medio de pago elegido", "payment"), ("Cuotas (cant.)", "installments"),
        ("Cupón aplicado", "coupon"),
    ],
    ("braip", "F"): [
        ("Transaction Key", "id"), ("Created", "date"), ("Payment Date", "paid_at"), ("Current Status", "status"),
        ("Product Sold", "product"), ("Offer", "offer"), ("Buyer's Name", "customer"), ("Buyer's Email", "email"),
        ("Buyer's CPF", "document"), ("Buyer's Phone", "phone"), ("City", "city"), ("State", "state"),
        ("Order Total (R$)", "gross"), ("Braip Fee (R$)", "fee"), ("Affiliate Commission (R$)", "commission"),
        ("Net Balance (R$)", "net"), ("Paid Via", "payment"), ("# of Installments", "installments"),
        ("Affiliate Key", "affiliate"), ("Promo Code", "coupon"),
    ],
    ("clickbank", "F"): [
        ("Transaktionsdatum", "date"), ("Belegnummer", "id"), ("Transaktionstyp", "status"), ("Anbieter", "vendor"),
        ("Artikelnummer", "product_id"), ("Produktbezeichnung", "product"), ("Kundenname", "customer"),
        ("E-Mail des Kunden", "email"), ("Land (ISO)", "country"), ("Bestellbetrag (USD)", "gross"),
        ("Auszahlungsbetrag (USD)", "net"), ("Währungscode", "currency"), ("Zahlungsmethode", "payment"),
        ("Partner-ID", "affiliate"), ("Tracking-ID (TID)", "utm_campaign"),
    ],
    ("digistore24", "F"): [
        ("Número do pedido", "id"), ("ID da transação", "event_id"), ("Data e hora", "date"),
        ("Tipo de lançamento", "status"), ("Produto (nome)", "product"), ("Nº do produto", "product_id"),
        ("Comprador (nome e sobrenome)", "customer"), ("E-mail de contato do comprador", "email"),
        ("País de cobrança", "country"), ("Total bruto (€)", "gross"), ("IVA (€)", "vat"),
        ("Líquido para o vendedor (€)", "net"), ("Moeda da transação", "currency"), ("Pago com", "payment"),
        ("Afiliado parceiro", "affiliate"),
    ],
    # set G: a seller who keeps every platform's UI in English where it has one (Hotmart, Kiwify with
    # product and offer in one column, ClickBank with refunds in parentheses), Eduzz, Monetizze and Braip
    # in Portuguese with other labels, Digistore24's German booking list (a trailing minus on refunds),
    # tab-separated .csv files, month names in dates ("12 de out. de 2026", "Oct 12, 2026"), headers on
    # row 4 under a two-line title, and a workbook an assistant keeps in Google Sheets (line breaks and
    # "*" marks in the headers)
    ("hotmart", "G"): [
        ("Transaction Reference", "id"), ("Status of Order", "status"), ("Order Placed", "date"),
        ("Payment Approved On", "paid_at"), ("Product Purchased", "product"), ("Product Number", "product_id"),
        ("Price Option", "offer"), ("Purchaser", "customer"), ("Contact Email", "email"),
        ("CPF / Tax Number", "document"), ("Contact Phone", "phone"), ("Billing Country", "country"),
        ("Charge Currency", "currency"), ("Full Price Paid", "gross"), ("Hotmart Service Fee", "fee"),
        ("Affiliate Share", "commission"), ("Amount You Receive", "net"), ("Payment Method Used", "payment"),
        ("Number of Payments", "installments"), ("Sales Source (sck)", "utm_source"), ("Voucher", "coupon"),
    ],
    ("kiwify", "G"): [
        ("Order Number", "id"), ("Ordered On", "date"), ("Current Payment Status", "status"),
        ("Approved At", "paid_at"), ("Product / Offer", "product_offer"), ("Student Name", "customer"),
        ("Student Email", "email"), ("Student CPF", "document"), ("Student Phone", "phone"),
        ("Method of Payment", "payment"), ("Installments (x)", "installments"), ("Total Paid (BRL)", "gross"),
        ("Kiwify Fees (BRL)", "fee"), ("Commission to Affiliates (BRL)", "commission"),
        ("Net to Producer (BRL)", "net"), ("Currency (ISO code)", "currency"), ("Discount Coupon Used", "coupon"),
        ("Traffic Source", "utm_source"), ("Ad Campaign", "utm_campaign"), ("Referred By", "affiliate"),
    ],
    ("eduzz", "G"): [
        ("Número da fatura", "id"), ("Situação atual", "status"), ("Gerada em", "date"), ("Quitada em", "paid_at"),
        ("Código do conteúdo", "product_id"), ("Nome do conteúdo", "product"), ("Nome de quem comprou", "customer"),
        ("Contato de e-mail", "email"), ("Documento (CPF/CNPJ)", "document"), ("Fone do cliente", "phone"),
        ("Valor da fatura", "gross"), ("Valor total c/ juros do parcelamento", "paid_total"),
        ("Comissão repassada", "commission"), ("Meu líquido", "net"), ("Modalidade de pagamento", "payment"),
        ("Dividido em (parcelas)", "installments"), ("Afiliado vinculado", "affiliate"),
        ("Moeda cobrada", "currency"),
    ],
    ("monetizze", "G"): [
        ("Venda nº", "id"), ("Data/hora da compra", "date"), ("Status atual da venda", "status"),
        ("Data da liberação", "paid_at"), ("Item vendido", "product"), ("Plano da oferta", "offer"),
        ("Comprador(a) - nome", "customer"), ("Comprador(a) - e-mail", "email"), ("Comprador(a) - CPF", "document"),
        ("Comprador(a) - telefone", "phone"), ("Valor bruto da venda (R$)", "gross"), ("Comissões (R$)", "commission"),
        ("Seu saldo (R$)", "net"), ("Pagamento por", "payment"), ("Nº de vezes", "installments"),
        ("Cupom de desconto usado", "coupon"),
    ],
    ("braip", "G"): [
        ("Transação (código)", "id"), ("Data de cadastro", "date"), ("Aprovada em", "paid_at"),
        ("Situação da compra", "status"), ("Produto da venda", "product"), ("Plano escolhido", "offer"),
        ("Cliente - nome completo", "customer"), ("Cliente - endereço de e-mail", "email"),
        ("Cliente - documento", "document"), ("Cliente - telefone/WhatsApp", "phone"),
        ("Valor cobrado do cliente", "gross"), ("Taxas Braip", "fee"), ("Comissões pagas", "commission"),
        ("Saldo a receber", "net"), ("Pagou via", "payment"), ("Parcelamento (vezes)", "installments"),
        ("Afiliado que indicou", "affiliate"), ("Cupom promocional", "coupon"),
    ],
    ("clickbank", "G"): [
        ("Transaction Timestamp", "date"), ("Receipt ID", "id"), ("Transaction Kind", "status"),
        ("Vendor Nickname", "vendor"), ("Item Code", "product_id"), ("Item Description", "product"),
        ("Name of Customer", "customer"), ("Contact E-mail Address", "email"), ("Billing Country Code", "country"),
        ("Amount Charged (USD)", "gross"), ("Vendor Payout (USD)", "net"), ("Currency Used", "currency"),
        ("Card / Wallet", "payment"), ("Promoting Affiliate", "affiliate"), ("TID Code", "utm_campaign"),
    ],
    ("digistore24", "G"): [
        ("Auftragsnummer", "id"), ("Buchungs-ID", "event_id"), ("Buchungsdatum", "date"), ("Buchungsart", "status"),
        ("Artikelname", "product"), ("Artikel-Nr.", "product_id"), ("Name des Käufers", "customer"),
        ("E-Mail des Käufers", "email"), ("Rechnungsland", "country"), ("Betrag inkl. MwSt. (EUR)", "gross"),
        ("darin MwSt. (EUR)", "vat"), ("Auszahlung an Verkäufer (EUR)", "net"), ("Währung (ISO)", "currency"),
        ("Bezahlt per", "payment"), ("Vertriebspartner", "affiliate"),
    ],
    ("manual", "G"): [
        ("Data em que\ncomprou", "date"), ("ID da venda\n(da plataforma) *", "id"), ("Infoproduto", "product"),
        ("Nome completo\ndo cliente", "customer"), ("E-mail para\nacesso", "email"), ("Celular /\nWhatsApp", "phone"),
        ("CPF\n(só números)", "document"), ("Preço\npago (R$) *", "gross"), ("Pagamento\n(situação) *", "status"),
        ("Obs. da\nassistente", "notes"),
    ],
    ("manual", "F"): [
        ("Comprou em", "date"), ("Cód. da venda", "id"), ("Produto comprado", "product"), ("Aluno(a)", "customer"),
        ("E-mail do aluno", "email"), ("WhatsApp do aluno", "phone"), ("Documento do aluno", "document"),
        ("Valor pago (R$)", "gross"), ("Status do pagto.", "status"), ("Observação", "notes"),
    ],
    # the hand-kept workbook: abbreviations, units in parentheses, the phone as the messaging app
    ("manual", "A"): [
        ("Dt. venda", "date"), ("Cód. transação", "id"), ("Produto", "product"), ("Cliente", "customer"),
        ("E-mail", "email"), ("Zap", "phone"), ("CPF", "document"), ("Vlr. (R$)", "gross"), ("Status", "status"),
        ("Obs.", "notes"),
    ],
    ("manual", "B"): [
        ("Data", "date"), ("Nº do pedido", "id"), ("Curso", "product"), ("Nome", "customer"), ("Email", "email"),
        ("WhatsApp", "phone"), ("CPF/CNPJ", "document"), ("Valor (R$)", "gross"), ("Situação", "status"),
        ("Anotações", "notes"),
    ],
}  # fmt: skip


@dataclass(frozen=True)
class FileSpec:
    """One export: where it lands, what it holds and how it is written."""

    cluster: str
    platform: str  # "manual" for the hand-kept workbook
    name: str
    wave: int
    window: str = "all"
    sep: str = ";"
    encoding: str = "utf-8"
    money: str = "br"  # br 1.234,56 | br_rs R$ 1.234,56 | us 1,234.56 | plain 1234.56 (csv only)
    dates: str = "br_s"  # br_s dd/mm/yyyy hh:mm:ss | br_m dd/mm/yyyy hh:mm | us | iso | de (csv only)
    empty: str = ""
    title: str | None = None  # a title line and a blank line above the header
    totals: bool = False  # a totals row at the bottom
    masked_cpf: bool = True
    sheets: tuple[str, ...] = ()  # manual: the platforms with a sheet of their own
    platform_column_sheet: tuple[str, ...] = ()  # manual: platforms kept together under a "Plataforma" column
    by_month: bool = False  # manual: one sheet per month, every platform under a platform column

    @property
    def fmt(self) -> str:
        return "xlsx" if self.name.endswith(".xlsx") else "csv"


def _f(cluster: str, platform: str, name: str, wave: int, **kw: Any) -> FileSpec:
    return FileSpec(cluster, platform, name, wave, **kw)


FILES: dict[str, list[FileSpec]] = {
    "A": [
        _f("diabetes", "hotmart", "hotmart_vendas_detalhado_ago-out.csv", 1, window="w1", encoding="utf-8-sig", empty="(none)"),
        _f("diabetes", "hotmart", "hotmart_vendas_detalhado_set-nov.csv", 2, window="w2", encoding="utf-8-sig", empty="(none)"),
        _f("diabetes", "clickbank", "clickbank_transactions_2026.csv", 2, sep=",", money="us", dates="us"),
        _f("diabetes", "manual", "Controle de Vendas 2026.xlsx", 2, sheets=("hotmart", "clickbank")),
        _f("emagrecimento", "kiwify", "kiwify_vendas_ago-out.xlsx", 1, window="w1"),
        _f("emagrecimento", "kiwify", "kiwify_vendas_set-nov.csv", 2, window="w2", sep=",", money="plain", dates="iso",
           masked_cpf=False),
        _f("emagrecimento", "monetizze", "monetizze_relatorio_vendas.csv", 1, encoding="latin-1", money="br_rs",
           dates="br_m", title="Relatório de Vendas - Monetizze", totals=True),
        _f("emagrecimento", "braip", "braip_vendas.xlsx", 2),
        _f("rejuvenescimento", "digistore24", "digistore24_bestellungen.csv", 2, dates="de"),
        _f("rejuvenescimento", "eduzz", "eduzz_faturas_ago-out.xlsx", 1, window="w1"),
        _f("rejuvenescimento", "eduzz", "eduzz_faturas_set-nov.csv", 2, window="w2", encoding="latin-1"),
        _f("rejuvenescimento", "hotmart", "hotmart_vendas.xlsx", 2),
        _f("relacionamento", "braip", "braip_vendas_ago-out.csv", 1, window="w1", dates="br_m"),
        _f("relacionamento", "braip", "braip_vendas_set-nov.csv", 2, window="w2", dates="br_m"),
        _f("relacionamento", "monetizze", "monetizze_vendas.xlsx", 2, title="Vendas - exportado em 21/11/2026"),
        _f("relacionamento", "kiwify", "kiwify_export.csv", 1, sep=",", money="plain", dates="iso", masked_cpf=False),
        _f("relacionamento", "manual", "planilha_vendas_relacionamento.xlsx", 2, sheets=("kiwify", "monetizze", "braip")),
        _f("renda_extra", "eduzz", "eduzz_vendas.csv", 2, money="br_rs", masked_cpf=False),
        _f("renda_extra", "hotmart", "hotmart_export_renda.csv", 1, encoding="utf-8-sig", empty="(none)"),
        _f("renda_extra", "digistore24", "digistore24_orders.xlsx", 2),
        _f("renda_extra", "clickbank", "clickbank_report.xlsx", 1),
    ],
    "B": [
        _f("diabetes", "clickbank", "cb_orders_aug-oct.csv", 1, window="w1", sep=",", money="us", dates="iso"),
        _f("diabetes", "clickbank", "cb_orders_sep-nov.csv", 2, window="w2", sep=",", money="us", dates="iso"),
        _f("diabetes", "hotmart", "Vendas Hotmart.xlsx", 2, title="Relatório de vendas - Hotmart"),
        _f("diabetes", "manual", "minhas vendas.xlsx", 2, sheets=("hotmart", "clickbank", "eduzz")),
        _f("emagrecimento", "hotmart", "vendas_hotmart_1.csv", 1, window="w1", sep=",", encoding="latin-1",
           money="br_rs", dates="br_m", masked_cpf=False),
        _f("emagrecimento", "hotmart", "vendas_hotmart_2.csv", 2, window="w2", sep=",", encoding="latin-1",
           money="br_rs", dates="br_m", masked_cpf=False),
        _f("emagrecimento", "braip", "braip-relatorio.csv", 2, sep=",", money="br", totals=True),
        _f("emagrecimento", "monetizze", "monetizze.xlsx", 1),
        _f("rejuvenescimento", "kiwify", "Kiwify vendas setembro.xlsx", 1, window="w1"),
        _f("rejuvenescimento", "kiwify", "Kiwify vendas novembro.csv", 2, window="w2", encoding="latin-1",
           money="br", dates="br_m"),
        _f("rejuvenescimento", "eduzz", "eduzz_relatorio.csv", 1, sep=",", encoding="latin-1", money="br_rs",
           title="Eduzz - Relatório de Faturas"),
        _f("rejuvenescimento", "digistore24", "ds24_transactions.xlsx", 2),
        _f("relacionamento", "eduzz", "eduzz_ago-out.xlsx", 1, window="w1"),
        _f("relacionamento", "eduzz", "eduzz_set-nov.csv", 2, window="w2", money="br", dates="br_m", masked_cpf=False),
        _f("relacionamento", "hotmart", "hotmart.csv", 2, money="br", dates="br_m"),
        _f("relacionamento", "manual", "Planilha de controle.xlsx", 2, sheets=("braip",),
           platform_column_sheet=("monetizze", "kiwify")),
        _f("renda_extra", "monetizze", "monetizze_vendas_1.csv", 1, window="w1", encoding="latin-1", money="br_rs",
           totals=True),
        _f("renda_extra", "monetizze", "monetizze_vendas_2.csv", 2, window="w2", encoding="latin-1", money="br_rs",
           totals=True),
        _f("renda_extra", "braip", "braip.xlsx", 1),
        _f("renda_extra", "digistore24", "digistore24_export.csv", 2, sep=",", money="plain", dates="iso"),
        _f("renda_extra", "kiwify", "kiwify.csv", 2, sep=",", money="plain", dates="iso", masked_cpf=False),
    ],
    "D": [
        _f("diabetes", "kiwify", "Kiwify - pedidos ago-out.xlsx", 1, window="w1", title="KIWIFY - RELATORIO DE PEDIDOS"),
        _f("diabetes", "kiwify", "Kiwify - pedidos set-nov.csv", 2, window="w2", encoding="latin-1", money="br_rs",
           dates="br_m", masked_cpf=False),
        _f("diabetes", "digistore24", "Digistore24_purchases.csv", 2, sep=",", money="plain", dates="iso"),
        _f("diabetes", "manual", "Vendas Diabetes - controle.xlsx", 2, sheets=("kiwify",),
           platform_column_sheet=("hotmart", "braip")),
        _f("emagrecimento", "hotmart", "ventas_hotmart_ago-oct.csv", 1, window="w1", encoding="utf-8-sig",
           empty="(none)"),
        _f("emagrecimento", "hotmart", "ventas_hotmart_sep-nov.csv", 2, window="w2", encoding="utf-8-sig",
           empty="(none)"),
        _f("emagrecimento", "braip", "braip_relatorio_vendas.xlsx", 1, title="Braip - Relatório de vendas"),
        _f("emagrecimento", "clickbank", "ClickBank Orders Report.csv", 2, sep=",", money="us", dates="us"),
        _f("rejuvenescimento", "eduzz", "eduzz_vendas_ago-out.csv", 1, window="w1", encoding="latin-1",
           title="Eduzz - Minhas vendas"),
        _f("rejuvenescimento", "eduzz", "eduzz_vendas_set-nov.xlsx", 2, window="w2"),
        _f("rejuvenescimento", "monetizze", "monetizze_vendas_periodo.csv", 2, encoding="utf-8-sig", money="br_rs",
           totals=True),
        _f("rejuvenescimento", "digistore24", "DS24 Orders.xlsx", 1),
        _f("rejuvenescimento", "manual", "Planilha Rejuvenescimento.xlsx", 2, sheets=("eduzz",),
           platform_column_sheet=("monetizze", "kiwify")),
        _f("relacionamento", "monetizze", "Monetizze vendas 1.xlsx", 1, window="w1", totals=True),
        _f("relacionamento", "monetizze", "Monetizze vendas 2.csv", 2, window="w2", encoding="latin-1", money="br_rs",
           dates="br_m", title="Monetizze - Vendas do período", totals=True),
        _f("relacionamento", "clickbank", "cb_transactions_1.csv", 1, window="w1", sep=",", money="us", dates="iso"),
        _f("relacionamento", "clickbank", "cb_transactions_2.csv", 2, window="w2", sep=",", money="us", dates="iso"),
        _f("relacionamento", "kiwify", "kiwify_relatorio.csv", 1, sep=",", money="plain", dates="iso"),
        _f("renda_extra", "braip", "braip_ago-out.csv", 1, window="w1", dates="br_m", encoding="latin-1"),
        _f("renda_extra", "braip", "braip_set-nov.csv", 2, window="w2", dates="br_m", encoding="latin-1"),
        _f("renda_extra", "hotmart", "Hotmart ventas.xlsx", 2, title="Hotmart - Informe de ventas"),
        _f("renda_extra", "eduzz", "eduzz_faturas.csv", 1, money="br_rs", masked_cpf=False),
        _f("renda_extra", "manual", "Minha planilha de vendas.xlsx", 2, sheets=("braip", "hotmart", "clickbank")),
    ],
    "C": [
        _f("diabetes", "digistore24", "Digistore24 Transaktionen Aug-Okt.csv", 1, window="w1", dates="de"),
        _f("diabetes", "digistore24", "Digistore24 Transaktionen Sep-Nov.csv", 2, window="w2", dates="de"),
        _f("diabetes", "kiwify", "vendas-kiwify.xlsx", 2, title="Kiwify - Vendas"),
        _f("diabetes", "braip", "braip_transacoes.csv", 1, money="br_rs", dates="br_m", encoding="latin-1"),
        _f("emagrecimento", "clickbank", "ClickBank_Transactions.xlsx", 2),
        _f("emagrecimento", "eduzz", "eduzz_facturas.csv", 1, sep=",", money="plain", dates="iso"),
        _f("emagrecimento", "hotmart", "Hotmart Sales Report.xlsx", 2),
        _f("emagrecimento", "manual", "VENDAS EMAGRECIMENTO.xlsx", 2, sheets=("clickbank",),
           platform_column_sheet=("hotmart", "kiwify")),
        _f("rejuvenescimento", "monetizze", "monetizze_ago-out.xlsx", 1, window="w1"),
        _f("rejuvenescimento", "monetizze", "monetizze_set-nov.csv", 2, window="w2", money="br_rs", dates="br_m",
           title="Monetizze - Relatório de Vendas", totals=True),
        _f("rejuvenescimento", "clickbank", "clickbank-orders.csv", 2, sep=",", money="plain", dates="isoT"),
        _f("rejuvenescimento", "hotmart", "hotmart_sales.csv", 1, sep=",", money="plain", dates="iso", masked_cpf=False),
        _f("relacionamento", "hotmart", "hotmart_sales_aug-oct.csv", 1, window="w1", sep=",", money="plain", dates="iso"),
        _f("relacionamento", "hotmart", "hotmart_sales_sep-nov.csv", 2, window="w2", sep=",", money="plain", dates="iso"),
        _f("relacionamento", "digistore24", "digistore24.xlsx", 2),
        _f("relacionamento", "eduzz", "Eduzz facturas.xlsx", 1),
        _f("renda_extra", "kiwify", "kiwify_1.csv", 1, window="w1", money="br", dates="br_s"),
        _f("renda_extra", "kiwify", "kiwify_2.csv", 2, window="w2", money="br", dates="br_s", encoding="latin-1"),
        _f("renda_extra", "braip", "Braip vendas.xlsx", 2),
        _f("renda_extra", "manual", "controle renda extra.xlsx", 2, sheets=("braip", "kiwify", "monetizze")),
    ],
    "E": [
        _f("diabetes", "hotmart", "Hotmart Sales History Aug-Oct.csv", 1, window="w1", sep=",", encoding="utf-8-sig",
           money="us", dates="iso"),
        _f("diabetes", "hotmart", "Hotmart Sales History Sep-Nov.csv", 2, window="w2", sep=",", encoding="utf-8-sig",
           money="us", dates="iso"),
        _f("diabetes", "clickbank", "ClickBank Orders - Aug to Nov.xlsx", 2),
        _f("diabetes", "manual", "Partner sales log.xlsx", 2, sheets=("hotmart", "clickbank")),
        _f("emagrecimento", "kiwify", "kiwify_ventas_ago-oct.csv", 1, window="w1", encoding="latin-1"),
        _f("emagrecimento", "kiwify", "kiwify_ventas_sep-nov.xlsx", 2, window="w2", title="Kiwify - Informe de ventas"),
        _f("emagrecimento", "braip", "braip_export_api.csv", 1, sep=",", money="plain", dates="iso", masked_cpf=False),
        _f("emagrecimento", "digistore24", "Digistore24 pedidos.xlsx", 2),
        _f("rejuvenescimento", "eduzz", "MyEduzz - vendas ago-out.xlsx", 1, window="w1"),
        _f("rejuvenescimento", "eduzz", "MyEduzz - vendas set-nov.csv", 2, window="w2", encoding="latin-1",
           money="br_rs", dates="br_m", totals=True),
        _f("rejuvenescimento", "monetizze", "Monetizze sales report.csv", 1, encoding="utf-8-sig", dates="br_m",
           title="Monetizze - Sales Report"),
        _f("rejuvenescimento", "manual", "Sales tracker (partner).xlsx", 2, sheets=("eduzz",),
           platform_column_sheet=("monetizze", "braip")),
        _f("relacionamento", "monetizze", "monetizze_sales_aug-oct.xlsx", 1, window="w1", totals=True),
        _f("relacionamento", "monetizze", "monetizze_sales_sep-nov.csv", 2, window="w2", encoding="latin-1",
           money="br_rs"),
        _f("relacionamento", "clickbank", "cb_orders_report.csv", 2, sep=",", money="us", dates="iso"),
        _f("relacionamento", "kiwify", "kiwify_pedidos.csv", 1, sep=",", money="plain", dates="iso",
           masked_cpf=False),
        _f("renda_extra", "braip", "braip_transacoes_ago-out.xlsx", 1, window="w1"),
        _f("renda_extra", "braip", "braip_transacoes_set-nov.csv", 2, window="w2"),
        _f("renda_extra", "digistore24", "ds24_transacciones.csv", 2, dates="br_m"),
        _f("renda_extra", "hotmart", "hotmart_sales_export.xlsx", 1),
        _f("renda_extra", "eduzz", "myeduzz_faturas.csv", 2, encoding="utf-8-sig"),
        _f("renda_extra", "manual", "Renda extra - sales log.xlsx", 2, sheets=("braip", "hotmart", "digistore24")),
    ],
    "F": [
        _f("diabetes", "hotmart", "hotmart_pedidos_2027_ago-out.csv", 1, window="w1", encoding="utf-8-sig", empty="-"),
        _f("diabetes", "hotmart", "hotmart_pedidos_2027_set-nov.xlsx", 2, window="w2",
           title="Hotmart - Meus pedidos (exportado em 21/11/2026)"),
        _f("diabetes", "clickbank", "ClickBank Transaktionen.csv", 2, encoding="latin-1", money="br", dates="de"),
        _f("diabetes", "manual", "Vendas por mês - diabetes.xlsx", 2, platform_column_sheet=("hotmart", "eduzz"),
           by_month=True),
        _f("emagrecimento", "kiwify", "Relatório de vendas - Kiwify (ago-out).xlsx", 1, window="w1",
           title="Relatório de vendas"),
        _f("emagrecimento", "kiwify", "relatorio-de-vendas-kiwify-set-nov.csv", 2, window="w2", sep=",",
           money="plain", dates="isoT", masked_cpf=False),
        _f("emagrecimento", "braip", "braip_sales_report.csv", 2, sep=",", money="us", dates="us"),
        _f("emagrecimento", "digistore24", "Digistore24 - lançamentos.xlsx", 2),
        _f("rejuvenescimento", "eduzz", "eduzz_invoices_aug-oct.csv", 1, window="w1", sep=",", money="us",
           dates="iso"),
        _f("rejuvenescimento", "eduzz", "eduzz_invoices_sep-nov.xlsx", 2, window="w2"),
        _f("rejuvenescimento", "monetizze", "monetizze_informe_ventas.csv", 1, encoding="latin-1", money="br_rs",
           dates="br_m", title="Monetizze - Informe de ventas", totals=True),
        _f("rejuvenescimento", "clickbank", "ClickBank Bericht.xlsx", 2),
        _f("rejuvenescimento", "manual", "Planilha mensal rejuvenescimento.xlsx", 2,
           platform_column_sheet=("monetizze", "eduzz", "kiwify"), by_month=True),
        _f("relacionamento", "monetizze", "monetizze_ventas_ago-oct.xlsx", 1, window="w1", totals=True),
        _f("relacionamento", "monetizze", "monetizze_ventas_sep-nov.csv", 2, window="w2", encoding="utf-8-sig",
           money="br", dates="br_s"),
        _f("relacionamento", "braip", "Braip Sales.xlsx", 1),
        _f("relacionamento", "hotmart", "hotmart_pedidos.csv", 2, encoding="latin-1", money="br_rs", dates="br_m",
           masked_cpf=False),
        _f("relacionamento", "digistore24", "ds24_lancamentos.csv", 2, money="br", dates="br_s"),
        _f("renda_extra", "braip", "braip_sales_aug-oct.csv", 1, window="w1", sep=",", money="us", dates="us"),
        _f("renda_extra", "braip", "braip_sales_sep-nov.csv", 2, window="w2", sep=",", money="us", dates="us",
           totals=True),
        _f("renda_extra", "kiwify", "relatorio_vendas_kiwify.csv", 1, sep=";", money="br", dates="br_s",
           encoding="latin-1"),
        _f("renda_extra", "eduzz", "Eduzz invoices.xlsx", 2, title="Eduzz - Invoices report"),
        _f("renda_extra", "manual", "Controle mensal renda extra.xlsx", 2,
           platform_column_sheet=("braip", "kiwify", "hotmart"), by_month=True),
    ],
    "G": [
        _f("diabetes", "hotmart", "Hotmart - Sales report (Aug-Oct).csv", 1, window="w1", sep="\t",
           encoding="utf-8-sig", money="us", dates="mon_en"),
        _f("diabetes", "hotmart", "Hotmart - Sales report (Sep-Nov).xlsx", 2, window="w2",
           title="Hotmart\nSales report - exported Nov 21, 2026"),
        _f("diabetes", "clickbank", "ClickBank - All transactions.csv", 2, sep=",", money="us_paren", dates="mon_en"),
        _f("diabetes", "manual", "Vendas Diabetes (Google Planilhas).xlsx", 2, sheets=("clickbank",),
           platform_column_sheet=("hotmart",), masked_cpf=False),
        _f("emagrecimento", "kiwify", "kiwify_orders_aug-oct.xlsx", 1, window="w1"),
        _f("emagrecimento", "kiwify", "kiwify_orders_sep-nov.csv", 2, window="w2", sep=",", money="plain",
           dates="mon_en", masked_cpf=False),
        _f("emagrecimento", "digistore24", "Digistore24 Buchungen.csv", 2, encoding="latin-1", money="br_trail",
           dates="de"),
        _f("emagrecimento", "braip", "braip_vendas_tab.csv", 1, sep="\t", dates="br_m"),
        _f("rejuvenescimento", "eduzz", "Eduzz faturas ago-out.csv", 1, window="w1", encoding="latin-1",
           money="br_rs", dates="mon_pt"),
        _f("rejuvenescimento", "eduzz", "Eduzz faturas set-nov.xlsx", 2, window="w2"),
        _f("rejuvenescimento", "monetizze", "Monetizze - relatório.xlsx", 1,
           title="MONETIZZE\nRelatório de vendas - 10/08/2026 a 20/11/2026", totals=True),
        _f("rejuvenescimento", "digistore24", "Digistore24 Buchungen.xlsx", 2),
        _f("rejuvenescimento", "manual", "Controle (Google Planilhas) - rejuvenescimento.xlsx", 2,
           sheets=("eduzz", "digistore24"), platform_column_sheet=("monetizze",), masked_cpf=False),
        _f("relacionamento", "monetizze", "monetizze_vendas_ago-out.csv", 1, window="w1", money="br", dates="mon_pt"),
        _f("relacionamento", "monetizze", "monetizze_vendas_set-nov.xlsx", 2, window="w2",
           title="MONETIZZE\nRelatório de vendas", totals=True),
        _f("relacionamento", "clickbank", "ClickBank transactions.xlsx", 1),
        _f("relacionamento", "braip", "Braip vendas.xlsx", 2),
        _f("relacionamento", "kiwify", "kiwify_sales.csv", 1, sep="\t", money="us", dates="mon_en",
           masked_cpf=False),
        _f("renda_extra", "braip", "braip_ago-out.csv", 1, window="w1", encoding="latin-1", money="br_rs",
           dates="mon_pt", totals=True),
        _f("renda_extra", "braip", "braip_set-nov.csv", 2, window="w2", encoding="latin-1", money="br_rs",
           dates="mon_pt", totals=True),
        _f("renda_extra", "hotmart", "Hotmart sales.csv", 2, sep=",", money="us", dates="mon_en"),
        _f("renda_extra", "eduzz", "eduzz_export.csv", 1, sep="\t", money="br", dates="br_s"),
        _f("renda_extra", "manual", "Planilha da assistente - renda extra.xlsx", 2,
           platform_column_sheet=("braip", "hotmart", "eduzz"), masked_cpf=False),
    ],
}  # fmt: skip

FIRST = ("Ana", "Bruno", "Carla", "Daniel", "Eduarda", "Felipe", "Gabriela", "Henrique", "Isabela", "João",
         "Juliana", "Lucas", "Mariana", "Nathalia", "Otávio", "Patrícia", "Rafael", "Sônia", "Thiago", "Vanessa",
         "Wesley", "Yasmin", "Márcio", "Cláudia", "Zé")  # fmt: skip
LAST = ("Silva", "Santos", "Oliveira", "Souza", "Lima", "Pereira", "Ferreira", "Costa", "Rodrigues", "Almeida",
        "Nascimento", "Araújo", "Carvalho", "Gomes", "Martins", "Ribeiro", "Conceição", "Brandão")  # fmt: skip
FOREIGN_FIRST = ("John", "Mary", "Peter", "Linda", "Klaus", "Petra", "Hans", "Sarah", "Michael", "Emma")
FOREIGN_LAST = ("Smith", "Johnson", "Brown", "Müller", "Schmidt", "Weber", "Miller", "Davis", "Fischer")
NOTES = ("", "", "", "pagou no pix", "cliente pediu NF", "pediu reembolso?", "parcelado", "indicação da Ana",
         "veio do Instagram", "reenviar acesso")  # fmt: skip
NOTES_E = ("", "", "", "paid via pix", "asked for an invoice", "wants a refund?", "split in installments",
           "referred by Ana", "came from Instagram", "resend access")  # fmt: skip


@dataclass
class Sale:
    """One purchase as the platform knows it; `status` is what each wave's export shows."""

    cluster: str
    platform: str
    sale_id: str
    product_id: str
    product: str
    currency: str
    gross: Decimal
    fee: Decimal
    commission: Decimal
    purchased_at: datetime
    customer: str
    email: str
    cpf: str
    phone: str
    country: str
    payment: str  # card | boleto | pix
    installments: int
    affiliate: str
    coupon: str
    utm_source: str
    utm_campaign: str
    status: dict[int, str] = field(default_factory=dict)
    closed_at: datetime | None = None  # when a refund or chargeback happened

    @property
    def net(self) -> Decimal:
        return self.gross - self.fee - self.commission


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def cpf_digits(rng: random.Random) -> str:
    digits = [rng.randrange(10) for _ in range(9)]
    for n in (10, 11):
        total = sum(d * w for d, w in zip(digits, range(n, 1, -1), strict=False))
        digits.append(total * 10 % 11 % 10)
    return "".join(map(str, digits))


class Generator:
    """The records of one set, and the files written from them."""

    def __init__(self, set_name: str, seed: int = 11) -> None:
        self.set = set_name
        self.rng = random.Random(f"lakectl-heldout-{set_name}-{seed}")
        self.used_ids: set[str] = set()
        self.event_ids: dict[tuple[str, int], str] = {}
        self.sales: list[Sale] = []  # every sale some file shows
        self.manual_rows: dict[str, list[tuple[str, Sale, str]]] = defaultdict(
            list
        )  # file -> (platform, sale, status)

    # -- records ---------------------------------------------------------------------------------
    def new_id(self, platform: str) -> str:
        rng = self.rng
        alnum = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
        while True:
            value = {
                "hotmart": lambda: "HP" + "".join(rng.choice("0123456789") for _ in range(11)),
                "kiwify": lambda: "".join(
                    rng.choice("abcdefghijkmnopqrstuvwxyz0123456789") for _ in range(10)
                ),
                "eduzz": lambda: str(rng.randrange(40_000_000, 89_999_999)),
                "monetizze": lambda: str(rng.randrange(18_000_000, 29_999_999)),
                "braip": lambda: (
                    "ven" + "".join(rng.choice("abcdefghijkmnpqrstuvwxyz23456789") for _ in range(8))
                ),
                "clickbank": lambda: "".join(rng.choice(alnum) for _ in range(8)),
                "digistore24": lambda: "".join(rng.choice(alnum) for _ in range(8)),
            }[platform]()
            if value not in self.used_ids:
                self.used_ids.add(value)
                return value

    def currency_for(self, platform: str) -> str:
        if platform == "clickbank":
            return "USD"
        if platform == "digistore24":
            return "USD" if self.set == "B" and self.rng.random() < 0.2 else "EUR"
        return "BRL"

    def new_sale(self, cluster: str, platform: str, window: str, final: str) -> Sale:
        rng = self.rng
        currency = self.currency_for(platform)
        catalogue = CATALOGUES[self.set][cluster][
            "EUR" if currency == "USD" and platform == "digistore24" else currency
        ]
        product_id, product, price = rng.choice(catalogue)
        gross = Decimal(price)
        coupon = ""
        if currency == "BRL" and rng.random() < 0.15:
            coupon = rng.choice(("BLACK10", "VOLTA20", "LIVE15"))
            gross = _money(gross * (100 - int(coupon[-2:])) / 100)
        start, end = WINDOWS[window]
        purchased = start + timedelta(seconds=rng.randrange(int((end - start).total_seconds())))
        foreign = currency != "BRL"
        first = rng.choice(FOREIGN_FIRST if foreign else FIRST)
        last = rng.choice(FOREIGN_LAST if foreign else LAST)
        email_user = f"{first}.{last}{rng.randrange(1, 99)}".lower()
        email_user = email_user.translate(str.maketrans("áâãéêíóôõúüçö", "aaaeeiooouuco"))
        domain = rng.choice(("gmail.com", "hotmail.com", "yahoo.com.br", "outlook.com", "uol.com.br"))
        affiliate = rng.choice(("", "", "", "Marcos Afiliado", "Top Ofertas", "canal_saude"))
        commission = _money(gross * Decimal("0.40")) if affiliate else Decimal("0.00")
        payment = rng.choices(("card", "boleto", "pix"), (6, 2, 3))[0]
        return Sale(
            cluster=cluster, platform=platform, sale_id=self.new_id(platform), product_id=product_id,
            product=product, currency=currency, gross=gross, fee=_money(gross * Decimal("0.099") + 1),
            commission=commission, purchased_at=purchased.replace(microsecond=0), customer=f"{first} {last}",
            email=f"{email_user}@{domain}", cpf=cpf_digits(rng),
            phone=f"{rng.choice((11, 21, 31, 41, 51, 61, 71, 81, 85, 92))}9{rng.randrange(10_000_000, 99_999_999)}",
            country=rng.choice(("US", "CA", "GB", "AU")) if currency == "USD" else ("DE" if foreign else "BR"),
            payment=payment, installments=rng.randrange(1, 13) if payment == "card" and not foreign else 1,
            affiliate=affiliate, coupon=coupon, utm_source=rng.choice(("", "fb", "ig", "google", "yt")),
            utm_campaign=rng.choice(("", "lancamento_nov", "remarketing", "black_friday")),
            status={1: final, 2: final}, closed_at=None,
        )  # fmt: skip

    def pick_final(self, platform: str) -> str:
        mix = STATUS_MIX[platform]
        return self.rng.choices(list(mix), list(mix.values()))[0]

    def earlier(self, platform: str, final: str) -> str:
        """What the first of two overlapping exports showed for a sale that ends `final`."""
        rng, labels = self.rng, STATUS_LABELS[platform][self.set]
        if final == "approved" and "pending" in labels and rng.random() < 0.45:
            return "pending"
        if final in ("refunded", "chargeback", "refund_pending") and rng.random() < 0.7:
            return (
                "refund_pending"
                if final == "refunded" and "refund_pending" in labels and rng.random() < 0.3
                else "approved"
            )
        if final in ("expired", "refused", "cancelled") and "pending" in labels and rng.random() < 0.5:
            return "pending"
        return final

    def build(self) -> None:
        rng = self.rng
        for cluster in CLUSTERS:
            exports = [f for f in FILES[self.set] if f.cluster == cluster and f.platform != "manual"]
            for platform in dict.fromkeys(f.platform for f in exports):
                windows = {f.window for f in exports if f.platform == platform}
                two_exports = windows == {"w1", "w2"}
                window = "all" if two_exports or windows == {"all"} else windows.pop()
                for _ in range(rng.randrange(22, 34)):
                    sale = self.new_sale(cluster, platform, window, self.pick_final(platform))
                    in_w1 = sale.purchased_at <= WINDOWS["w1"][1]
                    in_w2 = sale.purchased_at >= WINDOWS["w2"][0]
                    if (
                        two_exports and in_w1 and in_w2
                    ):  # in both exports: the first may show an earlier status
                        sale.status[1] = self.earlier(platform, sale.status[2])
                    if sale.status[2] in ("refunded", "chargeback"):
                        sale.closed_at = min(
                            sale.purchased_at + timedelta(days=rng.randrange(2, 25)), LAST_EVENT
                        )
                        if (
                            two_exports
                            and sale.status[1] == "approved"
                            and sale.closed_at <= WINDOWS["w1"][1]
                        ):
                            sale.status[1] = sale.status[2]  # the refund was already in the first export
                    self.sales.append(sale)
        for spec in FILES[self.set]:
            if spec.platform == "manual":
                self.fill_manual(spec)

    def fill_manual(self, spec: FileSpec) -> None:
        """The seller's own sheets: some sales copied from the exports (with the status they knew then),
        and older ones no export here holds."""
        rng, labels = self.rng, STATUS_LABELS["manual"][self.set]
        for platform in (*spec.sheets, *spec.platform_column_sheet):
            rows = self.manual_rows[spec.name]
            for sale in self.sales:
                known = sale.status[1]
                if (
                    sale.cluster == spec.cluster
                    and sale.platform == platform
                    and known in labels
                    and rng.random() < 0.4
                ):
                    rows.append((platform, sale, known))
            for _ in range(rng.randrange(4, 9)):
                sale = self.new_sale(spec.cluster, platform, "old", self.pick_final("manual"))
                rows.append((platform, sale, sale.status[2]))
            rows.sort(key=lambda r: r[1].purchased_at)

    # -- which rows each file holds --------------------------------------------------------------
    def rows_of(self, spec: FileSpec) -> list[tuple[Sale, str, datetime, int]]:
        """(sale, status shown, row date, sign) per data row of a platform export, in date order."""
        start, end = WINDOWS[spec.window]
        rows: list[tuple[Sale, str, datetime, int]] = []
        for sale in self.sales:
            if sale.cluster != spec.cluster or sale.platform != spec.platform:
                continue
            status = sale.status[spec.wave] if spec.window != "all" else sale.status[2]
            if (spec.platform, self.set) in EVENT_STYLE:
                if start <= sale.purchased_at <= end:
                    rows.append((sale, "approved", sale.purchased_at, 1))
                closed = sale.closed_at
                if status in ("refunded", "chargeback") and closed and start <= closed <= end:
                    rows.append((sale, status, closed, -1))
            elif start <= sale.purchased_at <= end:
                rows.append((sale, status, sale.purchased_at, 1))
        return sorted(rows, key=lambda r: r[2])

    # -- ground truth ----------------------------------------------------------------------------
    def expected(self) -> dict[str, Any]:
        # Final status of a sale seen more than once (the README's upsert rule): a platform export always
        # beats the hand-kept workbook; among exports of the same kind the later wave (the later bronze
        # version) wins. ClickBank and Digistore24 refund/chargeback rows change their sale's status.
        seen: dict[tuple[str, str, str], tuple[tuple[int, int], str, Sale]] = {}
        for spec in FILES[self.set]:
            if spec.platform == "manual":
                shown: Iterable[tuple[str, Sale, str]] = self.manual_rows[spec.name]
                priority = 0
            else:
                per_sale: dict[str, tuple[str, Sale, str]] = {}
                for sale, status, _, _ in self.rows_of(spec):  # rows in date order: the last event wins
                    per_sale[sale.sale_id] = (spec.platform, sale, status)
                shown, priority = per_sale.values(), 1
            for platform, sale, status in shown:
                key = (spec.cluster, platform, sale.sale_id)
                rank = (priority, spec.wave)
                if key not in seen or rank >= seen[key][0]:
                    seen[key] = (rank, status, sale)
        clusters: dict[str, Any] = {}
        for cluster in CLUSTERS:
            finals = [(k, status, sale) for k, (_, status, sale) in seen.items() if k[0] == cluster]
            revenue: dict[str, Decimal] = defaultdict(Decimal)
            for _, status, sale in finals:
                if status == "approved":
                    revenue[sale.currency] += sale.gross
            money = {c: str(v) for c, v in sorted(revenue.items())}
            statuses = Counter(status for _, status, _ in finals)
            platforms = Counter(
                k[1] for k, _, _ in finals
            )  # a hand-kept row counts under its sheet's platform
            clusters[cluster] = {
                "transactions": len(finals),
                "statuses": dict(sorted(statuses.items())),
                "platforms": dict(sorted(platforms.items())),
                "approved": statuses["approved"],
                "approved_revenue": money,
                "gold_approved_revenue": money,  # gold daily_sales.gross_revenue counts approved sales only
                "transaction_ids": sorted(k[2] for k, _, _ in finals),
            }
        return clusters

    # -- writing ---------------------------------------------------------------------------------
    def write(self, out: Path) -> dict[str, Any]:
        self.build()
        waves: dict[int, list[str]] = defaultdict(list)
        files = []
        for spec in FILES[self.set]:
            path = out / spec.cluster / spec.name
            path.parent.mkdir(parents=True, exist_ok=True)
            if spec.platform == "manual":
                rows = write_manual(self, spec, path)
            else:
                header, body = self.table(spec)
                rows = len(body)
                if spec.totals:
                    body.append(
                        totals_row(header, body, LAYOUTS[(spec.platform, self.set)], self.set, spec.platform)
                    )
                write_table(path, spec, header, body, sheet=sheet_name(spec.platform, self.set))
            waves[spec.wave].append(f"{spec.cluster}/{spec.name}")
            files.append({"path": f"{spec.cluster}/{spec.name}", "platform": spec.platform, "wave": spec.wave,
                          "data_rows": rows})  # fmt: skip
        clusters = self.expected()
        return {
            "set": self.set,
            "final_status_rule": "a platform export beats the hand-kept workbook; among the same kind the later "
            "wave (later bronze version) wins; a refund or chargeback row changes its sale's status",
            "waves": [waves[w] for w in sorted(waves)],
            "files": files,
            "clusters": clusters,
            "totals": {
                "transactions": sum(c["transactions"] for c in clusters.values()),
                "approved": sum(c["approved"] for c in clusters.values()),
                "approved_revenue": sum_money(c["approved_revenue"] for c in clusters.values()),
            },
        }

    def table(self, spec: FileSpec) -> tuple[list[str], list[list[Any]]]:
        layout = LAYOUTS[(spec.platform, self.set)]
        header = [label for label, _ in layout]
        body = []
        for n, (sale, status, when, sign) in enumerate(self.rows_of(spec)):
            values = row_values(sale, status, when, sign, spec, self.set, n)
            # Digistore24: every payment, refund or chargeback is a transaction of its own, the same in
            # every export that lists it
            event = (sale.sale_id, sign)
            if event not in self.event_ids:
                self.event_ids[event] = str(30_118_400 + len(self.event_ids))
            values["event_id"] = self.event_ids[event]
            body.append([values.get(name) for _, name in layout])
        return header, body


def sum_money(parts: Iterable[dict[str, str]]) -> dict[str, str]:
    total: dict[str, Decimal] = defaultdict(Decimal)
    for part in parts:
        for currency, value in part.items():
            total[currency] += Decimal(value)
    return {c: str(v) for c, v in sorted(total.items())}


def sheet_name(platform: str, set_name: str) -> str:
    if platform == "digistore24":
        return {
            "A": "Bestellungen",
            "B": "Transactions",
            "D": "Purchases",
            "E": "Transacciones",
            "F": "Lançamentos",
            "G": "Buchungen",
        }.get(set_name, "Transaktionen")
    if platform == "clickbank":
        return {"F": "Bericht", "G": "Transactions"}.get(set_name, "Report")
    named = {("hotmart", "C"): "Sales", ("hotmart", "D"): "Ventas", ("hotmart", "E"): "Sales History",
             ("kiwify", "E"): "Ventas", ("monetizze", "E"): "Sales", ("hotmart", "F"): "Pedidos",
             ("kiwify", "F"): "Relatório", ("eduzz", "F"): "Invoices", ("monetizze", "F"): "Ventas",
             ("braip", "F"): "Sales", ("hotmart", "G"): "Sales report", ("kiwify", "G"): "Orders",
             ("monetizze", "G"): "Relatório", ("eduzz", "G"): "Faturas"}  # fmt: skip
    return named.get((platform, set_name), "Vendas")


def payment_style(platform: str, set_name: str) -> str:
    if platform == "clickbank":
        return "clickbank"
    if platform == "digistore24":
        return {"B": "en", "D": "en", "E": "es_eu", "F": "pt_eu", "G": "de_cb"}.get(set_name, "de")
    if (platform, set_name) == ("hotmart", "C"):
        return "en"
    if (platform, set_name) in (("eduzz", "C"), ("hotmart", "D")):
        return "es"
    if set_name == "D":
        return "br_short"
    if set_name == "G":
        return {"hotmart": "en_br", "kiwify": "en_br"}.get(platform, "br")
    if set_name == "F":
        return {"kiwify": "camel", "eduzz": "en_br", "monetizze": "es", "braip": "en_br"}.get(platform, "br")
    if set_name == "E":
        return {"hotmart": "en_br", "monetizze": "en_br", "kiwify": "es", "braip": "kiwify_en",
                "digistore24": "es_eu"}.get(platform, "br")  # fmt: skip
    return "kiwify_en" if (platform, set_name) == ("kiwify", "B") else "br"


# Where a Brazilian buyer lives, by the phone's area code (set D's address columns).
CITIES = {"11": ("São Paulo", "SP"), "21": ("Rio de Janeiro", "RJ"), "31": ("Belo Horizonte", "MG"),
          "41": ("Curitiba", "PR"), "51": ("Porto Alegre", "RS"), "61": ("Brasília", "DF"), "71": ("Salvador", "BA"),
          "81": ("Recife", "PE"), "85": ("Fortaleza", "CE"), "92": ("Manaus", "AM")}  # fmt: skip


def row_values(
    sale: Sale, status: str, when: datetime, sign: int, spec: FileSpec, set_name: str, n: int
) -> dict[str, Any]:
    """Every field of one row, as Python values (Decimal money, datetime dates); text where the export
    writes text."""
    paid = status in ("approved", "refunded", "refund_pending", "chargeback") and sign > 0
    cpf = sale.cpf
    if spec.masked_cpf:
        cpf = f"{cpf[:3]}.{cpf[3:6]}.{cpf[6:9]}-{cpf[9:]}"
    phone = sale.phone
    phone = (f"+55 ({phone[:2]}) {phone[2:7]}-{phone[7:]}", f"({phone[:2]}) {phone[2:7]}-{phone[7:]}",
             phone, "55" + phone)[n % 4]  # fmt: skip
    first, _, last = sale.customer.partition(" ")
    gross = sale.gross * sign
    interest = Decimal("1") + Decimal("0.0349") * (sale.installments - 1)
    paid_total = _money(sale.gross * interest) * sign
    email = sale.email.upper() if n % 9 == 4 else (f" {sale.email}" if n % 11 == 7 else sale.email)
    label = STATUS_LABELS[spec.platform][set_name][status]
    if status == "pending":
        label = PENDING_BY_PAYMENT.get((spec.platform, set_name), {}).get(sale.payment, label)
    offer = "3 potes" if n % 5 == 0 else "Oferta principal"
    city, state = CITIES[sale.phone[:2]] if sale.currency == "BRL" else (None, None)
    return {
        "id": sale.sale_id,
        "status": label,
        "date": when,
        "paid_at": sale.purchased_at
        + timedelta(minutes=3 + n % 50, days=1 if sale.payment == "boleto" else 0)
        if paid
        else None,
        "product": sale.product,
        "product_id": sale.product_id,
        "offer": offer,
        "product_offer": f"{sale.product} - {offer}",  # set G's Kiwify: product and offer in one column
        "customer": sale.customer,
        "first_name": first,
        "last_name": last,
        "email": email,
        "document": cpf if sale.currency == "BRL" else None,
        "phone": phone if sale.currency == "BRL" else None,
        "country": sale.country,
        "currency": sale.currency,
        "gross": gross,
        "fee": sale.fee * sign,
        "commission": sale.commission * sign,
        "net": sale.net * sign,
        "paid_total": paid_total,
        "installment_value": _money(paid_total / sale.installments),
        "payment": PAYMENT_LABELS[payment_style(spec.platform, set_name)][sale.payment],
        "installments": sale.installments,
        "affiliate": sale.affiliate or None,
        "coupon": sale.coupon or None,
        "utm_source": sale.utm_source or None,
        "utm_campaign": sale.utm_campaign or None,
        "offer_type": "Produto principal" if n % 7 else "Produto order bump",
        "charge_type": "Única",
        "vendor": "healthvend",
        "notes": None,
        "city": city,
        "state": state,
        "vat": _money(gross * 19 / 119) if sale.currency == "EUR" else None,  # German VAT inside the gross
        "ip": f"{177 + n % 23}.{(n * 37) % 256}.{(n * 11) % 256}.{1 + n % 254}",
        "product_type": "Curso online",
        "language": "EN" if n % 4 else "ES",
    }


def totals_row(
    header: list[str], body: list[list[Any]], layout: list[tuple[str, str]], set_name: str, platform: str = ""
) -> list[Any]:
    """A 'Total' line under the data: the label in the first column, the sum under each money column."""
    row: list[Any] = [None] * len(header)
    row[0] = {"D": "Total do período", "E": "TOTAL GERAL"}.get(set_name, "Total")
    if set_name == "F":  # in the export's language
        row[0] = {"braip": "Totals", "monetizze": "Suma total"}.get(platform, "Soma")
    if set_name == "G":
        row[0] = "Totais"
    for i, (_, name) in enumerate(layout):
        if name in ("gross", "net"):
            row[i] = sum((r[i] for r in body if isinstance(r[i], Decimal)), Decimal("0"))
    return row


# -- rendering -----------------------------------------------------------------------------------
def fmt_money(value: Decimal, style: str) -> str:
    text = f"{abs(value):,.2f}"
    if style in ("br", "br_rs"):
        text = text.replace(",", "_").replace(".", ",").replace("_", ".")
    elif style == "plain":
        text = text.replace(",", "")
    elif style == "us_paren":  # accounting style: a refund in parentheses
        return f"({text})" if value < 0 else text
    elif style == "br_trail":  # German bookkeeping: the minus after the amount
        text = text.replace(",", "_").replace(".", ",").replace("_", ".")
        return text + ("-" if value < 0 else "")
    if style == "br_rs":
        text = "R$ " + text
    return ("-" if value < 0 else "") + text


MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MONTHS_PT_SHORT = ("jan", "fev", "mar", "abr", "mai", "jun", "jul", "ago", "set", "out", "nov", "dez")


def fmt_date(value: datetime, style: str) -> str:
    if style == "mon_en":  # Oct 12, 2026 2:03 PM
        hour = value.hour % 12 or 12
        half = "PM" if value.hour >= 12 else "AM"
        return f"{MONTHS_EN[value.month - 1]} {value.day}, {value.year} {hour}:{value.minute:02d} {half}"
    if style == "mon_pt":  # 12 de out. de 2026 14:03, as Google Sheets writes it
        return f"{value.day} de {MONTHS_PT_SHORT[value.month - 1]}. de {value.year} {value:%H:%M}"
    return value.strftime(
        {"br_s": "%d/%m/%Y %H:%M:%S", "br_m": "%d/%m/%Y %H:%M", "us": "%m/%d/%Y %H:%M", "iso": "%Y-%m-%d %H:%M:%S",
         "de": "%d.%m.%Y %H:%M", "br_d": "%d/%m/%Y", "isoT": "%Y-%m-%dT%H:%M:%S-03:00"}[style]
    )  # fmt: skip


def as_text(value: Any, spec: FileSpec) -> str:
    if value is None:
        return spec.empty
    if isinstance(value, Decimal):
        return fmt_money(value, spec.money)
    if isinstance(value, datetime):
        return fmt_date(value, spec.dates)
    return str(value)


def write_table(path: Path, spec: FileSpec, header: list[str], body: list[list[Any]], sheet: str) -> None:
    if spec.fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=spec.sep, lineterminator="\r\n")
        if spec.title:
            writer.writerows([line] for line in spec.title.split("\n"))
            writer.writerow([])
        writer.writerow(header)
        writer.writerows([as_text(v, spec) for v in row] for row in body)
        path.write_bytes(buffer.getvalue().encode(spec.encoding))  # strict: a set never loses a character
        return
    book = workbook(path)
    write_sheet(book, book.add_worksheet(sheet), spec.title, header, body)
    book.close()


def workbook(path: Path) -> Any:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    book.set_properties({"created": datetime(2026, 11, 21, 9, 30)})  # the same bytes on every build
    return book


def write_sheet(book: Any, sheet: Any, title: str | None, header: list[str], body: list[list[Any]],
                date_format: str = "dd/mm/yyyy hh:mm") -> None:  # fmt: skip
    """Native cells: numbers as numbers, dates as Excel dates."""
    dates = book.add_format({"num_format": date_format})
    money = book.add_format({"num_format": "#,##0.00"})
    bold = book.add_format({"bold": True})
    top = 0
    if title:
        lines = title.split("\n")  # set G: a two-line title puts the header on row 4
        for r, line in enumerate(lines):
            sheet.write(r, 0, line, bold)
        top = len(lines) + 1  # a blank line between the title and the header
    sheet.write_row(top, 0, header, bold)
    for r, row in enumerate(body, start=top + 1):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, datetime):
                sheet.write_datetime(r, c, value, dates)
            elif isinstance(value, Decimal):
                sheet.write_number(r, c, float(value), money)
            else:
                sheet.write(r, c, value)


def write_manual(gen: Generator, spec: FileSpec, path: Path) -> int:
    """The hand-kept workbook: a summary sheet, one sheet per platform (or one with a platform column),
    a title above each, a totals line below."""
    layout = LAYOUTS[("manual", gen.set)]
    labels = STATUS_LABELS["manual"][gen.set]
    rows = gen.manual_rows[spec.name]
    book = workbook(path)
    summary = book.add_worksheet(
        {
            "A": "Resumo",
            "B": "Resumo geral",
            "D": "Painel",
            "E": "Summary",
            "F": "Resumo do ano",
            "G": "Visão geral",
        }.get(gen.set, "Resumo mensal")
    )
    together_name = {
        "C": "Vendas 2026",
        "D": "Demais canais",
        "E": "Other channels",
        "G": "Todas as plataformas",
    }.get(gen.set, "Outras plataformas")
    per_sheet: dict[str, list[tuple[str, Sale, str]]] = defaultdict(list)
    for row in rows:
        if spec.by_month:  # set F: a sheet per month of purchase
            per_sheet[month_sheet(row[1].purchased_at)].append(row)
            continue
        together = row[0] in spec.platform_column_sheet
        per_sheet[together_name if together else sheet_title(row[0], gen.set)].append(row)
    summary_rows: list[list[Any]] = []
    for name, sheet_rows in per_sheet.items():
        together = name == together_name or spec.by_month
        header = [label for label, _ in layout]
        usd = any(s.currency == "USD" for _, s, _ in sheet_rows)
        eur = any(s.currency == "EUR" for _, s, _ in sheet_rows)
        if usd:  # the seller notes dollar sales in dollars, the unit in the label
            header = [h.replace("R$", "US$") for h in header]
        elif eur:  # and euro sales in euros (set E's Digistore24 sheet said R$ over euro amounts)
            header = [h.replace("R$", "€") for h in header]
        if together:
            header.insert(
                1,
                {
                    "C": "PLATAFORMA",
                    "D": "Canal de venda",
                    "E": "Platform",
                    "F": "Vendido por",
                    "G": "Onde vendeu",
                }.get(gen.set, "Plataforma"),
            )
        body = []
        for n, (platform, sale, status) in enumerate(sheet_rows):
            values = row_values(sale, status, sale.purchased_at, 1, spec, gen.set, n)
            values["status"] = labels[status]
            notes = NOTES_E if gen.set == "E" else NOTES
            values["notes"] = notes[n % len(notes)] or None
            # a hand-typed date: Excel dates in set A, text in set B, serial numbers pasted as values in set C
            values["date"] = sale.purchased_at.replace(hour=0, minute=0, second=0)
            if gen.set == "B":
                values["date"] = fmt_date(values["date"], "br_d")
            elif gen.set == "C":
                values["date"] = (values["date"] - datetime(1899, 12, 30)).days
            elif gen.set == "E":  # the partner types ISO dates as text
                values["date"] = values["date"].strftime("%Y-%m-%d")
            line = [values[f] for _, f in layout]
            if together:
                line.insert(1, platform.capitalize())
            body.append(line)
        amount_col = header.index(next(h for h in header if "$" in h or "€" in h))
        total = sum((r[amount_col] for r in body), Decimal("0"))
        body.append(
            [
                {"F": "Total do mês", "G": "Total da aba"}.get(gen.set, "TOTAL"),
                *[None] * (amount_col - 1),
                total,
                *[None] * (len(header) - amount_col - 1),
            ]
        )
        title = f"Controle de vendas - {spec.cluster.replace('_', ' ').title()} ({name})"
        if gen.set == "E":
            title = f"Sales tracker - {spec.cluster.replace('_', ' ').title()} ({name})"
        elif gen.set == "F":
            title = f"Vendas de {name} - {spec.cluster.replace('_', ' ').title()}"
        elif gen.set == "G":  # two lines: the header lands on row 4
            title = f"Vendas - {spec.cluster.replace('_', ' ').title()} ({name})\nPlanilha mantida pela assistente"
        # set D: Excel dates shown with a two-digit year
        date_format = {"D": "dd/mm/yy", "G": 'd "de" mmm "de" yyyy'}.get(gen.set, "dd/mm/yyyy")
        write_sheet(book, book.add_worksheet(name), title, header, body, date_format=date_format)
        summary_rows.append([name, len(sheet_rows), total])
    summary_header = {
        "D": ["Canal", "Nº de vendas", "Total faturado"],
        "E": ["Platform", "# of sales", "Revenue"],
        "F": ["Mês", "Vendas no mês", "Valor total do mês"],
        "G": ["Aba", "Qtde. de vendas", "Soma dos valores"],
    }.get(gen.set, ["Plataforma", "Qtd. vendas", "Faturamento"])
    summary.write_row(0, 0, summary_header)
    for r, line in enumerate(summary_rows, start=1):
        summary.write_row(r, 0, [line[0], line[1], float(line[2])])
    grand = {"E": "Grand total", "G": "Soma geral"}.get(gen.set, "Total geral")
    summary.write_row(len(summary_rows) + 1, 0, [grand, sum(x[1] for x in summary_rows)])
    book.close()
    return len(rows)


MONTHS_PT = ("Janeiro", "Fevereiro", "Março", "Abril", "Maio", "Junho", "Julho", "Agosto", "Setembro", "Outubro",
             "Novembro", "Dezembro")  # fmt: skip


def month_sheet(when: datetime) -> str:
    return f"{MONTHS_PT[when.month - 1]} {when.year}"


def sheet_title(platform: str, set_name: str) -> str:
    name = {"clickbank": "ClickBank", "digistore24": "Digistore24"}.get(platform, platform.capitalize())
    return {"A": name, "D": f"{name} vendas", "E": f"{name} orders", "G": f"{name} (vendas)"}.get(
        set_name, f"Vendas {name}"
    )


def build(out: Path, set_name: str) -> dict[str, Any]:
    """Write set `set_name` into `out` (a landing zone) with `out/expected.json`; returns the latter."""
    if set_name not in SETS:
        raise ValueError(f"unknown set {set_name!r}: choose one of {', '.join(SETS)}")
    out.mkdir(parents=True, exist_ok=True)
    expected = Generator(set_name).write(out)
    (out / "expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n")
    return expected


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path, help="folder to write the landing zone into")
    parser.add_argument("--set", default="A", choices=SETS, dest="set_name")
    args = parser.parse_args(argv)
    expected = build(args.out, args.set_name)
    totals = expected["totals"]
    print(f"set {args.set_name}: {len(expected['files'])} files, {totals['transactions']} transactions, "
          f"{totals['approved']} approved, revenue {totals['approved_revenue']} -> {args.out}")  # fmt: skip
    for n, wave in enumerate(expected["waves"], start=1):
        print(f"wave {n}: " + ", ".join(wave))
    return 0


if __name__ == "__main__":
    sys.exit(main())
