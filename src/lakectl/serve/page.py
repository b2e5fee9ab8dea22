"""The HTML around the report: the sign-in page and the upload panel (Portuguese by default).

File names and server answers are shown with ``textContent`` only, so a hostile name is text.
"""

from __future__ import annotations

import html
import json
import re

TEXT = {
    "pt": {
        "title": "lakectl: entrar",
        "token": "Token de acesso",
        "sign_in": "Entrar",
        "bad_token": "Token inválido.",
        "upload": "Enviar exportações",
        "cluster": "Cluster",
        "now": "Ingerir agora (senão o serviço de watch ingere em segundos)",
        "drop": "Arraste os arquivos para cá ou",
        "choose": "escolha os arquivos",
        "sign_out": "Sair",
        "sending": "enviando…",
        "queued": "na fila: o serviço vai ingerir",
        "ingested": "ingerido",
        "rows": "linhas",
        "skipped": "ignorado",
        "rejected": "recusado",
        "error": "erro",
    },
    "en": {
        "title": "lakectl: sign in",
        "token": "Access token",
        "sign_in": "Sign in",
        "bad_token": "Invalid token.",
        "upload": "Upload exports",
        "cluster": "Cluster",
        "now": "Ingest now (otherwise the watch service takes it within seconds)",
        "drop": "Drop files here or",
        "choose": "choose files",
        "sign_out": "Sign out",
        "sending": "sending…",
        "queued": "queued: the service will ingest it",
        "ingested": "ingested",
        "rows": "rows",
        "skipped": "skipped",
        "rejected": "rejected",
        "error": "error",
    },
}
STYLE = """
body.lk{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}
#lakectl-upload{font-family:system-ui,sans-serif;border:1px solid #ccc;border-radius:8px;padding:1rem;margin:1rem}
#lakectl-upload #drop{border:2px dashed #888;border-radius:8px;padding:1.5rem;text-align:center;margin:.5rem 0}
#lakectl-upload #drop.over{background:#eef}
#lakectl-upload li{margin:.3rem 0}#lakectl-upload progress{width:8rem;margin:0 .5rem}
.lk-rejected,.lk-error{color:#a00}.lk-ingested,.lk-queued{color:#070}.lk-skipped{color:#666}
"""


def language(requested: str | None) -> str:
    return requested if requested in TEXT else "pt"


def login_page(lang: str, failed: bool = False) -> str:
    t = TEXT[lang]
    error = f'<p class="lk-error" role="alert">{t["bad_token"]}</p>' if failed else ""
    return f"""<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{t["title"]}</title>
<style>{STYLE}</style></head><body class="lk"><h1>lakectl</h1>{error}
<form method="post" action="/login?lang={lang}"><label>{t["token"]}<br>
<input type="password" name="token" id="token" autocomplete="current-password" required></label>
<button type="submit" id="sign-in">{t["sign_in"]}</button></form></body></html>"""


def upload_panel(lang: str, clusters: list[str], csrf: str, signed_in: bool) -> str:
    t = TEXT[lang]
    options = "".join(f'<option value="{html.escape(c)}">{html.escape(c)}</option>' for c in clusters)
    sign_out = (
        f'<form method="post" action="/logout" style="float:right">'
        f'<input type="hidden" name="csrf" value="{csrf}"><button>{t["sign_out"]}</button></form>'
        if signed_in
        else ""
    )
    strings = json.dumps(
        {k: t[k] for k in ("sending", "queued", "ingested", "rows", "skipped", "rejected", "error")}
    )
    return f"""<section id="lakectl-upload" lang="{lang}"><style>{STYLE}</style>{sign_out}
<h2>{t["upload"]}</h2>
<label>{t["cluster"]} <select id="cluster">{options}</select></label>
<label><input type="checkbox" id="now"> {t["now"]}</label>
<div id="drop">{t["drop"]} <label style="text-decoration:underline;cursor:pointer">{t["choose"]}
<input type="file" id="files" multiple hidden accept=".xlsx,.xlsm,.xls,.ods,.csv,.tsv,.txt"></label></div>
<ul id="results"></ul>
<script>
(function () {{
  const CSRF = {json.dumps(csrf)}, T = {strings};
  const drop = document.getElementById("drop"), input = document.getElementById("files");
  const list = document.getElementById("results");
  function show(item, cls, text) {{ item.className = "lk-" + cls; item.querySelector(".state").textContent = text; }}
  function send(file) {{
    const item = document.createElement("li"), name = document.createElement("b");
    const bar = document.createElement("progress"), state = document.createElement("span");
    name.textContent = file.name; state.className = "state"; state.textContent = T.sending;
    bar.max = 100; bar.value = 0; item.append(name, bar, state); list.append(item);
    const form = new FormData();
    form.append("cluster", document.getElementById("cluster").value);
    form.append("files", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/files" + (document.getElementById("now").checked ? "?ingest=now" : ""));
    xhr.setRequestHeader("X-CSRF-Token", CSRF);
    xhr.upload.onprogress = (e) => {{ if (e.lengthComputable) bar.value = 100 * e.loaded / e.total; }};
    xhr.onload = () => {{
      bar.value = 100;
      let body = null;
      try {{ body = JSON.parse(xhr.responseText); }} catch (e) {{}}
      const r = body && body.files && body.files[0];
      if (!r) {{ show(item, "error", T.error + ": " + ((body && body.error) || xhr.status)); return; }}
      let text = T[r.status] || r.status;
      if (r.status === "ingested") text += ": " + r.rows + " " + T.rows;
      if (r.reason) text += ": " + r.reason;
      show(item, r.status, text + " (" + r.file + ")");
      item.dataset.status = r.status; item.dataset.sha256 = r.sha256 || "";
    }};
    xhr.onerror = () => show(item, "error", T.error);
    xhr.send(form);
  }}
  input.addEventListener("change", () => {{ Array.from(input.files).forEach(send); input.value = ""; }});
  drop.addEventListener("dragover", (e) => {{ e.preventDefault(); drop.classList.add("over"); }});
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {{
    e.preventDefault(); drop.classList.remove("over"); Array.from(e.dataTransfer.files).forEach(send);
  }});
}})();
</script></section>"""


def with_panel(report_html: str, panel: str, lang: str) -> str:
    """The report page with the upload panel at the top of its body."""
    page, found = re.subn(r"<body[^>]*>", lambda m: m.group(0) + panel, report_html, count=1)
    page = re.sub(r'<html lang="[^"]*"', f'<html lang="{lang}"', page, count=1)
    return page if found else panel + report_html
