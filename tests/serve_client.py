"""A real `lakectl serve` process on a free loopback port, and a stdlib HTTP client for it."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .tools import stop

TOKEN = "test-token-0123456789abcdef"
HOTTOK = "hottok-0123456789"
KIWIFY = "kiwify-token-abcdef"
HOOK = "generic-hook-token-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Server:
    port: int
    root: Path
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def landing(self) -> Path:
        return self.root / "landing_zone"

    @property
    def lake(self) -> Path:
        return self.root / "lake"

    def request(self, method: str, path: str, body: bytes | Any = b"", headers: dict[str, str] | None = None,
                token: str | None = TOKEN, chunked: bool = False) -> Reply:  # fmt: skip
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        try:
            conn.request(method, path, body=body, headers=sent, encode_chunked=chunked)
            response = conn.getresponse()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            conn.close()

    def upload(self, files: list[tuple[str, bytes]], cluster: str | None = "diabetes", query: str = "",
               **kwargs: Any) -> Reply:  # fmt: skip
        body, content_type = multipart({"cluster": cluster} if cluster else {}, files)
        headers = {"Content-Type": content_type, **kwargs.pop("headers", {})}
        return self.request("POST", "/api/v1/files" + query, body, headers, **kwargs)


def multipart(fields: dict[str, str], files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = bytearray()
    for name, value in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    for filename, data in files:
        # as browsers do (WHATWG multipart/form-data): quote, CR and LF percent-encoded
        quoted = filename.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{quoted}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n").encode()  # fmt: skip
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


@contextlib.contextmanager
def running(root: Path, prefix: tuple[str, ...] = (), **env: str) -> Iterator[Server]:
    """`python -m lakectl serve` with its own landing zone and lake under ``root`` (``prefix``:
    e.g. ``("taskset", "-c", "0")`` to pin it to one core)."""
    port = free_port()
    root.mkdir(parents=True, exist_ok=True)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LAKECTL_")}
    environ.update(
        LAKECTL_LANDING_ZONE=str(root / "landing_zone"),
        LAKECTL_LAKE_ROOT=str(root / "lake"),
        LAKECTL_SILVER__SALT_FILE=str(root / "salt"),
        LAKECTL_SERVE__TOKEN=TOKEN,
        LAKECTL_SERVE__HOTMART_HOTTOK=HOTTOK,
        LAKECTL_SERVE__KIWIFY_TOKEN=KIWIFY,
        LAKECTL_SERVE__WEBHOOK_TOKEN=HOOK,
        LAKECTL_READER__ISOLATE="false",
    )
    environ.update(env)
    log = root / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen([*prefix, sys.executable, "-m", "lakectl", "serve", "--port", str(port)],
                                   cwd=root, env=environ, stdout=sink, stderr=subprocess.STDOUT)  # fmt: skip
    server = Server(port, root, process, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"lakectl serve exited {process.returncode}: {log.read_text()}")
            with contextlib.suppress(OSError):
                if server.request("GET", "/api/v1/health", token=None).status == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"lakectl serve did not start: {log.read_text()}")
            time.sleep(0.1)
        yield server
    finally:
        stop(process, timeout=30)
