"""The replies service's own setting beyond the customer-service quota: the rule cap."""

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
