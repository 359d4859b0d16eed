"""Settings are read from the environment once, in ``main``: every ``from_env`` takes the
environment as a mapping, so these tests give it one and never touch ``os.environ``."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.analytics.settings import from_env as analytics_from_env
from services.gateway.settings import GatewaySettings
from services.replies.settings import RepliesSettings
from services.scheduler.settings import SchedulerSettings
from shared.platform.settings import (
    DEFAULT_AMQP_URL,
    DEFAULT_MONGODB_URL,
    DEFAULT_WECHAT_API_BASE,
    CommonSettings,
    SettingsError,
)


def test_an_empty_environment_gives_the_documented_defaults():
    common = CommonSettings.from_env({}, port_var="GATEWAY_PORT", port=8080)
    assert (common.amqp_url, common.mongodb_url) == (DEFAULT_AMQP_URL, DEFAULT_MONGODB_URL)
    assert common.wechat_api_base == DEFAULT_WECHAT_API_BASE == "https://api.weixin.qq.com"
    assert (common.host, common.port, common.log_level) == ("127.0.0.1", 8080, "INFO")
    assert common.public_url == "http://127.0.0.1:8080"
    assert (common.master_key, common.admin_key) == ("", "")


def test_every_common_variable_is_read():
    env = {
        "AMQP_URL": "amqp://u:p@rabbit:5672/v",
        "MONGODB_URL": "mongodb://mongo:27017/",
        "WXP_MASTER_KEY": "mk",
        "WXP_ADMIN_KEY": "ak",
        "WECHAT_API_BASE": "http://fake:9000/",
        "WXP_PUBLIC_URL": "https://wx.example/",
        "LOG_LEVEL": "debug",
        "WXP_HOST": "localhost",
        "REPLIES_PORT": "9001",
        "WXP_SHUTDOWN_GRACE_SECONDS": "2.5",
        "WXP_API_RATE_PER_SECOND": "7",
        "WXP_API_BURST": "9",
    }
    common = CommonSettings.from_env(env, port_var="REPLIES_PORT", port=8081)
    assert common == CommonSettings(
        amqp_url="amqp://u:p@rabbit:5672/v",
        mongodb_url="mongodb://mongo:27017/",
        master_key="mk",
        admin_key="ak",
        wechat_api_base="http://fake:9000",
        public_url="https://wx.example",
        log_level="DEBUG",
        host="localhost",
        port=9001,
        shutdown_grace_seconds=2.5,
        api_rate_per_second=7.0,
        api_burst=9.0,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [("GATEWAY_PORT", "80a"), ("WXP_SHUTDOWN_GRACE_SECONDS", "soon"), ("WXP_API_BURST", "1,5")],
)
def test_a_malformed_number_is_refused_naming_the_variable(name, value):
    with pytest.raises(SettingsError, match=name):
        CommonSettings.from_env({name: value}, port_var="GATEWAY_PORT", port=8080)


def test_the_gateway_reads_its_webhook_limits():
    settings = GatewaySettings.from_env(
        {
            "GATEWAY_PORT": "18080",
            "WXP_REPLY_DEADLINE_SECONDS": "2",
            "WXP_TIMESTAMP_TOLERANCE_SECONDS": "60",
            "WXP_MAX_BODY_BYTES": "1024",
            "WXP_DEDUP_WINDOW_SECONDS": "120",
            "WXP_RELAY_INTERVAL_SECONDS": "0.5",
            "WXP_TENANT_CACHE_SECONDS": "1",
            "WXP_QUEUE_PREFIX": "stage",
            "WXP_AES_KEY_GRACE_SECONDS": "3600",
        }
    )
    assert settings.common.port == 18080
    assert (settings.reply_deadline_seconds, settings.timestamp_tolerance_seconds) == (2.0, 60.0)
    assert (settings.max_body_bytes, settings.dedup_window_seconds) == (1024, 120.0)
    assert (settings.relay_interval_seconds, settings.tenant_cache_seconds) == (0.5, 1.0)
    assert (settings.queue_prefix, settings.aes_key_grace_seconds) == ("stage", 3600.0)
    assert GatewaySettings.from_env({}) == GatewaySettings(
        common=CommonSettings.from_env({}, port_var="GATEWAY_PORT", port=8080)
    )


def test_the_replies_service_reads_wechats_customer_service_window_and_quota():
    settings = RepliesSettings.from_env(
        {
            "WXP_CS_MESSAGE_WINDOW_HOURS": "24",
            "WXP_CS_MESSAGE_LIMIT": "2",
            "WXP_CS_EVENT_WINDOW_SECONDS": "30",
            "WXP_CS_EVENT_LIMIT": "1",
            "WXP_QUEUE_PREFIX": "stage",
            "WXP_PREFETCH": "8",
        }
    )
    quota = settings.quota
    assert (quota.message_window, quota.message_limit) == (timedelta(hours=24), 2)
    assert (quota.event_window, quota.event_limit) == (timedelta(seconds=30), 1)
    assert (settings.consumer.queue_prefix, settings.consumer.prefetch) == ("stage", 8)
    assert settings.common.port == 8081
    defaults = RepliesSettings.from_env({}).quota
    assert (defaults.message_window, defaults.message_limit) == (timedelta(hours=48), 5)
    assert (defaults.event_window, defaults.event_limit) == (timedelta(minutes=1), 3)
    with pytest.raises(SettingsError, match="WXP_CS_MESSAGE_LIMIT"):
        RepliesSettings.from_env({"WXP_CS_MESSAGE_LIMIT": "five"})


def test_each_consumer_service_has_its_own_port_variable():
    assert SchedulerSettings.from_env({}).common.port == 8082
    assert analytics_from_env({}).common.port == 8083
    assert SchedulerSettings.from_env({"SCHEDULER_PORT": "9082"}).common.port == 9082
    assert (
        analytics_from_env({"ANALYTICS_PORT": "9083", "WXP_QUEUE_PREFIX": "x"}).queue_prefix == "x"
    )


def test_scheduler_settings_refuse_a_claim_too_short_for_a_send():
    with pytest.raises(SettingsError, match="CLAIM"):
        SchedulerSettings.from_env({"WXP_SCHEDULER_CLAIM_SECONDS": "20"})
    settings = SchedulerSettings.from_env({"WXP_BROADCAST_MAX_TEXT": "500"})
    assert settings.limits.max_text == 500
    assert settings.claim_seconds == 60.0
