"""``python -m services.replies``: settings from the environment, once; logs; serve."""

from __future__ import annotations

from services.replies.app import create_app
from services.replies.settings import RepliesSettings
from shared.platform.service import main

if __name__ == "__main__":
    main("replies", RepliesSettings.from_env, create_app)
