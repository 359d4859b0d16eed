"""``python -m services.analytics``."""

from services.analytics.consumer import build
from shared.runtime import main

if __name__ == "__main__":
    main("analytics", "ANALYTICS_PORT", 8083, build)
