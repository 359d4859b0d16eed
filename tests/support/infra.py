"""Where the real RabbitMQ and FerretDB are, and the keys `make test` exported."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from shared.platform.settings import DEFAULT_AMQP_URL, CommonSettings

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ROOT / "deploy" / "local"


TEST_VHOST = "wxp-test"  # created by deploy/local/start-infra.sh


def amqp_url() -> str:
    """AMQP_URL when set; else the local broker's test virtual host, apart from `make run`."""
    return os.environ.get("AMQP_URL") or DEFAULT_AMQP_URL.rstrip("/") + "/" + TEST_VHOST


TEST_MONGODB_URL = "mongodb://127.0.0.1:27018/"  # the tests' FerretDB (start-infra.sh)


def mongodb_url() -> str:
    """MONGODB_URL when set; else the local FerretDB kept for the tests, apart from `make run`."""
    return os.environ.get("MONGODB_URL") or TEST_MONGODB_URL


def reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), 2
        ):
            return True
    except OSError:
        return False


def master_key() -> str:
    key = os.environ.get("WXP_MASTER_KEY")
    if not key:
        raise RuntimeError("WXP_MASTER_KEY is not set: run the tests with `make test`")
    return key


def common_settings(**overrides: object) -> CommonSettings:
    values: dict[str, object] = {
        "amqp_url": amqp_url(),
        "mongodb_url": mongodb_url(),
        "master_key": master_key(),
        "admin_key": os.environ.get("WXP_ADMIN_KEY") or "test-admin-key",
        "public_url": "http://wx.test",
        "port": 0,
    }
    values.update(overrides)
    return CommonSettings(**values)  # type: ignore[arg-type]


def local_broker() -> bool:
    """True when the broker is the one deploy/local runs (so a test may stop and start it)."""
    return not os.environ.get("AMQP_URL")


def local_database() -> bool:
    """True when the database is the FerretDB deploy/local runs."""
    return not os.environ.get("MONGODB_URL")


async def run_command(*argv: str, timeout: float = 120) -> None:
    """Runs a command without blocking the event loop; fails on a non-zero exit."""
    process = await asyncio.create_subprocess_exec(*argv)
    code = await asyncio.wait_for(process.wait(), timeout)
    if code != 0:
        raise AssertionError(f"{' '.join(argv)} exited {code}")


async def run_output(*argv: str, timeout: float = 60) -> str:
    """A command's standard output, without blocking the event loop."""
    process = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(process.communicate(), timeout)
    if process.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {process.returncode}")
    return out.decode()


async def broker_app(action: str) -> None:
    """Stops or starts the local RabbitMQ application (deploy/local/rabbitmq.sh)."""
    await run_command(str(LOCAL / "rabbitmq.sh"), action)
