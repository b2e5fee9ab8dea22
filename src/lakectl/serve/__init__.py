"""`lakectl serve`: the HTTP API, the upload page and the platform webhooks (FastAPI + uvicorn)."""

from __future__ import annotations

import ipaddress
import logging

from lakectl.config import Settings

log = logging.getLogger(__name__)


def run(settings: Settings) -> None:
    """Serve until SIGTERM/SIGINT (uvicorn stops gracefully and the app drains its promoter)."""
    import uvicorn

    from lakectl.serve.app import create_app

    app = create_app(settings)  # a ConfigError (no token) stops us before binding
    host, port = settings.serve.host, settings.serve.port
    if settings.serve.auth == "proxy" and not _loopback(host):
        log.warning("serve.auth = 'proxy' on %s: only safe when nginx is the only way in", host)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,  # our logging (cli._service_logging)
        access_log=True,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        server_header=False,
        timeout_keep_alive=5,
        limit_concurrency=100,
        timeout_graceful_shutdown=10,
    )


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
