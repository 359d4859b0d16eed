"""Talking to the services' APIs for the CLI: requests, errors, tables."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any


class CliError(Exception):
    pass


def request(
    method: str,
    url: str,
    *,
    key: str | None = None,
    body: bytes | None = None,
    content_type: str = "application/json",
) -> tuple[int, bytes]:
    headers = {"Content-Type": content_type}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except urllib.error.URLError as exc:
        raise CliError(f"cannot reach {url}: {exc.reason}") from None


def api(method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
    base = os.environ.get("WXP_URL", "http://127.0.0.1:8080").rstrip("/")
    key = os.environ.get("WXP_API_KEY") or os.environ.get("WXP_ADMIN_KEY")
    body = json.dumps(payload).encode() if payload is not None else None
    status, raw = request(method, base + path, key=key, body=body)
    try:
        data = json.loads(raw) if raw else None
    except json.JSONDecodeError:
        data = None
    if status >= 400:
        error = data.get("error", {}) if isinstance(data, dict) else {}
        raise CliError(f"{status} {error.get('code', 'error')}: {error.get('message', raw[:200])}")
    return data


def table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    widths = [max([len(c)] + [len(str(r.get(c, ""))) for r in rows]) for c in columns]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += [
        "  ".join(str(r.get(c, "")).ljust(w) for c, w in zip(columns, widths, strict=True))
        for r in rows
    ]
    return "\n".join(lines)


def base_url() -> str:
    return os.environ.get("WXP_URL", "http://127.0.0.1:8080").rstrip("/")
