"""An in-process replies service (the real app) next to the in-process gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.replies.app import create_app
from services.replies.settings import RepliesSettings
from shared.platform.settings import ConsumerSettings
from tests.gateway.conftest import ADMIN_KEY, gateway, http, new_account  # noqa: F401
from tests.support.fake_wechat import FakeWeChat
from tests.support.gateway import served
from tests.support.infra import common_settings


@pytest.fixture(scope="module")  # it answers every passive-reply request while it runs
async def replies(
    infra: None, queue_prefix: str, fake_server: tuple[FakeWeChat, str]
) -> AsyncIterator[str]:
    """Calling the module's fake WeChat (customer-service messages: the inbox's replies)."""
    common = common_settings(
        admin_key=ADMIN_KEY,
        api_rate_per_second=1000.0,
        api_burst=1000.0,
        wechat_api_base=fake_server[1],
    )
    app = create_app(
        RepliesSettings(consumer=ConsumerSettings(common=common, queue_prefix=queue_prefix))
    )
    async with served(app) as base:
        yield base
