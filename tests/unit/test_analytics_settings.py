"""Analytics takes a prefetch sized to its cheap work unless ``WXP_PREFETCH`` says otherwise."""

from __future__ import annotations

from services.analytics.settings import PREFETCH, from_env


def test_analytics_prefetches_more_than_the_default_unless_told():
    assert from_env({}).prefetch == PREFETCH > 32
    assert from_env({"WXP_PREFETCH": "8"}).prefetch == 8
