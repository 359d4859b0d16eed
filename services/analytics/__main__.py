"""``python -m services.analytics``: settings from the environment, once; logs; serve."""

from __future__ import annotations

from services.analytics.app import create_app
from services.analytics.settings import AnalyticsSettings
from shared.platform.service import main

if __name__ == "__main__":
    main("analytics", AnalyticsSettings.from_env, create_app)
