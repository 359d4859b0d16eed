"""``python -m services.gateway``: settings from the environment, once; logs; serve."""

from __future__ import annotations

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from shared.platform.service import main

if __name__ == "__main__":
    main("gateway", GatewaySettings.from_env, create_app)
