"""``python -m services.scheduler``."""

from services.scheduler.consumer import build
from shared.runtime import main

if __name__ == "__main__":
    main("scheduler", "SCHEDULER_PORT", 8082, build)
