"""``python -m services.gateway``: settings from the environment, logs, serve."""

from __future__ import annotations

import sys

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from shared.logs import configure
from shared.runtime import serve
from shared.secretbox import SecretError
from shared.settings import SettingsError


def main() -> None:
    try:
        settings = GatewaySettings.from_env()
        configure("gateway", settings.common.log_level)
        app = create_app(settings)
    except (SettingsError, SecretError) as exc:
        sys.exit(f"gateway: {exc}")
    serve(app, settings.common)


if __name__ == "__main__":
    main()
