"""The report dict (report.py) -> terminal tables, Markdown, CSV or one self-contained HTML page.

Labels, money (`R$ 1.234,56`), dates (`dd/mm/aaaa`) and times (Sao Paulo) follow the report's locale
(pt-BR by default, or en). JSON and CSV stay machine-readable whatever the locale.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lakectl.transform.profiles import CANONICAL_FIELDS

# Text cells a spreadsheet would run as a formula (OWASP "CSV injection"); numbers are left alone.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0")
NUMBER = re.compile(r"^-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$")
SYMBOLS = {"BRL": "R$", "USD": "US$", "EUR": "€", "GBP": "£"}

LABELS: dict[str, dict[str, str]] = {
    "pt-BR": {
        "title": "Relatório de vendas", "summary": "Resumo", "window_latest": "terminam na última venda do lago",
        "window_as_of": "terminam na data pedida (--as-of)", "window_today": "terminam hoje (o lago ainda não tem vendas)",
        "window": "Últimos {days} dias: {start} a {end} ({why}), comparados com {pstart} a {pend}.",
        "revenue": "Receita", "sales": "Vendas aprovadas", "ticket": "Ticket médio", "refund_rate": "Taxa de reembolso",
        "chargeback_rate": "Taxa de chargeback", "vs": "vs. 30 dias antes", "currency": "moeda", "cluster": "cluster",
        "product": "produto", "previous": "30 dias antes", "change": "variação", "by_cluster": "Por cluster",
        "by_product": "Produtos que mais venderam", "customers": "Clientes e venda cruzada",
        "cross_customers": "clientes", "also_elsewhere": "também compram em outro cluster", "share": "parcela",
        "only_here": "só neste cluster", "overlap": "Clientes em comum (compraram nos dois clusters)",
        "refunds": "Reembolsos e chargebacks", "platform": "plataforma", "paid": "vendas pagas",
        "refunded": "reembolsos", "chargebacks": "chargebacks", "month": "mês", "health": "Saúde dos dados",
        "files": "Arquivos", "ingested": "ingeridos", "skipped": "ignorados (repetidos)", "rejected": "recusados",
        "quarantined": "em quarentena", "rejected_files": "Arquivos recusados", "file": "arquivo",
        "reason": "motivo", "hint": "o que fazer", "rejects": "Linhas recusadas na silver, por regra",
        "rule": "regra", "rows": "linhas", "example": "exemplo", "unknown_layouts": "Layouts desconhecidos",
        "columns": "colunas", "fix": "como resolver", "unknown_statuses": "Status desconhecidos",
        "status": "status", "none": "nada a mostrar", "internals": "Detalhes técnicos do lago",
        "tables": "Tabelas", "table": "tabela", "version": "versão", "last_write": "última escrita",
        "operation": "operação", "layouts": "Layouts de exportação vistos", "first_seen": "visto em",
        "first_file": "primeiro arquivo", "new_columns": "colunas novas", "weekly": "Receita aprovada por semana",
        "refund_chart": "Taxa de reembolso e de chargeback por mês", "products_chart": "Produtos: receita",
        "cross_chart": "Clientes: só neste cluster vs. também em outro", "no_gold": "A camada gold ainda não foi "
        "gerada: rode <code>lakectl promote all</code>.", "generated": "Gerado em {when} (horário de São Paulo) "
        "pelo lakectl {version}. Valores nunca são somados entre moedas.", "week": "semana",
        "current_period": "últimos 30 dias", "previous_period": "30 dias antes",
        "decisions": "Como cada coluna foi entendida", "layout": "layout", "field": "campo", "column": "coluna",
        "score": "nota", "evidence": "evidência", "layout_fixes": "Layouts: o que ficou de fora e como mudar",
        "kind": "tipo", "unmapped": "colunas não usadas (em extras)", "missing": "faltando",
    },
    "en": {
        "title": "Sales report", "summary": "Summary", "window_latest": "ending at the latest sale in the lake",
        "window_as_of": "ending at the requested day (--as-of)", "window_today": "ending today (no sales yet)",
        "window": "Last {days} days: {start} to {end} ({why}), against {pstart} to {pend}.",
        "revenue": "Revenue", "sales": "Approved sales", "ticket": "Average ticket", "refund_rate": "Refund rate",
        "chargeback_rate": "Chargeback rate", "vs": "vs. the 30 days before", "currency": "currency",
        "cluster": "cluster", "product": "product", "previous": "30 days before", "change": "change",
        "by_cluster": "Per cluster", "by_product": "Top products", "customers": "Customers and cross-sell",
        "cross_customers": "customers", "also_elsewhere": "also buy in another cluster", "share": "share",
        "only_here": "only this cluster", "overlap": "Customers in common (bought in both clusters)",
        "refunds": "Refunds and chargebacks", "platform": "platform", "paid": "paid sales", "refunded": "refunds",
        "chargebacks": "chargebacks", "month": "month", "health": "Data health", "files": "Files",
        "ingested": "ingested", "skipped": "skipped (duplicates)", "rejected": "rejected",
        "quarantined": "quarantined", "rejected_files": "Rejected files", "file": "file", "reason": "reason",
        "hint": "what to do", "rejects": "Rows rejected in silver, by rule", "rule": "rule", "rows": "rows",
        "example": "example", "unknown_layouts": "Unknown layouts", "columns": "columns", "fix": "how to fix",
        "unknown_statuses": "Unknown statuses", "status": "status", "none": "nothing to show",
        "internals": "Lake internals", "tables": "Tables", "table": "table", "version": "version",
        "last_write": "last write", "operation": "operation", "layouts": "Export layouts seen",
        "first_seen": "first seen", "first_file": "first file", "new_columns": "new columns",
        "weekly": "Approved revenue per week", "refund_chart": "Refund and chargeback rate per month",
        "products_chart": "Products: revenue", "cross_chart": "Customers: this cluster only vs. also elsewhere",
        "no_gold": "Gold is not built yet: run <code>lakectl promote all</code>.",
        "generated": "Generated {when} (Sao Paulo time) by lakectl {version}. Money is never added across "
        "currencies.", "week": "week", "current_period": "last 30 days", "previous_period": "30 days before",
        "decisions": "How each column was understood", "layout": "layout", "field": "field", "column": "column",
        "score": "score", "evidence": "evidence", "layout_fixes": "Layouts: what was left out and how to change it",
        "kind": "kind", "unmapped": "unused columns (in extras)", "missing": "missing",
    },
}  # fmt: skip


def safe_cell(value: Any) -> Any:
    """A value for a CSV cell: text that starts like a formula gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    text = str(value)
    if NUMBER.match(text):
        return text  # a decimal rendered as text: a number, not a formula
    return "'" + text if text.startswith(FORMULA_START) else text


@dataclass(frozen=True)
class Fmt:
    """Locale-aware formatting of the report's raw values."""

    locale: str = "pt-BR"
    timezone: str = "America/Sao_Paulo"

    def t(self, key: str) -> str:
        return LABELS[self.locale][key]

    def _number(self, value: Decimal | float, decimals: int) -> str:
        text = f"{value:,.{decimals}f}"
        return text.translate(str.maketrans(",.", ".,")) if self.locale == "pt-BR" else text

    def money(self, value: Any, currency: str | None) -> str:
        if value is None:
            return "-"
        symbol = SYMBOLS.get(currency or "", currency or "")
        amount = Decimal(str(value))
        sign = "-" if amount < 0 else ""
        return f"{sign}{symbol} {self._number(abs(amount), 2)}"

    def count(self, value: Any) -> str:
        return "-" if value is None else self._number(int(value), 0)

    def pct(self, value: Any) -> str:
        return "-" if value is None else self._number(float(value) * 100, 1) + "%"

    def change(self, value: Any) -> str:
        """A relative change: +12,5%."""
        return "-" if value is None else ("+" if value >= 0 else "") + self.pct(value)

    def points(self, value: Any) -> str:
        """A change of a rate, in percentage points: +1,2 p.p."""
        if value is None:
            return "-"
        unit = " p.p." if self.locale == "pt-BR" else " pp"
        return ("+" if value >= 0 else "") + self._number(float(value) * 100, 1) + unit

    def day(self, value: Any) -> str:
        if not value:
            return "-"
        day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
        return day.strftime("%d/%m/%Y") if self.locale == "pt-BR" else day.isoformat()

    def when(self, value: Any) -> str:
        """A UTC time in the business's time zone."""
        if not value:
            return "-"
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        local = moment.astimezone(ZoneInfo(self.timezone))
        return local.strftime("%d/%m/%Y %H:%M" if self.locale == "pt-BR" else "%Y-%m-%d %H:%M")

    def month(self, value: str) -> str:
        year, month = value.split("-")
        return f"{month}/{year}" if self.locale == "pt-BR" else value


def fmt_for(report: dict[str, Any], locale: str | None = None) -> Fmt:
    return Fmt(locale or report.get("locale") or "pt-BR", report.get("timezone") or "America/Sao_Paulo")


# --------------------------------------------------------------------------------------- sections


@dataclass
class Section:
    """One table of the report: shared by the terminal, Markdown and HTML views."""

    key: str
    title: str
    headers: list[str]
    rows: list[list[str]]
    level: int = 2  # 2: a part of the report, 3: a table inside one
    numeric: tuple[int, ...] = ()  # columns aligned right, never wrapped


def window_sentence(report: dict[str, Any], f: Fmt) -> str:
    w = report["window"]
    why = f.t({"as_of": "window_as_of", "latest_sale": "window_latest"}.get(w["ends_at"], "window_today"))
    return f.t("window").format(days=w["days"], start=f.day(w["start"]), end=f.day(w["end"]), why=why,
                                pstart=f.day(w["previous_start"]), pend=f.day(w["previous_end"]))  # fmt: skip


def _compared(row: dict[str, Any], f: Fmt) -> list[str]:
    currency = row["currency"]
    return [f.money(row["revenue"], currency), f.change(row["revenue_change"]), f.count(row["sales"]),
            f.change(row["sales_change"]), f.money(row["average_ticket"], currency), f.pct(row["refund_rate"]),
            f.points(row["refund_rate_change"]), f.pct(row["chargeback_rate"])]  # fmt: skip


def sections(report: dict[str, Any], f: Fmt) -> list[Section]:
    """Every table, owner first: money, clusters, products, customers, refunds, data health, internals."""
    t = f.t
    money_headers = [t("revenue"), t("change"), t("sales"), t("change"), t("ticket"), t("refund_rate"),
                     t("change"), t("chargeback_rate")]  # fmt: skip
    out = [
        Section("summary", t("summary"), [t("currency"), *money_headers],
                [[r["currency"], *_compared(r, f)] for r in report["summary"]], 2, tuple(range(1, 9))),
        Section("clusters", t("by_cluster"), [t("cluster"), t("currency"), *money_headers],
                [[r["cluster"], r["currency"], *_compared(r, f)] for r in report["revenue"]], 2, tuple(range(2, 10))),
        Section("products", t("by_product"), [t("product"), t("cluster"), t("revenue"), t("change"), t("sales"),
                                              t("ticket"), t("refund_rate")],
                [[r["product_name"] or "-", r["cluster"], f.money(r["revenue"], r["currency"]),
                  f.change(r["revenue_change"]), f.count(r["sales"]), f.money(r["average_ticket"], r["currency"]),
                  f.pct(r["refund_rate"])] for r in report["products"]], 2, (2, 3, 4, 5, 6)),
        Section("customers", t("customers"), [t("cluster"), t("cross_customers"), t("also_elsewhere"), t("share")],
                [[r["cluster"], f.count(r["customers"]), f.count(r["also_elsewhere"]), f.pct(r["share"])]
                 for r in report["cross_sell"]], 2, (1, 2, 3)),
    ]  # fmt: skip
    clusters, matrix = overlap_matrix(report)
    if report["cluster_overlap"]:
        out.append(Section("overlap", t("overlap"), ["", *clusters],
                           [[c, *[f.count(v) for v in row]] for c, row in zip(clusters, matrix, strict=True)],
                           3, tuple(range(1, len(clusters) + 1))))  # fmt: skip
    out.append(Section("refunds", t("refunds"), [t("cluster"), t("platform"), t("paid"), t("refunded"),
                                                 t("chargebacks"), t("refund_rate"), t("chargeback_rate")],
                       [[r["cluster"], r["platform"], f.count(r["paid_orders"]), f.count(r["refunded_orders"]),
                         f.count(r["chargebacks"]), f.pct(r["refund_rate"]), f.pct(r["chargeback_rate"])]
                        for r in report["refund_rates"]], 2, (2, 3, 4, 5, 6)))  # fmt: skip
    health = report["health"]
    files = health["files"]
    out += [
        Section("health", t("health") + ": " + t("files").lower(),
                [t("ingested"), t("skipped"), t("rejected"), t("quarantined")],
                [[f.count(files.get(k, 0)) for k in ("ingested", "skipped", "rejected", "quarantined")]], 2,
                (0, 1, 2, 3)),
        Section("rejected_files", t("rejected_files"), [t("cluster"), t("file"), t("reason"), t("hint")],
                [[r["cluster"] or "-", r["file_name"], r["reason"] or "", r["hint"] or ""]
                 for r in health["rejected_files"]], 3),
        Section("rejects", t("rejects"), [t("cluster"), t("rule"), t("rows"), t("example")],
                [[r["cluster"], r["rule"], f.count(r["rows"]),
                  f"{r['example_file']} #{r['example_row']}: {r['column']} = {r['example_value']!r}"
                  + (f" ({r['example_detail']})" if r.get("example_detail") else "")]
                 for r in health["rejects"]], 3, (2,)),
        Section("unknown_layouts", t("unknown_layouts"), [t("cluster"), t("rows"), t("file"), t("columns"), t("fix")],
                [[r["cluster"], f.count(r["rows"]), ", ".join(r["files"]), r["columns"], r["fix"]]
                 for r in health["unknown_layouts"]], 3, (1,)),
        Section("unknown_statuses", t("unknown_statuses"), [t("cluster"), t("status"), t("rows"), t("file"), t("fix")],
                [[r["cluster"], r["status_raw"], f.count(r["rows"]), r["example_file"], r["fix"]]
                 for r in health["unknown_statuses"]], 3, (2,)),
        *layout_sections(health.get("layouts", []), f),
        Section("tables", t("internals") + ": " + t("tables").lower(),
                [t("table"), t("version"), t("rows"), t("last_write"), t("operation")],
                [[r["table"], str(r["version"]), f.count(r["rows"]), f.when(r["last_write"]), r["last_operation"] or ""]
                 for r in report["lake"]["tables"]], 2, (1, 2, 3)),
        Section("layouts", t("layouts"), [t("cluster"), t("first_seen"), t("first_file"), t("new_columns")],
                [[c["cluster"], f.when(c["first_seen"]), c["first_file"], ", ".join(c["new_columns"][:12])]
                 for c in report["lake"]["schema_changes"]], 3, (1,)),
    ]  # fmt: skip
    return out


def _layout_name(record: dict[str, Any]) -> str:
    files = ", ".join(record["files"][:3]) + (" …" if len(record["files"]) > 3 else "")
    stems = {name.rsplit(".", 1)[0] for name in record["files"]}  # a text file's one "sheet" is its name
    sheets = [s for s in record["sheets"] if s not in stems]
    return files + (f" [{', '.join(sheets[:3])}]" if sheets else "")


def _field_rows(record: dict[str, Any]) -> list[list[str]]:
    """One row per field, required fields first; the layout is named on its first row only."""
    order = {name: i for i, name in enumerate(CANONICAL_FIELDS)}
    chosen = sorted(record["fields"].items(), key=lambda item: order.get(item[0], len(order)))
    return [[record["cluster"] if i == 0 else "", _layout_name(record) if i == 0 else "", name, c["column"],
             f"{c['score']:.2f}", c["evidence"]] for i, (name, c) in enumerate(chosen)]  # fmt: skip


def layout_sections(layouts: list[dict[str, Any]], f: Fmt) -> list[Section]:
    """Per layout: field -> column, score and evidence; then what stayed unmapped or missing, the
    platform and its evidence, and the command that changes it."""
    t = f.t
    fields = [row for r in layouts for row in _field_rows(r)]
    fixes = [[r["cluster"], _layout_name(r), f"{r['kind']}, {r['platform'] or '-'} ({'; '.join(r['platform_evidence'])})",
              f.count(r["rows"]), ", ".join(r["unmapped"]) or "-", ", ".join(r["missing"]) or "-",
              "; ".join([*r["notes"], r["fix"]])] for r in layouts]  # fmt: skip
    return [
        Section("decisions", t("decisions"), [t("cluster"), t("layout"), t("field"), t("column"), t("score"),
                                              t("evidence")], fields, 3, (4,)),
        Section("layout_fixes", t("layout_fixes"), [t("cluster"), t("layout"), t("platform"), t("rows"),
                                                    t("unmapped"), t("missing"), t("fix")], fixes, 3, (3,)),
    ]  # fmt: skip


def overlap_matrix(report: dict[str, Any]) -> tuple[list[str], list[list[int]]]:
    clusters = report["clusters"]
    counts = {(r["cluster"], r["other"]): r["customers"] for r in report["cluster_overlap"]}
    return clusters, [[counts.get((a, b), 0) for b in clusters] for a in clusters]


# ----------------------------------------------------------------------------------------- views


def terminal(console: Console, report: dict[str, Any], locale: str | None = None) -> None:
    f = fmt_for(report, locale)
    console.print(f"[bold]{f.t('title')}[/bold] — {escape(window_sentence(report, f))}", highlight=False)
    if not report["gold_built"]:
        console.print("[yellow]" + re.sub(r"</?code>", "'", f.t("no_gold")) + "[/yellow]")
    for section in sections(report, f):
        if not section.rows:
            continue
        table = Table(title=section.title, title_justify="left")
        for i, header in enumerate(section.headers):
            numeric = i in section.numeric
            table.add_column(header, justify="right" if numeric else "left", no_wrap=numeric, overflow="fold")
        for row in section.rows:
            table.add_row(*[escape(str(cell)) for cell in row])
        console.print(table)


def markdown(report: dict[str, Any], locale: str | None = None) -> str:
    f = fmt_for(report, locale)
    lines = [f"# {f.t('title')}", "", window_sentence(report, f), ""]
    for section in sections(report, f):
        lines += ["#" * section.level + f" {section.title}", ""]
        if not section.rows:
            lines += [f"({f.t('none')})", ""]
            continue
        lines.append("| " + " | ".join(section.headers) + " |")
        lines.append(
            "|" + "".join("---:|" if i in section.numeric else "---|" for i in range(len(section.headers)))
        )
        for row in section.rows:
            lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |")
        lines.append("")
    generated = f.t("generated").format(
        when=f.when(report["generated_at"]), version=report["lakectl_version"]
    )
    return "\n".join([*lines, generated, ""])


def to_csv(report: dict[str, Any]) -> str:
    """One long table (section, cluster, other, currency, item, metric, value), injection-safe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "cluster", "other", "currency", "item", "metric", "value"])

    def emit(section: str, row: dict[str, Any], keys: dict[str, str], metrics: list[str]) -> None:
        base = [row.get(keys[k], "") if k in keys else "" for k in ("cluster", "other", "currency", "item")]
        for metric in metrics:
            writer.writerow([safe_cell(v) for v in [section, *base, metric, row.get(metric)]])

    compared = [f"{p}{m}" for m in ("revenue", "sales", "average_ticket", "refund_rate", "chargeback_rate")
                for p in ("", "previous_")]  # fmt: skip
    for row in report["summary"]:
        emit("summary", row, {"currency": "currency"}, compared)
    for row in report["revenue"]:
        emit("revenue", row, {"cluster": "cluster", "currency": "currency"}, compared)
    for row in report["products"]:
        emit(
            "products", row, {"cluster": "cluster", "currency": "currency", "item": "product_name"}, compared
        )
    for row in report["revenue_by_week"]:
        emit("revenue_by_week", row, {"cluster": "cluster", "currency": "currency", "item": "week"},
             ["revenue", "sales"])  # fmt: skip
    for row in report["refund_rate_by_month"]:
        emit("refund_rate_by_month", row, {"cluster": "cluster", "item": "month"},
             ["paid_orders", "refunded_orders", "chargebacks", "refund_rate", "chargeback_rate"])  # fmt: skip
    for row in report["refund_rates"]:
        emit("refund_rates", row, {"cluster": "cluster", "other": "platform"},
             ["paid_orders", "refunded_orders", "chargebacks", "refund_rate", "chargeback_rate"])  # fmt: skip
    for row in report["cluster_overlap"]:
        emit("cluster_overlap", row, {"cluster": "cluster", "other": "other"}, ["customers"])
    for row in report["health"]["rejects"]:
        emit("rejects", row, {"cluster": "cluster", "item": "rule"}, ["rows"])
    for layout in report["health"].get("layouts", []):
        for name, choice in layout["fields"].items():
            row = {"cluster": layout["cluster"], "layout": _layout_name(layout), "field": name, **choice}
            emit("layout_fields", row, {"cluster": "cluster", "other": "layout", "item": "field"},
                 ["column", "score"])  # fmt: skip
    for status, count in report["health"]["files"].items():
        emit("files", {"status": status, "count": count}, {"item": "status"}, ["count"])
    for row in report["lake"]["tables"]:
        emit("lake_tables", row, {"item": "table"}, ["version", "rows"])
    return out.getvalue()


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False, default=str)


# ------------------------------------------------------------------------------------------ html


def _charts(report: dict[str, Any], f: Fmt) -> dict[str, list[Any]]:
    """Plotly figures keyed by the section they follow. Every chart has a legend; each cluster gets
    its own panel (its own scale), so a small cluster is never flattened by a big one."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    separators = ",." if f.locale == "pt-BR" else ".,"
    base = {"separators": separators, "margin": {"l": 10, "r": 10, "t": 60, "b": 10}, "autosize": True,
            "legend": {"orientation": "h", "y": -0.12}, "font": {"size": 12}}  # fmt: skip
    charts: dict[str, list[Any]] = {
        "summary": [],
        "clusters": [],
        "products": [],
        "customers": [],
        "refunds": [],
    }
    weeks: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for row in report["revenue_by_week"]:
        weeks.setdefault(row["currency"], {}).setdefault(row["cluster"], []).append(row)
    for currency, per_cluster in sorted(weeks.items()):
        names = sorted(per_cluster)
        fig = make_subplots(
            rows=len(names), cols=1, shared_xaxes=True, subplot_titles=names, vertical_spacing=0.08
        )
        for i, cluster in enumerate(names, start=1):
            rows = per_cluster[cluster]
            fig.add_trace(
                go.Bar(
                    x=[r["week"] for r in rows],
                    y=[float(r["revenue"]) for r in rows],
                    name=cluster,
                    hovertemplate="%{x|%d/%m/%Y}: %{y:,.2f}<extra>" + cluster + "</extra>",
                ),
                row=i,
                col=1,
            )
            fig.update_yaxes(tickprefix=SYMBOLS.get(currency, currency) + " ", row=i, col=1, automargin=True)
        fig.update_layout(
            base, title=f"{f.t('weekly')} ({currency})", height=140 * len(names) + 160, showlegend=True
        )
        fig.update_xaxes(tickformat="%d/%m/%Y" if f.locale == "pt-BR" else "%Y-%m-%d")
        charts["clusters"].append((f"weekly-{currency}", fig))
    for currency in sorted({r["currency"] for r in report["products"]}):
        rows = [r for r in report["products"] if r["currency"] == currency][::-1]
        labels = [_short(f"{r['product_name'] or '-'} ({r['cluster']})") for r in rows]
        fig = go.Figure([
            go.Bar(name=f.t("current_period"), y=labels, x=[float(r["revenue"]) for r in rows], orientation="h"),
            go.Bar(name=f.t("previous_period"), y=labels, x=[float(r["previous_revenue"]) for r in rows],
                   orientation="h"),
        ])  # fmt: skip
        fig.update_layout(base, title=f"{f.t('products_chart')} ({currency})", barmode="group", showlegend=True,
                          height=max(300, 140 + 44 * len(rows)))  # fmt: skip
        fig.update_yaxes(automargin=True)
        fig.update_xaxes(tickprefix=SYMBOLS.get(currency, currency) + " ")
        charts["products"].append((f"products-{currency}", fig))
    if report["cross_sell"]:
        rows = report["cross_sell"]
        clusters = [r["cluster"] for r in rows]
        fig = go.Figure([
            go.Bar(name=f.t("only_here"), x=clusters, y=[(r["customers"] or 0) - (r["also_elsewhere"] or 0) for r in rows]),
            go.Bar(name=f.t("also_elsewhere"), x=clusters, y=[r["also_elsewhere"] or 0 for r in rows]),
        ])  # fmt: skip
        fig.update_layout(base, title=f.t("cross_chart"), barmode="stack", height=380, showlegend=True)
        charts["customers"].append(("cross-sell", fig))
    if report["refund_rate_by_month"]:
        fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.12,
                            subplot_titles=[f.t("refund_rate"), f.t("chargeback_rate")])  # fmt: skip
        by_cluster: dict[str, list[dict[str, Any]]] = {}
        for row in report["refund_rate_by_month"]:
            by_cluster.setdefault(row["cluster"], []).append(row)
        palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
        for i, (cluster, rows) in enumerate(sorted(by_cluster.items())):
            months = [f.month(r["month"]) for r in rows]
            color = palette[i % len(palette)]
            for panel, key in ((1, "refund_rate"), (2, "chargeback_rate")):
                fig.add_trace(go.Scatter(x=months, y=[r[key] or 0 for r in rows], name=cluster, legendgroup=cluster,
                                         showlegend=panel == 1, mode="lines+markers", line={"color": color}),
                              row=panel, col=1)  # fmt: skip
        fig.update_yaxes(tickformat=".0%", automargin=True)
        fig.update_layout(base, title=f.t("refund_chart"), height=520, showlegend=True)
        charts["refunds"].append(("refund-rates", fig))
    return charts


def _short(text: str, width: int = 34) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def html_page(report: dict[str, Any], locale: str | None = None) -> str:
    """One file, no network: the plotting library's JavaScript is inlined."""
    from plotly.offline import get_plotlyjs

    f = fmt_for(report, locale)
    charts = _charts(report, f)
    config = {"responsive": True, "displaylogo": False}
    body = []
    for section in sections(report, f):
        if section.key == "summary":  # the money cards stand for this table on the page
            cards = "".join(_card(r, f) for r in report["summary"]) or f"<p>({html.escape(f.t('none'))})</p>"
            body.append(
                f'<h2 id="s-summary">{html.escape(section.title)}</h2><div class="cards" id="money">{cards}</div>'
            )
        else:
            body.append(_html_section(section, f))
        for name, fig in charts.get(section.key, []):
            plot = fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"{name}-plot", default_width="100%",
                               config=config)  # fmt: skip
            body.append(f'<section class="chart" id="{html.escape(name)}">{plot}</section>')
    missing = "" if report["gold_built"] else f"<p class=warn>{f.t('no_gold')}</p>"
    generated = f.t("generated").format(
        when=f.when(report["generated_at"]), version=report["lakectl_version"]
    )
    return f"""<!doctype html>
<html lang="{html.escape(f.locale)}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(f.t("title"))} {html.escape(f.day(report["as_of"]))}</title>
<style>
* {{ box-sizing: border-box; }}
body {{ font-family: system-ui, sans-serif; margin: 0 auto; padding: 1rem; max-width: 1200px; color: #222; }}
h1 {{ margin: 0 0 .2rem; font-size: 1.5rem; }} .meta {{ color: #555; margin: 0 0 1rem; }}
h2 {{ margin-top: 2rem; border-bottom: 2px solid #eee; }}
.cards {{ display: grid; gap: .6rem; }}
.card {{ border: 1px solid #ddd; border-radius: 8px; padding: .6rem .8rem; }}
.card h3 {{ margin: 0 0 .4rem; font-size: 1rem; }}
.metrics {{ display: grid; grid-template-columns: repeat(auto-fit, minmax(9.5rem, 1fr)); gap: .4rem; }}
.metric b {{ display: block; font-size: 1.15rem; white-space: nowrap; }}
.metric span {{ color: #555; font-size: .85rem; }} .up {{ color: #17803d; }} .down {{ color: #b42318; }}
.scroll {{ overflow-x: auto; max-width: 100%; }}
table {{ border-collapse: collapse; margin: .5rem 0 1.5rem; font-size: .9rem; }}
th, td {{ border-bottom: 1px solid #ddd; padding: .3rem .45rem; text-align: left; vertical-align: top; }}
th {{ background: #f5f5f5; }} td.num, th.num {{ text-align: right; white-space: nowrap; }}
.warn {{ color: #a60; }} section.chart {{ margin: 1rem 0 2rem; max-width: 100%; overflow: hidden; }}
</style>
<script>{get_plotlyjs()}</script>
</head><body>
<h1>{html.escape(f.t("title"))}</h1>
<p class="meta" id="window">{html.escape(window_sentence(report, f))}</p>
{missing}
{"".join(body)}
<p class="meta">{html.escape(generated)}</p>
</body></html>
"""


def _card(row: dict[str, Any], f: Fmt) -> str:
    c = row["currency"]

    def metric(label: str, value: str, change: str, raw: Any, good_up: bool = True) -> str:
        css = "" if raw is None or raw == 0 else ("up" if (raw > 0) == good_up else "down")
        return (f'<div class="metric"><span>{html.escape(label)}</span><b>{html.escape(value)}</b>'
                f'<span class="{css}" title="{html.escape(f.t("vs"))}">{html.escape(change)}</span></div>')  # fmt: skip

    return (
        f'<div class="card"><h3>{html.escape(c)}</h3><div class="metrics">'
        + metric(f.t("revenue"), f.money(row["revenue"], c), f.change(row["revenue_change"]), row["revenue_change"])
        + metric(f.t("sales"), f.count(row["sales"]), f.change(row["sales_change"]), row["sales_change"])
        + metric(f.t("ticket"), f.money(row["average_ticket"], c), f.change(row["average_ticket_change"]),
                 row["average_ticket_change"])
        + metric(f.t("refund_rate"), f.pct(row["refund_rate"]), f.points(row["refund_rate_change"]),
                 row["refund_rate_change"], good_up=False)
        + metric(f.t("chargeback_rate"), f.pct(row["chargeback_rate"]), f.points(row["chargeback_rate_change"]),
                 row["chargeback_rate_change"], good_up=False)
        + "</div></div>"
    )  # fmt: skip


def _html_section(section: Section, f: Fmt) -> str:
    tag = f"h{section.level}"
    title = f'<{tag} id="s-{section.key}">{html.escape(section.title)}</{tag}>'
    if not section.rows:
        return f"{title}<p>({html.escape(f.t('none'))})</p>"

    def cls(i: int) -> str:
        return ' class="num"' if i in section.numeric else ""

    head = "".join(f"<th{cls(i)}>{html.escape(h)}</th>" for i, h in enumerate(section.headers))
    body = "".join(
        "<tr>" + "".join(f"<td{cls(i)}>{html.escape(str(c))}</td>" for i, c in enumerate(row)) + "</tr>"
        for row in section.rows
    )
    return (
        f'{title}<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
    )
