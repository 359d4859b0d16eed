"""``python -m services.scheduler``: settings from the environment, once; logs; serve."""

from __future__ import annotations

from services.scheduler.app import create_app
from services.scheduler.settings import SchedulerSettings
from shared.platform.service import main

if __name__ == "__main__":
    main("scheduler", SchedulerSettings.from_env, create_app)
