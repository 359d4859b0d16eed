"""``python -m services.replies``."""

from services.replies.consumer import build
from shared.runtime import main

if __name__ == "__main__":
    main("replies", "REPLIES_PORT", 8081, build)
