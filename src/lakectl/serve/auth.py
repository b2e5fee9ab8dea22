"""Who may call the API: Bearer tokens (scripts), a session cookie (the upload page), or the proxy.

Tokens come from ``serve.token`` (``LAKECTL_SERVE__TOKEN``) and ``serve.tokens_file`` (one per
line) and are compared in constant time against every configured token. A browser signs in once
with a token and gets an HttpOnly, SameSite=Strict session cookie; what it posts with that cookie
must also carry the page's CSRF token (a header a cross-site form cannot set), so another site
can never make the owner's browser upload. With ``serve.auth = "proxy"`` nginx basic auth has
already let the request in; the CSRF rule still holds for browser posts.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from lakectl.config import Settings
from lakectl.errors import ConfigError
from lakectl.transform.webhooks import any_secret, same_secret

SESSION_COOKIE = "lakectl_session"
SESSION_TTL_S = 12 * 3600
MIN_TOKEN = 16


def load_tokens(settings: Settings) -> list[str]:
    """Every accepted API token; a ConfigError when token auth has none, or one is too short."""
    serve = settings.serve
    tokens = [serve.token.get_secret_value().strip()] if serve.token else []
    if serve.tokens_file is not None:
        tokens += _read_tokens_file(serve.tokens_file)
    tokens = [t for t in tokens if t]
    if serve.auth == "token" and not tokens:
        raise ConfigError(
            "lakectl serve needs an API token",
            hint="set LAKECTL_SERVE__TOKEN (e.g. from 'openssl rand -hex 32') or serve.tokens_file, "
            "or serve.auth = 'proxy' behind nginx basic auth",
        )
    if any(len(t) < MIN_TOKEN for t in tokens):
        raise ConfigError(
            f"an API token is shorter than {MIN_TOKEN} characters",
            hint="use long random tokens, e.g. 'openssl rand -hex 32'",
        )
    return tokens


def _read_tokens_file(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(
            f"serve.tokens_file {path} cannot be read ({exc.strerror})",
            hint="create it with one token per line, readable by the lakectl user only",
        ) from None
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


@dataclass
class Guard:
    tokens: list[str]
    proxy: bool
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    sessions: dict[str, float] = field(default_factory=dict)

    def bearer_ok(self, authorization: str | None) -> bool:
        if not authorization or authorization[:7].lower() != "bearer ":
            return False
        return any_secret(authorization[7:].strip(), self.tokens)

    def session_ok(self, session: str | None) -> bool:
        if not session:
            return False
        expires = self.sessions.get(session)
        if expires is None or expires < time.time():
            self.sessions.pop(session, None)
            return False
        return True

    def sign_in(self, token: str) -> str | None:
        """A new session id for a valid token, else None."""
        if not any_secret(token.strip(), self.tokens):
            return None
        now = time.time()
        self.sessions = {sid: t for sid, t in self.sessions.items() if t > now}
        session = secrets.token_urlsafe(32)
        self.sessions[session] = now + SESSION_TTL_S
        return session

    def sign_out(self, session: str | None) -> None:
        if session:
            self.sessions.pop(session, None)

    def csrf_token(self, session: str | None) -> str:
        """Bound to the session (or, behind the proxy, to this server process)."""
        return hmac.new(self.secret, (session or "proxy").encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, session: str | None, given: str | None) -> bool:
        return same_secret(given, self.csrf_token(session))
