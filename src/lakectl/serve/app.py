"""The FastAPI app of `lakectl serve`: thin routes over the library.

Every route but ``/api/v1/health``, the sign-in page and the webhooks (which verify themselves)
needs a token. Answers never carry stack traces or server paths; a malformed body gets a 400
with the reason; request bodies and request time are bounded.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lakectl import __version__, events
from lakectl.config import Settings
from lakectl.errors import ConfigError, LakectlError
from lakectl.lake import Lake, ledger
from lakectl.serve import page
from lakectl.serve.auth import SESSION_COOKIE, SESSION_TTL_S, Guard, load_tokens
from lakectl.serve.metrics import Metrics
from lakectl.serve.service import Service, scrub
from lakectl.serve.uploads import STAGING, UploadError, discard, receive
from lakectl.service.heartbeat import health
from lakectl.service.watch import quarantined
from lakectl.transform import webhooks

log = logging.getLogger(__name__)

PUBLIC = ("/api/v1/health", "/login")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
MULTIPART_SLACK = 64 << 10  # part headers and the cluster field, on top of the file bytes
SHA256 = re.compile(r"^[0-9a-f]{64}$")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # with no-referrer, Chromium sends "Origin: null" on our own form
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'unsafe-inline'; img-src data: blob:; font-src data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}


def problem(status: int, error: str, hint: str | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": error, **({"hint": hint} if hint else {}), **extra}, status_code=status)


class TimeLimit:
    """Answer 408 when a request (slow upload included) runs past ``serve.request_timeout_s``."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app, self.seconds = app, seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await asyncio.wait_for(self.app(scope, receive, tracked), self.seconds)
        except TimeoutError:
            if not started:
                response = problem(408, f"the request took longer than {self.seconds:g} s",
                                   "send it again; large uploads need a faster link or serve.request_timeout_s")  # fmt: skip
                await response(scope, receive, send)


async def read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None when it is longer than ``limit`` bytes (read no further than that)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def create_app(settings: Settings) -> FastAPI:
    guard = Guard(load_tokens(settings), proxy=settings.serve.auth == "proxy")
    service = Service(settings)
    store = events.EventStore(settings)
    metrics = Metrics(settings)
    serve = settings.serve
    secrets_by_platform = {"hotmart": serve.hotmart_hottok, "kiwify": serve.kiwify_token,
                           "generic": serve.webhook_token}  # fmt: skip

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        (settings.landing_zone / STAGING).mkdir(parents=True, exist_ok=True)
        service.start()
        try:
            yield
        finally:
            await run_in_threadpool(service.stop)

    app = FastAPI(
        title="lakectl",
        version=__version__,
        docs_url="/api/docs" if serve.docs else None,
        openapi_url="/api/openapi.json" if serve.docs else None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.service = service

    @app.middleware("http")
    async def gate(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.monotonic()
        path = request.url.path
        if path not in PUBLIC and not path.startswith("/api/v1/webhooks/"):
            refused = _check(request)
            if refused is not None:
                return refused
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        route = request.scope.get("route")
        metrics.observe(getattr(route, "path", "unmatched"), time.monotonic() - started)
        return response

    def _check(request: Request) -> Response | None:
        by_bearer = guard.bearer_ok(request.headers.get("authorization"))
        session = request.cookies.get(SESSION_COOKIE)
        by_session = not by_bearer and guard.session_ok(session)
        if not (by_bearer or by_session or guard.proxy):
            if request.method == "GET" and request.url.path == "/":
                return RedirectResponse(f"/login?lang={page.language(request.query_params.get('lang'))}", 303)
            return problem(401, "authentication required", "send 'Authorization: Bearer <token>'")
        if request.method not in SAFE_METHODS and not by_bearer:
            given = request.headers.get("x-csrf-token") or request.query_params.get("csrf")
            if not guard.csrf_ok(session if by_session else None, given):
                return problem(403, "missing or wrong CSRF token", "reload the page and try again")
        return None

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        return problem(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> Response:
        reasons = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return problem(400, "invalid request: " + "; ".join(reasons))

    @app.exception_handler(LakectlError)
    async def lake_error(_: Request, exc: LakectlError) -> Response:
        status = 400 if isinstance(exc, ConfigError) else 503
        return problem(status, scrub(exc.message, settings) or "", scrub(exc.hint, settings))

    @app.exception_handler(Exception)
    async def crash(_: Request, exc: Exception) -> Response:
        incident = uuid.uuid4().hex[:12]
        log.error("internal error %s", incident, exc_info=exc)
        return problem(500, "internal error", f"the server log has the details (incident {incident})")

    router = APIRouter()

    # ---------------------------------------------------------------------------------- read side

    @router.get("/api/v1/health")
    async def liveness() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @router.get("/api/v1/ready")
    async def ready() -> Response:
        def checks() -> dict[str, Any]:
            lake = Lake.from_settings(settings)
            reachable = lake.reachable()
            if reachable and lake.ingest_log().exists():
                ledger.read(lake).height  # noqa: B018  (the ingest log opens and reads)
            fresh, _ = health(settings, serve.ready_max_heartbeat_s)
            return {"lake": reachable, "watcher": fresh}

        try:
            result = await run_in_threadpool(checks)
        except LakectlError as exc:
            result = {"lake": False, "watcher": False, "reason": scrub(exc.message, settings)}
        ok = result["lake"] and result["watcher"]
        if not result["watcher"]:
            result["reason"] = "the watcher's heartbeat is missing or older than serve.ready_max_heartbeat_s"
        return JSONResponse({"ready": ok, **result}, status_code=200 if ok else 503)

    @router.get("/metrics")
    async def prometheus() -> Response:
        return Response(await run_in_threadpool(metrics.render), media_type=CONTENT_TYPE_LATEST)

    @router.get("/api/v1/ingest-log")
    async def ingest_log(
        limit: int = Query(100, ge=1, le=10_000), cluster: str | None = None, status: str | None = None
    ) -> dict[str, Any]:
        def rows() -> list[dict[str, Any]]:
            import polars as pl

            frame = ledger.read(Lake.from_settings(settings)).drop("path")
            if cluster:
                frame = frame.filter(pl.col("cluster") == cluster)
            if status:
                frame = frame.filter(pl.col("status") == status)
            frame = frame.sort("finished_at", descending=True, nulls_last=True).head(limit)
            return [_jsonable(row) for row in frame.iter_rows(named=True)]

        return {"entries": await run_in_threadpool(rows)}

    @router.get("/api/v1/quarantine")
    async def quarantine() -> dict[str, Any]:
        keep = (
            "file",
            "cluster",
            "reason",
            "hint",
            "error_class",
            "sha256",
            "size",
            "quarantined_at",
            "present",
        )
        entries = await run_in_threadpool(quarantined, settings)
        return {"entries": [{k: scrub(e.get(k), settings) if k == "reason" else e.get(k) for k in keep}
                            for e in entries]}  # fmt: skip

    @router.get("/api/v1/report")
    async def report_json() -> Response:
        from lakectl.cli.render_report import to_json
        from lakectl.report import build_report

        text = await run_in_threadpool(lambda: to_json(build_report(settings)))
        return Response(text, media_type="application/json")

    @router.get("/", response_class=HTMLResponse)
    async def home(request: Request, lang: str | None = None) -> Response:
        from lakectl.cli.render_report import html_page
        from lakectl.report import build_report

        language = page.language(lang)
        session = request.cookies.get(SESSION_COOKIE)
        signed_in = guard.session_ok(session)
        csrf = guard.csrf_token(session if signed_in else None)
        locale = "pt-BR" if language == "pt" else "en"  # the report follows the page's language
        report = await run_in_threadpool(lambda: html_page(build_report(settings), locale))
        panel = page.upload_panel(language, settings.clusters, csrf, signed_in)
        return HTMLResponse(page.with_panel(report, panel, language))

    # ------------------------------------------------------------------------------- sign in/out

    @router.get("/login", response_class=HTMLResponse)
    async def login_form(lang: str | None = None) -> Response:
        if guard.proxy:
            return RedirectResponse("/", 303)
        return HTMLResponse(page.login_page(page.language(lang)))

    @router.post("/login")
    async def login(request: Request, lang: str | None = None) -> Response:
        language = page.language(lang)
        origin = request.headers.get("origin")
        if origin and origin.split("://", 1)[-1] != request.headers.get("host"):
            return problem(403, "sign-in from another site refused")
        body = await read_limited(request, 4096)
        from urllib.parse import parse_qs

        token = parse_qs((body or b"").decode("utf-8", "replace")).get("token", [""])[0]
        session = guard.sign_in(token)
        if session is None:
            log.warning("failed sign-in from %s", request.client.host if request.client else "?")
            return HTMLResponse(page.login_page(language, failed=True), status_code=401)
        response = RedirectResponse(f"/?lang={language}", 303)
        response.set_cookie(SESSION_COOKIE, session, max_age=SESSION_TTL_S, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https", path="/")  # fmt: skip
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        guard.sign_out(request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/login", 303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # ------------------------------------------------------------------------------------ uploads

    async def upload(request: Request, cluster: str | None, ingest: str | None) -> Response:
        if ingest not in (None, "now", "queue"):
            return problem(400, f"ingest={ingest!r} is not understood", "use ?ingest=now, or leave it out")
        limit = (serve.max_upload_mb << 20) + MULTIPART_SLACK
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            metrics.uploads.labels("too_large").inc()
            return problem(413, f"the upload is larger than {serve.max_upload_mb} MiB (serve.max_upload_mb)",
                           "split the export, or raise serve.max_upload_mb (and nginx client_max_body_size)")  # fmt: skip
        staging = settings.landing_zone / STAGING
        try:
            fields, staged = await receive(
                request.stream(), request.headers.get("content-type", ""), staging, limit
            )
        except UploadError as exc:
            metrics.uploads.labels("too_large" if exc.status == 413 else "malformed").inc()
            return problem(exc.status, exc.reason)
        target = cluster or fields.get("cluster", "").strip()
        if not staged or not target or target not in settings.clusters:
            discard(staged)
            if not staged:
                return problem(
                    400, "no file in the request", "send one or more multipart parts named 'files'"
                )
            return problem(400, f"unknown or missing cluster {target!r}",
                           f"send a 'cluster' field, one of: {', '.join(settings.clusters)}")  # fmt: skip
        try:
            results = await run_in_threadpool(service.take, staged, target, ingest == "now")
        finally:
            discard(staged)
        for result in results:
            metrics.uploads.labels(result["status"]).inc()
            log.info("upload %s/%s: %s%s", target, result["file"], result["status"],
                     f" ({result['reason']})" if result.get("reason") else "")  # fmt: skip
        statuses = {r["status"] for r in results}
        code = (
            422
            if statuses == {"rejected"}
            else 202
            if "queued" in statuses
            else 201
            if statuses == {"ingested"}
            else 200
        )
        return JSONResponse(
            {"files": results}, status_code=code, headers={"Location": results[0]["location"]}
        )

    @router.post("/api/v1/files")
    async def upload_files(request: Request, ingest: str | None = None) -> Response:
        return await upload(request, None, ingest)

    @router.post("/api/v1/clusters/{cluster}/files")
    async def upload_cluster_files(request: Request, cluster: str, ingest: str | None = None) -> Response:
        if cluster not in settings.clusters:
            return problem(
                404, f"unknown cluster {cluster!r}", f"known clusters: {', '.join(settings.clusters)}"
            )
        return await upload(request, cluster, ingest)

    @router.get("/api/v1/files/{sha256}")
    async def file_status(sha256: str) -> Response:
        if not SHA256.match(sha256):
            return problem(400, "not a SHA-256 (64 lower-case hex digits)")
        found = await run_in_threadpool(service.file_status, sha256)
        if found is None:
            return problem(404, "no file with this SHA-256 is known", "upload it with POST /api/v1/files")
        return JSONResponse(found)

    # ----------------------------------------------------------------------------------- webhooks

    @router.post("/api/v1/webhooks/{platform}/{cluster}")
    async def webhook(request: Request, platform: str, cluster: str) -> Response:
        if platform not in webhooks.PLATFORMS:
            return problem(
                404, f"no webhook for {platform!r}", f"use one of: {', '.join(webhooks.PLATFORMS)}"
            )
        body = await read_limited(request, serve.max_body_kb << 10)
        if body is None:
            metrics.webhooks.labels(platform, "too_large").inc()
            return problem(413, f"the body is larger than {serve.max_body_kb} KiB (serve.max_body_kb)")
        secret = secrets_by_platform[platform]
        try:
            webhooks.verify(platform, body, request.headers, request.query_params,
                            secret.get_secret_value() if secret else None)  # fmt: skip
            if cluster not in settings.clusters:
                raise webhooks.WebhookError(404, f"unknown cluster {cluster!r}")
            event = webhooks.parse(platform, body)
        except webhooks.WebhookError as exc:
            metrics.webhooks.labels(platform, "refused" if exc.status in (401, 404) else "malformed").inc()
            log.warning("webhook %s/%s refused (%d): %s", platform, cluster, exc.status, exc.reason)
            return problem(exc.status, exc.reason)
        version = await run_in_threadpool(store.record, cluster, event, body)
        answer = {"event_id": event.event_id, "event_type": event.event_type,
                  "transaction_id": event.fields.get("transaction_id"), "sale_status": event.status}  # fmt: skip
        if version is None:  # a re-sent or replayed delivery: already stored, applied once
            metrics.webhooks.labels(platform, "duplicate").inc()
            return JSONResponse({"status": "duplicate", "applied": False, **answer})
        metrics.webhooks.labels(platform, "stored").inc()
        if event.status is not None:
            service.promoter.request(cluster)
        return JSONResponse({"status": "stored", "applied": event.status is not None, **answer})

    app.include_router(router)
    app.add_middleware(TimeLimit, seconds=serve.request_timeout_s)  # outermost: bounds everything
    return app


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
