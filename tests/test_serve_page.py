"""The upload page in headless Chromium (Playwright driving the system browser): sign in, choose or
drop files, watch the per-file result appear."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .serve_client import TOKEN, Server, running
from .tools import require_module, require_tool


@pytest.fixture()
def browser_page(tmp_path: Path) -> Iterator[tuple[Server, Any]]:
    chromium = require_tool("chromium", "the upload page is tested in a real browser")
    require_module("playwright", "drives Chromium")
    from playwright.sync_api import sync_playwright

    with running(tmp_path / "srv") as server, sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)
            yield server, page
        finally:
            browser.close()


def results(page: Any, count: int) -> list[str]:
    page.wait_for_function(
        f"document.querySelectorAll('#results li[data-status]').length >= {count}", timeout=60_000
    )
    return page.eval_on_selector_all(
        "#results li", "items => items.map(i => i.dataset.status + '|' + i.innerText)"
    )


def test_owner_signs_in_chooses_and_drops_files_and_sees_each_result(
    browser_page: tuple[Server, Any], tmp_path: Path
) -> None:
    server, page = browser_page
    page.goto(f"http://127.0.0.1:{server.port}/")
    assert page.url.endswith("/login?lang=pt")
    page.fill("#token", "not-the-token-at-all")
    page.click("#sign-in")
    assert "Token inválido" in page.content()
    page.fill("#token", TOKEN)
    page.click("#sign-in")
    page.wait_for_selector("#lakectl-upload")
    assert "Enviar exportações" in page.inner_text("#lakectl-upload")

    # choose a file: queued for the watcher
    export = tmp_path / "vendas_outubro.csv"
    export.write_text("Código da transação;Valor\nPG-1;10,00\nPG-2;20,00\n", encoding="utf-8")
    page.select_option("#cluster", "emagrecimento")
    page.set_input_files("#files", str(export))
    (first,) = results(page, 1)
    assert first.startswith("queued|") and "na fila" in first and "vendas_outubro.csv" in first
    assert (server.landing / "emagrecimento" / "vendas_outubro.csv").is_file()

    # drop a file with "ingest now": the result shows the rows; a hostile name stays text
    page.check("#now")
    page.evaluate(
        """() => {
          const data = new DataTransfer();
          data.items.add(new File(["id;valor\\nPG-3;30,00\\n"], "<img src=x onerror=alert(1)>.csv"));
          document.getElementById("drop").dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true}));
        }"""
    )
    second = results(page, 2)[1]
    assert second.startswith("ingested|") and "ingerido: 1 linhas" in second
    assert "<img src=x onerror=alert(1)>.csv" in second  # shown as text...
    assert page.query_selector("#results img") is None  # ...never as markup

    # a file that is not a spreadsheet is refused with the reason, in the page
    page.uncheck("#now")
    junk = tmp_path / "foto.png"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    page.set_input_files("#files", str(junk))
    third = results(page, 3)[2]
    assert third.startswith("rejected|") and "recusado" in third and "not a spreadsheet" in third
