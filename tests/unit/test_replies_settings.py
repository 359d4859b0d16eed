"""The replies service's own settings beyond the customer-service quota: the rule cap, and
how many fallbacks may wait on WeChat at once."""

from __future__ import annotations

import pytest

from services.replies.settings import DEFAULT_MAX_RULES, RepliesSettings
from shared.platform.settings import SettingsError


def test_a_tenant_may_have_ten_thousand_rules_unless_set_otherwise() -> None:
    assert DEFAULT_MAX_RULES == 10_000
    assert RepliesSettings.from_env({}).max_rules_per_tenant == 10_000
    assert RepliesSettings().max_rules_per_tenant == 10_000
    settings = RepliesSettings.from_env({"WXP_MAX_RULES_PER_TENANT": "250"})
    assert settings.max_rules_per_tenant == 250


@pytest.mark.parametrize("value", ["0", "-1", "many", "1.5"])
def test_a_cap_that_is_not_a_positive_integer_is_refused_naming_it(value: str) -> None:
    with pytest.raises(SettingsError, match="WXP_MAX_RULES_PER_TENANT"):
        RepliesSettings.from_env({"WXP_MAX_RULES_PER_TENANT": value})


def test_three_quarters_of_the_prefetch_may_fall_back_at_once_unless_set_otherwise() -> None:
    assert RepliesSettings.from_env({}).fallbacks_at_once == 24
    assert RepliesSettings.from_env({"WXP_PREFETCH": "100"}).fallbacks_at_once == 75
    assert RepliesSettings.from_env({"WXP_PREFETCH": "2"}).fallbacks_at_once == 1
    settings = RepliesSettings.from_env({"WXP_FALLBACKS_AT_ONCE": "3"})
    assert settings.fallbacks_at_once == 3


@pytest.mark.parametrize(
    "env",
    [
        {"WXP_FALLBACKS_AT_ONCE": "0"},
        {"WXP_FALLBACKS_AT_ONCE": "32"},  # the whole prefetch: passive replies could starve
        {"WXP_FALLBACKS_AT_ONCE": "some"},
        {"WXP_PREFETCH": "1"},  # no room for both
    ],
)
def test_fallbacks_that_could_fill_the_prefetch_are_refused_naming_the_setting(
    env: dict[str, str],
) -> None:
    with pytest.raises(SettingsError, match="WXP_FALLBACKS_AT_ONCE"):
        RepliesSettings.from_env(env)
