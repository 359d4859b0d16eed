"""The bench removes the tenants an earlier run left in the tests' FerretDB, with their
databases, and no other tenant (against the real FerretDB)."""

from __future__ import annotations

import secrets

from shared.platform.storage import CONTROL_DB, Client, tenant_db_name
from tests.bench.stack import delete_leftovers


async def test_an_earlier_runs_tenants_go_with_their_databases_and_no_other(
    mongo: Client,
) -> None:
    tag = f"lo{secrets.token_hex(3)}"
    names = {
        f"{tag}-a": "Analytics bench",
        f"{tag}-b": "Bench account 7",
        f"{tag}-c": "Scheduler bench",
        f"{tag}-d": "Bench account of a customer",  # a customer's: not the bench's
        f"{tag}-e": "Analytics bench 2",
    }
    tenants = mongo[CONTROL_DB].tenants
    await tenants.insert_many([{"_id": tid, "name": name} for tid, name in names.items()])
    for tid in names:
        await mongo[tenant_db_name(tid)].facts.insert_one({"_id": 1})
    try:
        assert await delete_leftovers() >= 3  # earlier runs' leftovers on this machine too

        found = await tenants.find({"_id": {"$regex": f"^{tag}-"}}).to_list()
        assert {doc["_id"] for doc in found} == {f"{tag}-d", f"{tag}-e"}
        databases = set(await mongo.list_database_names())
        assert {tenant_db_name(t) for t in names} & databases == {
            tenant_db_name(f"{tag}-d"),
            tenant_db_name(f"{tag}-e"),
        }
        assert await delete_leftovers() == 0
    finally:
        await tenants.delete_many({"_id": {"$regex": f"^{tag}-"}})
        for tid in names:
            await mongo.drop_database(tenant_db_name(tid))
