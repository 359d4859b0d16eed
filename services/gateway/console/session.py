"""The console's sign-in session: a sealed, HttpOnly, SameSite=Strict cookie. Pure.

The cookie holds the API key sealed with the master key (AES-GCM, its own context), so
any gateway replica opens it and nothing in the browser can read it. Each session has
its own CSRF token, sent back with every change."""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.platform.secretbox import SecretBox, SecretError

SESSION_COOKIE = "wxp_session"
LANG_COOKIE = "wxp_lang"
CONTEXT = "console:session"
LIFETIME = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class Session:
    key: str
    csrf: str
    expires_at: datetime

    @classmethod
    def start(cls, key: str, *, now: datetime) -> Session:
        return cls(key=key, csrf=secrets.token_urlsafe(24), expires_at=now + LIFETIME)

    def seal(self, box: SecretBox) -> str:
        body = {"key": self.key, "csrf": self.csrf, "exp": self.expires_at.isoformat()}
        return box.seal(json.dumps(body), CONTEXT)

    @classmethod
    def open(cls, box: SecretBox, cookie: str | None, *, now: datetime) -> Session | None:
        """The session in ``cookie``; ``None`` when absent, forged, broken or expired."""
        if not cookie:
            return None
        try:
            body = json.loads(box.open(cookie, CONTEXT))
            session = cls(
                key=str(body["key"]),
                csrf=str(body["csrf"]),
                expires_at=datetime.fromisoformat(body["exp"]),
            )
        except (SecretError, ValueError, KeyError, TypeError):
            return None
        return session if session.expires_at > now else None

    def allows(self, token: str | None) -> bool:
        """Whether a change carries this session's CSRF token."""
        return token is not None and hmac.compare_digest(token.encode(), self.csrf.encode())
