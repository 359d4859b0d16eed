"""Services as real processes (`python -m services.<name>`), for end-to-end tests."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.infra import ROOT, amqp_url, master_key, mongodb_url

PORT_VARS = {
    "gateway": "GATEWAY_PORT",
    "replies": "REPLIES_PORT",
    "scheduler": "SCHEDULER_PORT",
    "analytics": "ANALYTICS_PORT",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServiceProcess:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def last_lines(self, chars: int = 3000) -> str:
        """The end of the log, named, for a failure message (CI keeps no log files)."""
        return f"--- {self.name} (pid {self.process.pid}):\n{self.log()[-chars:]}"

    def terminate(self, timeout: float = 20.0) -> int:
        """SIGTERM, then wait; returns the exit code (kills after ``timeout``)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL: no shutdown work at all, as in a crash or an OOM kill."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)

    def replacement(self) -> ServiceProcess:
        """A new process of the same service with the same settings, on a port of its own."""
        env = {**self.env, PORT_VARS[self.name]: str(free_port())}
        return _spawn(self.name, env)


def start_service(
    name: str, *, queue_prefix: str, admin_key: str, **extra_env: str
) -> ServiceProcess:
    port = free_port()
    env = {
        **os.environ,
        "AMQP_URL": amqp_url(),
        "MONGODB_URL": mongodb_url(),
        "WXP_MASTER_KEY": master_key(),
        "WXP_ADMIN_KEY": admin_key,
        "WXP_QUEUE_PREFIX": queue_prefix,
        PORT_VARS[name]: str(port),
        "LOG_LEVEL": "INFO",
        "WXP_PUBLIC_URL": "http://wx.test",
        **extra_env,
    }
    return _spawn(name, env)


PROFILE_VAR = "WXP_PROFILE_DIR"  # set: each service runs under cProfile, its stats there


def _spawn(name: str, env: dict[str, str]) -> ServiceProcess:
    log_file = tempfile.NamedTemporaryFile(prefix=f"wxp-{name}-", suffix=".log", delete=False)  # noqa: SIM115
    profile: list[str] = []
    if env.get(PROFILE_VAR):
        stats = f"{env[PROFILE_VAR]}/{name}-{secrets.token_hex(3)}.prof"
        profile = ["-m", "cProfile", "-o", stats]
    process = subprocess.Popen(
        [sys.executable, *profile, "-m", f"services.{name}"],
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    port = int(env[PORT_VARS[name]])
    return ServiceProcess(
        name=name, port=port, process=process, log_path=Path(log_file.name), env=env
    )
