"""At most ``WXP_MAX_RULES_PER_TENANT`` rules per tenant: 422 beyond it, over the real
database, and never more than the cap when creates race, in one replica or across two."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest

from services.replies.app import create_app
from services.replies.repository import COLLECTION, RuleRepository
from services.replies.settings import RepliesSettings
from shared.platform.settings import ConsumerSettings
from shared.platform.storage import Client
from tests.gateway.conftest import ADMIN_KEY
from tests.replies.test_rules_api import call, rule
from tests.support.gateway import served
from tests.support.infra import common_settings

CAP = 3


@pytest.fixture
async def capped_replies(infra: None, queue_prefix: str) -> AsyncIterator[str]:
    """A replies service whose tenants may have ``CAP`` rules."""
    common = common_settings(admin_key=ADMIN_KEY, api_rate_per_second=1000.0, api_burst=1000.0)
    consumer = ConsumerSettings(common=common, queue_prefix=queue_prefix)
    app = create_app(RepliesSettings(consumer=consumer, max_rules_per_tenant=CAP))
    async with served(app) as base:
        yield base


async def test_a_create_beyond_the_cap_is_refused_and_stores_nothing(
    capped_replies, http, new_account
):
    account = await new_account("plain")
    base = f"{capped_replies}/api/tenants/{account.tenant_id}/rules"
    created = [(await call(http, "POST", base, rule(f"k{n}", "r")))[1] for n in range(CAP)]

    status, error = await call(http, "POST", base, rule("one more", "r"))

    assert status == 422
    assert error["error"]["code"] == "too_many_rules"
    assert f"at most {CAP} rules" in error["error"]["message"]
    _, listed = await call(http, "GET", base)
    assert len(listed["items"]) == CAP
    assert (await call(http, "DELETE", f"{base}/{created[0]['id']}"))[0] == 204
    assert (await call(http, "POST", base, rule("in its place", "r")))[0] == 201


async def test_concurrent_creates_in_one_replica_fill_the_cap_exactly(
    capped_replies, http, new_account
):
    account = await new_account("plain")
    base = f"{capped_replies}/api/tenants/{account.tenant_id}/rules"
    await call(http, "POST", base, rule("first", "r"))

    answers = await asyncio.gather(
        *(call(http, "POST", base, rule(f"k{n}", "r")) for n in range(8))
    )

    assert sorted(status for status, _ in answers) == [201] * (CAP - 1) + [422] * (9 - CAP)
    assert len((await call(http, "GET", base))[1]["items"]) == CAP


@pytest.fixture
async def tenant_rules(mongo: Client) -> AsyncIterator[str]:
    tenant_id = f"tcap{secrets.token_hex(4)}"
    yield tenant_id
    await mongo.drop_database(f"wxp_t_{tenant_id}")


@pytest.mark.parametrize("round_", range(5))
async def test_creates_racing_on_two_replicas_never_keep_more_than_the_cap(
    mongo: Client, tenant_rules: str, round_: int
) -> None:
    replicas = [RuleRepository(mongo), RuleRepository(mongo)]  # a lock each, as two processes
    await replicas[0].create(tenant_rules, rule("first", "r"), limit=CAP)

    created = await asyncio.gather(
        *(replicas[n % 2].create(tenant_rules, rule(f"k{n}", "r"), limit=CAP) for n in range(8))
    )

    kept = await mongo[f"wxp_t_{tenant_rules}"][COLLECTION].count_documents({})
    assert kept <= CAP
    assert sum(1 for rule_ in created if rule_ is not None) == kept - 1  # refused ones left none
