"""Argument types the command groups share: what the operator typed, checked by the parser
before anything is sent (a bad value gets the usage and exit code 2)."""

from __future__ import annotations

import argparse

from shared.contracts.tenancy import TENANT_ID_HINT, TENANT_ID_RE


def tenant_id(text: str) -> str:
    if not TENANT_ID_RE.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a tenant id ({TENANT_ID_HINT})")
    return text
