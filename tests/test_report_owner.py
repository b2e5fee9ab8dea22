"""The owner's report: the window ends at the latest sale, money first, pt-BR by default, data health
from what the lake holds, and the HTML page as a person sees it in Chromium at 1366 and 390 px."""

from __future__ import annotations

import html
import json
import re
import subprocess
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from lakectl.cli import app
from lakectl.cli.render_report import Fmt, html_page
from lakectl.pipeline import ingest_file
from lakectl.promote import promote_all, read_silver
from lakectl.report import build_report

from .conftest import env_for, lake_settings
from .tools import require_tool


@pytest.fixture()
def lake(demo_lake):
    return demo_lake


def test_the_window_ends_at_the_latest_sale_and_the_demo_shows_its_money(lake):
    report = build_report(lake)
    silver = read_silver(lake)
    local_day = pl.col("purchased_at").dt.convert_time_zone("America/Sao_Paulo").dt.date()
    latest = silver.select(local_day.max()).item()
    assert report["window"]["ends_at"] == "latest_sale" and report["window"]["end"] == latest.isoformat()
    start = latest - timedelta(days=29)
    expected: dict[str, Decimal] = defaultdict(Decimal)
    sales: dict[str, int] = defaultdict(int)
    for row in silver.with_columns(local_day.alias("day")).iter_rows(named=True):
        if row["status"] == "approved" and start <= row["day"] <= latest:
            expected[row["currency"]] += row["gross_amount"]
            sales[row["currency"]] += 1
    got = {r["currency"]: Decimal(r["revenue"]) for r in report["summary"]}
    assert got == dict(expected) and all(v > 0 for v in got.values())
    assert {r["currency"]: r["sales"] for r in report["summary"]} == dict(sales)
    brl = next(r for r in report["summary"] if r["currency"] == "BRL")
    assert Decimal(brl["average_ticket"]) == (expected["BRL"] / sales["BRL"]).quantize(Decimal("0.01"))
    assert brl["previous_revenue"] != "0.00" and brl["revenue_change"] is not None


def test_as_of_moves_the_window_and_the_page_says_so(lake):
    report = build_report(lake, date(2026, 9, 30))
    assert report["window"] == {"days": 30, "start": "2026-09-01", "end": "2026-09-30", "previous_start": "2026-08-02",
                                "previous_end": "2026-08-31", "ends_at": "as_of",
                                "latest_sale": report["window"]["latest_sale"]}  # fmt: skip
    page = html_page(report)
    assert "01/09/2026 a 30/09/2026" in page and "--as-of" in page


def test_money_dates_and_times_in_pt_br_and_en():
    pt, en = Fmt("pt-BR"), Fmt("en")
    assert pt.money("1234.56", "BRL") == "R$ 1.234,56" and pt.money("1234567.5", "USD") == "US$ 1.234.567,50"
    assert pt.money("-3.10", "EUR") == "-€ 3,10" and en.money("1234.56", "BRL") == "R$ 1,234.56"
    assert pt.pct(0.125) == "12,5%" and pt.change(-0.03) == "-3,0%" and pt.points(0.012) == "+1,2 p.p."
    assert pt.day("2026-10-05") == "05/10/2026" and en.day("2026-10-05") == "2026-10-05"
    assert pt.when("2026-10-05T15:00:00+00:00") == "05/10/2026 12:00"  # Sao Paulo is UTC-3
    assert pt.change(None) == "-" and pt.money(None, "BRL") == "-"


def test_the_page_leads_with_the_money_in_portuguese_and_en_on_request(lake):
    result = CliRunner().invoke(app, ["report", "--format", "html"], env=env_for(lake))
    assert result.exit_code == 0, result.output
    page = result.stdout
    assert '<html lang="pt-BR">' in page and "Receita" in page and "Ticket médio" in page
    body = page.split("<body>", 1)[1]
    headings = re.findall(r'<h[23] id="s-([a-z_]+)"', body)
    assert headings[0] == "summary" and headings.index("clusters") < headings.index("products")
    assert headings.index("customers") < headings.index("health") < headings.index("tables")
    assert body.index('id="money"') < body.index('id="s-clusters"')
    revenue = next(r for r in build_report(lake)["summary"] if r["currency"] == "BRL")["revenue"]
    assert Fmt("pt-BR").money(revenue, "BRL") in body.split('id="s-clusters"')[0]
    english = CliRunner().invoke(app, ["report", "--format", "markdown", "--locale", "en"], env=env_for(lake))
    assert (
        english.exit_code == 0 and "Average ticket" in english.stdout and "Ticket médio" not in english.stdout
    )
    assert CliRunner().invoke(app, ["report", "--locale", "fr"], env=env_for(lake)).exit_code == 2


def test_data_health_shows_unknown_layouts_and_statuses_with_the_fix(tmp_path):
    settings = lake_settings(tmp_path)
    folder = settings.landing_zone / "diabetes"
    folder.mkdir(parents=True)
    hotmart = (
        "Código da transação;Status da transação;Data da transação;Produto;Valor de compra com impostos\n"
    )
    (folder / "hotmart.csv").write_text(hotmart + "HP1;Aprovado;01/10/2026 10:00:00;Chá;10,00\n"
                                        "HP2;Situação esquisita;02/10/2026 10:00:00;Chá;12,00\n")  # fmt: skip
    (folder / "planilha_estranha.csv").write_text("zzz;yyy;xxx\n1;2;3\n4;5;6\n")
    for path in sorted(folder.iterdir()):
        ingest_file(path, "diabetes", settings)
    promote_all(settings)
    health = build_report(settings)["health"]
    [layout] = health["unknown_layouts"]
    assert layout["files"] == ["planilha_estranha.csv"] and layout["rows"] == 2
    assert "zzz" in layout["columns"] and "lakectl promote silver --cluster diabetes --full" in layout["fix"]
    [status] = health["unknown_statuses"]
    assert status["status_raw"] == "Situação esquisita" and status["rows"] == 1
    assert 'statuses = { "Situação esquisita" = "approved" }' in status["fix"]
    layout_rule = next(r for r in health["rejects"] if r["rule"] == "layout_known")
    assert layout_rule["rows"] == 2 and layout_rule["example_file"] == "planilha_estranha.csv"
    page = html_page(build_report(settings))
    assert html.escape("Situação esquisita") in page and "planilha_estranha.csv" in page


# --------------------------------------------------------------------------- a real browser

# Added to a copy of the page (never to the report itself): collects errors, then measures.
PROBE = """<script>
window.__errors = [];
window.addEventListener("error", e => window.__errors.push(String(e.message)));
window.addEventListener("load", () => setTimeout(() => {
  const box = el => el ? el.getBoundingClientRect() : null;
  const charts = [...document.querySelectorAll(".js-plotly-plot")].map(gd => ({
    id: gd.id, right: box(gd).right, svg: gd.querySelectorAll(".main-svg").length,
    legend_items: gd.querySelectorAll("g.legend .traces").length}));
  const card = document.querySelector("#money .card");
  const out = {width: window.innerWidth, height: window.innerHeight, scroll_width: document.documentElement.scrollWidth,
    money_top: box(document.getElementById("money")).top, money_bottom: box(document.getElementById("money")).bottom,
    first_card_bottom: box(card).bottom, charts, errors: window.__errors};
  const pre = document.createElement("pre"); pre.id = "probe"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}, 1500));
</script>"""
# Headless Chromium keeps windows at least 500 px wide: a phone is an iframe of the phone's size.
PHONE = """<!doctype html><html><body style="margin:0">
<iframe id="f" src="probed.html" style="width:{width}px;height:{height}px;border:0"></iframe>
<script>
const wait = () => {{ const d = document.getElementById("f").contentDocument, pre = d && d.getElementById("probe");
  if (pre) {{ const o = document.createElement("pre"); o.id = "probe"; o.textContent = pre.textContent;
             document.body.appendChild(o); }} else setTimeout(wait, 100); }};
wait();
</script></body></html>"""


def render_in_chromium(page: str, folder: Path, width: int, height: int) -> tuple[dict, str]:
    chromium = require_tool("chromium", "the report is checked in a real browser")
    (folder / "probed.html").write_text(page.replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    target = folder / "probed.html"
    if width < 500:
        target = folder / "phone.html"
        target.write_text(PHONE.format(width=width, height=height), encoding="utf-8")
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", '--host-resolver-rules=MAP * ~NOTFOUND',
         "--allow-file-access-from-files", f"--user-data-dir={folder / 'profile'}", "--enable-logging=stderr",
         "--v=0", "--virtual-time-budget=15000", f"--window-size={max(width, 500)},{height}", "--dump-dom",
         target.as_uri()],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    found = re.search(r'<pre id="probe">([^<]*)</pre>', result.stdout)
    assert found, "the probe did not report: the page did not finish loading\n" + result.stderr[-2000:]
    return json.loads(html.unescape(found.group(1))), result.stderr


@pytest.mark.parametrize(("width", "height"), [(1366, 768), (390, 844)])
def test_the_html_report_in_a_real_browser(lake, tmp_path, width, height):
    page = html_page(build_report(lake))
    markup = re.sub(r"<script>.*?</script>", "", page, flags=re.S)  # the inlined plotting code aside
    assert "<script src" not in page and not re.search(r"""(src|href)=["']?(https?:)?//""", markup)
    probe, stderr = render_in_chromium(page, tmp_path, width, height)
    assert probe["width"] == width
    assert probe["errors"] == [] and "Uncaught" not in stderr
    assert probe["scroll_width"] <= width, "the page scrolls sideways"
    assert (
        len(probe["charts"]) == 8
    )  # weekly revenue per currency (3), products per currency (3), cross-sell, refunds
    for chart in probe["charts"]:
        assert chart["svg"] >= 2, f"{chart['id']} was not drawn"
        assert chart["legend_items"] >= 1, f"{chart['id']} has no legend"
        assert chart["right"] <= width, f"{chart['id']} is wider than the screen"
    assert (
        0 <= probe["money_top"] < height and probe["first_card_bottom"] <= height
    )  # money on the first screen
    if width >= 1000:
        assert probe["money_bottom"] <= height
