"""`lakectl serve` as a real uvicorn process on loopback: auth, uploads, the read side."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter
from hypothesis import given
from hypothesis import strategies as st

from lakectl.config import Settings, load_settings
from lakectl.errors import ConfigError
from lakectl.serve.auth import load_tokens
from lakectl.serve.uploads import MAX_NAME, safe_stem, sniff_kind, stored_name
from lakectl.service.runner import ingest_paths, plan

from .conftest import write_far_cell_xlsx
from .serve_client import TOKEN, Server, multipart, running

CSV = "Código da transação;Valor;Status\n{id};97,50;Aprovado\n"


def csv_bytes(tag: str) -> bytes:
    return CSV.format(id=tag).encode()


def xlsx_bytes(tag: str) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("Vendas")
    sheet.write_row(0, 0, ["Transação", "Produto", "Preço total"])
    sheet.write_row(1, 0, [tag, "Curso", 197.0])
    sheet.write_row(2, 0, [tag + "-2", "Curso", 97.0])
    book.close()
    return buffer.getvalue()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running(tmp_path_factory.mktemp("serve"), LAKECTL_SERVE__MAX_UPLOAD_MB="1") as srv:
        yield srv


def lib_settings(server: Server) -> Settings:
    return load_settings(landing_zone=server.landing, lake_root=server.lake, reader={"isolate": False},
                         silver={"salt_file": server.root / "salt"})  # fmt: skip


def outside_files(server: Server) -> list[Path]:
    """Files that escaped the landing zone and the lake (there must be none)."""
    allowed = (server.landing, server.lake)
    return [p for p in server.root.rglob("*") if p.is_file() and p.name not in ("serve.log", "salt")
            and not any(p.is_relative_to(a) for a in allowed)]  # fmt: skip


# ------------------------------------------------------------------------------------------ auth

PROTECTED = [
    ("GET", "/api/v1/ready"),
    ("GET", "/metrics"),
    ("GET", "/api/v1/ingest-log"),
    ("GET", "/api/v1/quarantine"),
    ("GET", "/api/v1/report"),
    ("GET", "/api/v1/files/" + "0" * 64),
    ("POST", "/api/v1/files"),
    ("POST", "/api/v1/clusters/diabetes/files"),
    ("GET", "/api/docs"),
    ("GET", "/api/openapi.json"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_every_route_but_health_needs_a_token(server: Server, method: str, path: str) -> None:
    assert server.request(method, path, token=None).status == 401
    assert server.request(method, path, token="wrong-token-0123456789").status == 401
    assert server.request(method, path, headers={"Authorization": f"Basic {TOKEN}"}, token=None).status == 401
    with_token = server.request(method, path)
    assert with_token.status != 401
    if path.startswith("/api/docs") or path.startswith("/api/openapi"):
        assert with_token.status == 404  # docs are off unless serve.docs


def test_health_is_public_and_the_page_sends_browsers_to_sign_in(server: Server) -> None:
    assert server.request("GET", "/api/v1/health", token=None).json()["status"] == "ok"
    home = server.request("GET", "/", token=None)
    assert home.status == 303 and home.headers["location"].startswith("/login")


def test_sign_in_sets_a_strict_http_only_cookie_and_csrf_guards_posts(server: Server) -> None:
    bad = server.request("POST", "/login", b"token=nope", {"Content-Type": "application/x-www-form-urlencoded"},
                         token=None)  # fmt: skip
    assert bad.status == 401 and "Token inválido" in bad.body.decode()
    foreign = server.request("POST", "/login", f"token={TOKEN}".encode(),
                             {"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example"},
                             token=None)  # fmt: skip
    assert foreign.status == 403
    ok = server.request("POST", "/login", f"token={TOKEN}".encode(),
                        {"Content-Type": "application/x-www-form-urlencoded"}, token=None)  # fmt: skip
    assert ok.status == 303
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    session = cookie.split(";")[0]
    body, content_type = multipart({"cluster": "diabetes"}, [("csrf.csv", csv_bytes("CSRF-1"))])
    no_csrf = server.request("POST", "/api/v1/files", body, {"Content-Type": content_type, "Cookie": session},
                             token=None)  # fmt: skip
    assert no_csrf.status == 403
    page = server.request("GET", "/", headers={"Cookie": session}, token=None).body.decode()
    assert "Enviar exportações" in page and 'lang="pt"' in page
    csrf = page.split('const CSRF = "')[1].split('"')[0]
    with_csrf = server.request("POST", "/api/v1/files", body,
                               {"Content-Type": content_type, "Cookie": session, "X-CSRF-Token": csrf},
                               token=None)  # fmt: skip
    assert with_csrf.status == 202
    assert (
        server.request("GET", "/?lang=en", headers={"Cookie": session}, token=None)
        .body.decode()
        .count("Upload exports")
    )


def test_a_token_is_required_to_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs an API token"):
        load_tokens(load_settings(lake_root=tmp_path))
    with pytest.raises(ConfigError, match="shorter"):
        load_tokens(load_settings(lake_root=tmp_path, serve={"token": "short"}))
    tokens = tmp_path / "tokens"
    tokens.write_text("# owner\n" + "a" * 20 + "\n\n" + "b" * 20 + "\n")
    assert load_tokens(load_settings(serve={"tokens_file": tokens})) == ["a" * 20, "b" * 20]
    assert load_tokens(load_settings(serve={"auth": "proxy"})) == []


# --------------------------------------------------------------------------------------- uploads


def test_queued_upload_lands_in_the_cluster_folder_and_can_be_polled(server: Server) -> None:
    reply = server.upload([("vendas_setembro.csv", csv_bytes("Q-1"))])
    assert reply.status == 202
    (result,) = reply.json()["files"]
    assert result["status"] == "queued" and result["file"] == "vendas_setembro.csv"
    assert reply.headers["location"] == f"/api/v1/files/{result['sha256']}"
    assert (server.landing / "diabetes" / "vendas_setembro.csv").read_bytes() == csv_bytes("Q-1")
    assert server.request("GET", reply.headers["location"]).json()["status"] == "queued"
    # what the watcher would do: ingest the landing zone; the poll then reports the outcome
    settings = lib_settings(server)
    ingest_paths(plan([server.landing / "diabetes" / "vendas_setembro.csv"], None, settings), settings)
    polled = server.request("GET", reply.headers["location"]).json()
    assert polled["status"] == "ingested" and polled["rows"] == 1 and polled["cluster"] == "diabetes"


def test_ingest_now_returns_the_result_and_archives_the_file(server: Server) -> None:
    body, content_type = multipart({}, [("Relatório Outubro.xlsx", xlsx_bytes("NOW-1"))])
    reply = server.request("POST", "/api/v1/clusters/emagrecimento/files?ingest=now", body,
                           {"Content-Type": content_type})  # fmt: skip
    assert reply.status == 201, reply.body
    (result,) = reply.json()["files"]
    assert (
        result["status"] == "ingested" and result["rows"] == 2 and result["file"] == "Relatório Outubro.xlsx"
    )
    bronze = pl.read_delta(str(server.lake / "bronze" / "emagrecimento"))
    assert sorted(bronze["transacao"].to_list()) == ["NOW-1", "NOW-1-2"]
    assert list((server.landing / "_archive" / "emagrecimento").rglob("Relatório Outubro.xlsx"))
    assert not (server.landing / "emagrecimento" / "Relatório Outubro.xlsx").exists()


def test_duplicate_upload_is_skipped_and_not_stored(server: Server) -> None:
    data = csv_bytes("DUP-1")
    assert server.upload([("a.csv", data)], query="?ingest=now").json()["files"][0]["status"] == "ingested"
    again = server.upload([("renamed.csv", data)])
    assert again.status == 200
    (result,) = again.json()["files"]
    assert result["status"] == "skipped" and "duplicate of a.csv" in result["reason"]
    assert not (server.landing / "diabetes" / "renamed.csv").exists()


def test_corrupt_and_binary_uploads_are_rejected_with_the_reason_and_kept_in_quarantine(
    server: Server,
) -> None:
    whole = xlsx_bytes("CUT-1")
    truncated = whole[: len(whole) // 2]
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
    reply = server.upload([("cortado.xlsx", truncated), ("foto.png", png), ("vazio.csv", b"")])
    assert reply.status == 422
    results = {r["file"]: r for r in reply.json()["files"]}
    assert set(results) == {"cortado.xlsx", "foto.csv", "vazio.csv"}
    assert all(r["status"] == "rejected" and r["reason"] for r in results.values())
    assert "cortado.xlsx" in results["cortado.xlsx"]["reason"]
    assert "not a spreadsheet" in results["foto.csv"]["reason"]
    quarantine = server.request("GET", "/api/v1/quarantine").json()["entries"]
    assert {"cortado.xlsx", "foto.csv", "vazio.csv"} <= {e["file"] for e in quarantine}
    polled = server.request("GET", results["cortado.xlsx"]["location"]).json()
    assert polled["status"] == "rejected"


def test_oversize_upload_is_refused_and_leaves_nothing(server: Server) -> None:
    big = b"id;valor\n" + b"1;2\n" * (300 * 1024)  # 1.2 MiB against serve.max_upload_mb = 1
    assert server.upload([("grande.csv", big)]).status == 413
    body, content_type = multipart({"cluster": "diabetes"}, [("grande.csv", big)])
    chunks = (
        body[i : i + 65536] for i in range(0, len(body), 65536)
    )  # no Content-Length: counted as it streams
    streamed = server.request("POST", "/api/v1/files", chunks, {"Content-Type": content_type}, chunked=True)
    assert streamed.status == 413 and "max_upload_mb" in streamed.json()["error"]
    assert not (server.landing / "diabetes" / "grande.csv").exists()
    assert not any((server.landing / ".uploads").iterdir())


HOSTILE = [
    "../../../etc/cron.d/evil.csv",
    "/etc/passwd",
    "C:\\Windows\\system32\\con.csv",
    "a\x00b.csv",
    "line\r\nbreak.csv",
    "CON.csv",
    "x" * 400 + ".csv",
    "..",
    "~$lock.csv",
    ".hidden.csv",
    "\u202egpj.csv",
]


def test_hostile_names_are_stored_safely_inside_the_cluster_folder(server: Server) -> None:
    files = [(name, csv_bytes(f"HOSTILE-{i}")) for i, name in enumerate(HOSTILE)]
    reply = server.upload(files)
    assert reply.status == 202, reply.body
    stored = [r["file"] for r in reply.json()["files"]]
    assert all(r["status"] == "queued" for r in reply.json()["files"])
    folder = server.landing / "diabetes"
    for name in stored:
        path = folder / name
        assert path.is_file() and path.parent == folder
        assert not name.startswith((".", "~", "-")) and "\x00" not in name and len(name) <= MAX_NAME + 8
        assert name.split(".")[0].lower() not in ("con", "prn", "aux", "nul")
    assert len(set(stored)) == len(stored)
    assert outside_files(server) == []


def test_bad_requests_get_a_reason_not_a_500(server: Server) -> None:
    assert server.upload([("a.csv", b"x;y\n1;2\n")], cluster=None).status == 400
    assert server.upload([("a.csv", b"x;y\n1;2\n")], cluster="nao_existe").status == 400
    assert server.upload([], cluster="diabetes").status == 400
    not_multipart = server.request("POST", "/api/v1/files", b"{}", {"Content-Type": "application/json"})
    assert not_multipart.status == 400 and "multipart" in not_multipart.json()["error"]
    broken = server.request("POST", "/api/v1/files", b"--zz\r\nContent-Disposition: form-data; name=\"files\"; fi",
                            {"Content-Type": "multipart/form-data; boundary=zz"})  # fmt: skip
    assert broken.status == 400
    assert server.upload([("a.csv", b"1")], query="?ingest=later").status == 400
    assert server.request("GET", "/api/v1/files/not-a-hash").status == 400
    assert server.request("GET", "/api/v1/files/" + "f" * 64).status == 404
    assert (
        server.request("POST", "/api/v1/clusters/nope/files", b"", {"Content-Type": "text/plain"}).status
        == 404
    )


# ------------------------------------------------------------------------------------- read side


def test_read_side_answers_without_paths(server: Server) -> None:
    server.upload([("leitura.csv", csv_bytes("READ-1"))], query="?ingest=now")
    not_ready = server.request("GET", "/api/v1/ready")
    assert (
        not_ready.status == 503 and not_ready.json()["lake"] is True and not_ready.json()["watcher"] is False
    )
    heartbeat = server.lake / "_lakectl" / "heartbeat.json"
    heartbeat.write_text(json.dumps({"updated_at": time.time(), "status": "running"}))
    assert server.request("GET", "/api/v1/ready").json() == {"ready": True, "lake": True, "watcher": True}
    log = server.request("GET", "/api/v1/ingest-log?limit=5").json()["entries"]
    assert log and all("path" not in e for e in log) and log[0]["file_name"]
    metrics = server.request("GET", "/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.body.decode()
    assert 'lakectl_files{cluster="diabetes",status="ingested"}' in text
    assert "lakectl_quarantine_files" in text and "lakectl_uploads_total" in text
    report = server.request("GET", "/api/v1/report").json()
    assert report["schema_version"] == 3 and "lake" in report
    page = server.request("GET", "/").body.decode()
    assert "<html" in page and 'id="lakectl-upload"' in page
    replies = [
        server.request("GET", p) for p in ("/api/v1/ingest-log", "/api/v1/quarantine", "/api/v1/report", "/")
    ]
    for reply in replies:
        assert str(server.root) not in reply.body.decode(), reply.body[:200]


# ------------------------------------------------------------------------------- pure functions


@given(st.text(max_size=600))
def test_safe_stem_never_yields_a_path(name: str) -> None:
    stem, suffix = safe_stem(name)
    for part in (stem, suffix):
        assert "/" not in part and "\\" not in part and "\x00" not in part
        assert all(ch.isprintable() or ch == " " for ch in part)
    assert stem and not stem.startswith(".") and len(stem) <= MAX_NAME
    assert stem not in (".", "..")


def test_kind_comes_from_the_bytes(tmp_path: Path) -> None:
    cases = {
        "book.csv": xlsx_bytes("K-1"),  # an xlsx named .csv
        "a.xlsx": b"id;v\n1;2\n",  # text named .xlsx
        "u16.txt": "id\tv\n1\t2\n".encode("utf-16"),
        "ole.bin": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100,
        "img.csv": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200),
    }
    kinds = {}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        kinds[name] = sniff_kind(tmp_path / name)
    assert kinds == {"book.csv": "xlsx", "a.xlsx": "csv", "u16.txt": "csv", "ole.bin": "xls", "img.csv": None}
    assert stored_name("book.csv", "xlsx") == "book.xlsx"
    assert stored_name("a.xlsx", "csv") == "a.csv"
    assert stored_name("export.TSV", "csv") == "export.tsv"
    ods = io.BytesIO()
    with zipfile.ZipFile(ods, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
    (tmp_path / "x.ods").write_bytes(ods.getvalue())
    assert sniff_kind(tmp_path / "x.ods") == "ods"


# ------------------------------------------------------------------- a failure of ours at ingest=now


def test_ingest_now_short_of_memory_leaves_the_file_for_the_watcher_never_rejected(tmp_path: Path) -> None:
    """With the far-cell check let through (reader.max_cells), the parser fails a native allocation
    in a fresh child too: a shortage of ours (OutOfResources, transient), not a verdict on the bytes.
    The upload is queued in the landing zone for the watcher, and the answer and the poll say so with
    the reason, never "rejected"; the native text stays off the console. Once the watcher gives up
    (watch.max_attempts), the file is quarantined and the poll says rejected."""
    far = write_far_cell_xlsx(tmp_path / "longe.xlsx").read_bytes()
    env = {"LAKECTL_READER__ISOLATE": "true", "LAKECTL_READER__MAX_CELLS": str(10**18)}
    with running(tmp_path / "srv", **env) as server:
        reply = server.upload([("longe.xlsx", far)], query="?ingest=now")
        assert reply.status == 202, reply.body
        (result,) = reply.json()["files"]
        assert result["status"] == "queued" and result["retrying"] is True, result
        assert "reader.memory_limit_mb" in result["reason"] and "memory allocation" in result["reason"], (
            result
        )
        assert (server.landing / "diabetes" / "longe.xlsx").read_bytes() == far
        assert not (server.landing / "_quarantine").exists() or not any(
            (server.landing / "_quarantine").rglob("*")
        )
        assert not list((server.lake / "_lakectl").rglob("rejected/*.json")), "remembered as the file's fault"
        polled = server.request("GET", reply.headers["location"]).json()
        assert polled["status"] == "queued" and polled["retrying"] is True, polled
        assert "memory allocation" in polled["reason"] and str(server.root) not in polled["reason"], polled
        # the watcher tries it (once, here) and gives up: only then is it rejected
        environ = {k: v for k, v in os.environ.items() if not k.startswith("LAKECTL_")}
        environ.update(env, LAKECTL_LANDING_ZONE=str(server.landing), LAKECTL_LAKE_ROOT=str(server.lake),
                       LAKECTL_SILVER__SALT_FILE=str(server.root / "salt"), LAKECTL_WATCH__MAX_ATTEMPTS="1",
                       LAKECTL_WATCH__STABILITY_WINDOW_S="0.2")  # fmt: skip
        watched = subprocess.run([sys.executable, "-m", "lakectl", "watch", "--once"], env=environ,
                                 cwd=server.root, capture_output=True, text=True, timeout=300)  # fmt: skip
        assert watched.returncode == 0, watched.stderr
        assert list((server.landing / "_quarantine" / "diabetes").glob("longe.xlsx"))
        assert server.request("GET", reply.headers["location"]).json()["status"] == "rejected"
    native = [
        line
        for line in server.log.read_text(errors="replace").splitlines()
        if line.startswith("memory allocation")
    ]
    assert native == [], "the native abort's own text on the console"
