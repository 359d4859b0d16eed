"""The run's own servers: a RabbitMQ virtual host and a FerretDB of its own.

Other test runs share this machine's broker and database. Their services bind every
tenant's events to their queues, and their relays publish whatever the shared outbox
holds, into their own virtual host: they would take this run's events, and this run's
relays theirs. Apart, the run judges only what its own stack did, and killing its
FerretDB harms no other run (stopping the broker still does).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlparse

from shared.platform.storage import Client, mongo_client
from tests.conftest import session_alive
from tests.support.infra import LOCAL, ROOT, amqp_url, run_command, run_output
from tests.support.processes import free_port

RABBITMQ = str(LOCAL / "rabbitmq.sh")
FERRETDB = str(LOCAL / "ferretdb.sh")
PREFIX = "faults-"  # + the run's queue prefix: the virtual host wxp-faults-…, ferretdb-faults-…


@dataclass(frozen=True, slots=True)
class Servers:
    vhost: str
    database: str  # deploy/local/ferretdb.sh's NAME: its files are in var/NAME
    database_port: int
    mongo: Client  # the run's own look at its database (not through the proxy)

    def broker_url(self, address: str | None = None) -> str:
        """The run's virtual host, at ``address`` (a proxy route's) or directly."""
        broker = urlparse(amqp_url())
        credentials = f"{broker.username}:{broker.password}@" if broker.username else ""
        address = address or f"{broker.hostname}:{broker.port or 5672}"
        return broker._replace(netloc=credentials + address, path="/" + self.vhost).geturl()

    def mongodb_url(self, address: str | None = None) -> str:
        return f"mongodb://{address or f'127.0.0.1:{self.database_port}'}/"

    async def kill_database(self) -> None:
        await run_command(FERRETDB, "kill", self.database, str(self.database_port))

    async def start_database(self) -> None:
        await run_command(FERRETDB, "start", self.database, str(self.database_port))


@contextlib.asynccontextmanager
async def own_servers(queue_prefix: str) -> AsyncIterator[Servers]:
    await forget_leftovers()
    vhost, database, port = (
        f"wxp-{PREFIX}{queue_prefix}",
        f"ferretdb-{PREFIX}{queue_prefix}",
        free_port(),
    )
    await run_command(RABBITMQ, "add-vhost", vhost)
    try:
        await run_command(FERRETDB, "start", database, str(port))
        mongo = mongo_client(f"mongodb://127.0.0.1:{port}/", app_name="wxp-faults")
        try:
            yield Servers(vhost, database, port, mongo)
        finally:
            await mongo.close()
            await run_command(FERRETDB, "remove", database, str(port))
    finally:
        await run_command(RABBITMQ, "delete-vhost", vhost)


async def forget_leftovers() -> None:
    """The virtual hosts and databases of runs killed midway (their session is over)."""
    for name in (await run_output(RABBITMQ, "list-vhosts")).split():
        prefix = name.removeprefix(f"wxp-{PREFIX}")
        if name.startswith(f"wxp-{PREFIX}") and not session_alive(prefix):
            await run_command(RABBITMQ, "delete-vhost", name)
    for folder in (ROOT / "var").glob(f"ferretdb-{PREFIX}*"):
        if not session_alive(folder.name.removeprefix(f"ferretdb-{PREFIX}")):
            await run_command(FERRETDB, "remove", folder.name, "0")
