"""Which rule answers a message: pure matching over compiled rule sets."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.replies.automaton import Automaton
from services.replies.matching import Inbound, RuleSet, normalise
from services.replies.rules import Rule
from services.replies.validation import validate_rule

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOON = datetime(2026, 3, 6, 12, 0, tzinfo=SHANGHAI)  # a Friday


def rule(name: str, trigger: dict[str, Any], priority: int = 0, **extra: Any) -> Rule:
    data = {"name": name, "priority": priority, "enabled": True, "trigger": trigger}
    reply = {} if "replies" in extra else {"reply": {"type": "text", "content": name}}
    return validate_rule({**data, **reply, **extra})


def kw(name: str, match: str, pattern: str, priority: int = 0, **extra: Any) -> Rule:
    return rule(name, {"kind": "keyword", "match": match, "pattern": pattern}, priority, **extra)


def text(content: str) -> Inbound:
    return Inbound("msg", "text", "o1", content=content, msgtype="text")


def event(kind: str, key: str | None = None, scene: str | None = None) -> Inbound:
    return Inbound("event", kind, "o1", event_key=key, scene=scene, msgtype="event")


def winner(rules: list[Rule], inbound: Inbound, now: datetime = NOON) -> str | None:
    found = RuleSet.compile(rules, tz=SHANGHAI).match(inbound, now)
    return None if found is None else found.name


def test_normalise_folds_width_case_and_space() -> None:
    assert normalise("  ＰＲＩＣＥ\u3000") == "price"
    assert normalise("Straße") == "strasse"
    assert normalise("价格？") == "价格?"


def test_automaton_reports_every_overlapping_pattern() -> None:
    found = sorted(Automaton(["he", "she", "his", "hers"]).find("ushers"))
    assert found == [(0, 3), (1, 3), (3, 5)]


@pytest.mark.parametrize(
    ("match", "pattern", "message", "hit"),
    [
        ("exact", "price", "ＰＲＩＣＥ", True),
        ("exact", "price", " Price ", True),
        ("exact", "price", "price list", False),
        ("prefix", "price", "Price list", True),
        ("prefix", "price", "the price", False),
        ("contains", "价格", "请问价格多少", True),
        ("contains", "价格", "价钱", False),
        ("contains", "ｗｉｆｉ", "WiFi password?", True),
        ("regex", r"^\d{6}$", "１２３４５６", True),
        ("regex", r"order\s+\d+", "ORDER 12", True),
        ("regex", r"^\d{6}$", "12345", False),
    ],
)
def test_keyword_modes(match: str, pattern: str, message: str, hit: bool) -> None:
    assert (winner([kw("k", match, pattern)], text(message)) == "k") is hit


def test_highest_priority_wins_across_modes() -> None:
    rules = [
        kw("exact", "exact", "price list", 1),
        kw("contains", "contains", "list", 5),
        kw("prefix", "prefix", "price", 3),
        kw("regex", "regex", "^price", 4),
    ]
    assert winner(rules, text("price list")) == "contains"
    assert winner(rules, text("price")) == "regex"
    assert winner(rules[:3], text("price")) == "prefix"


def test_ties_go_to_the_earlier_rule() -> None:
    rules = [
        kw("first", "contains", "a"),
        kw("second", "contains", "b"),
        kw("third", "exact", "ab"),
    ]
    assert winner(rules, text("ab")) == "first"
    assert winner(rules[::-1], text("ab")) == "third"


def test_disabled_rules_never_match() -> None:
    off = dataclasses.replace(kw("off", "exact", "hi", 9), enabled=False)
    assert winner([off, kw("on", "exact", "hi")], text("hi")) == "on"
    assert winner([off], text("hi")) is None


def test_default_only_when_nothing_else_matches() -> None:
    rules = [rule("default", {"kind": "default"}, 100), kw("hello", "exact", "hello")]
    assert winner(rules, text("hello")) == "hello"
    assert winner(rules, text("anything")) == "default"
    assert winner(rules, Inbound("msg", "image", "o1", msgtype="image")) == "default"
    assert winner(rules, event("subscribe")) is None


def test_msgtype_rules() -> None:
    rules = [rule("img", {"kind": "msgtype", "msgtype": "image"}), rule("d", {"kind": "default"})]
    assert winner(rules, Inbound("msg", "image", "o1", msgtype="image")) == "img"
    assert winner(rules, Inbound("msg", "voice", "o1", msgtype="voice")) == "d"


def test_click_matches_the_exact_key() -> None:
    rules = [rule("menu", {"kind": "click", "key": "MENU_1"})]
    assert winner(rules, event("CLICK", key="MENU_1")) == "menu"
    assert winner(rules, event("click", key="MENU_2")) is None
    assert winner(rules, text("MENU_1")) is None


@pytest.mark.parametrize("kind", ["subscribe", "scan"])
def test_a_matching_scene_beats_a_sceneless_rule(kind: str) -> None:
    rules = [
        rule("any", {"kind": kind}, priority=50),
        rule("shop", {"kind": kind, "scene": "shop"}),
        rule("fair", {"kind": kind, "scene": "fair"}),
    ]
    assert winner(rules, event(kind, scene="shop")) == "shop"
    assert winner(rules, event(kind, scene="other")) == "any"
    assert winner(rules, event(kind)) == "any"
    assert winner(rules[1:], event(kind)) is None


def test_scene_rule_outside_its_hours_falls_back_to_sceneless() -> None:
    night = {"start": "22:00", "end": "06:00"}
    scened = rule("s", {"kind": "subscribe", "scene": "s"}, active_hours=night)
    rules = [rule("any", {"kind": "subscribe"}), scened]
    assert winner(rules, event("subscribe", scene="s")) == "any"
    late = datetime(2026, 3, 6, 23, 0, tzinfo=SHANGHAI)
    assert winner(rules, event("subscribe", scene="s"), late) == "s"


def test_active_windows_across_midnight_and_days() -> None:
    night = {"start": "22:00", "end": "02:00", "days": [5]}  # Friday night
    rules = [kw("night", "exact", "hi", 9, active_hours=night), kw("day", "exact", "hi")]
    at = [
        (datetime(2026, 3, 6, 21, 59, tzinfo=SHANGHAI), "day"),
        (datetime(2026, 3, 6, 22, 0, tzinfo=SHANGHAI), "night"),
        (datetime(2026, 3, 7, 1, 59, tzinfo=SHANGHAI), "night"),  # Saturday, still Friday's
        (datetime(2026, 3, 7, 2, 0, tzinfo=SHANGHAI), "day"),
        (datetime(2026, 3, 7, 22, 30, tzinfo=SHANGHAI), "day"),  # Saturday night
        (datetime(2026, 3, 6, 0, 30, tzinfo=SHANGHAI), "day"),  # Thursday's night
    ]
    assert [winner(rules, text("hi"), now) for now, _ in at] == [name for _, name in at]


def test_now_is_converted_to_the_tenant_timezone() -> None:
    office = {"start": "09:00", "end": "18:00"}
    rules = [kw("office", "exact", "hi", 1, active_hours=office), kw("closed", "exact", "hi")]
    utc_morning = datetime(2026, 3, 6, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    assert winner(rules, text("hi"), utc_morning) == "office"
    paris = RuleSet.compile(rules, tz=ZoneInfo("Europe/Paris"))
    assert paris.match(text("hi"), utc_morning) == rules[1]  # 03:00 in Paris


def test_whole_day_window_on_chosen_days() -> None:
    weekend = {"start": "00:00", "end": "00:00", "days": [6, 7]}
    rules = [kw("weekend", "exact", "hi", 1, active_hours=weekend), kw("week", "exact", "hi")]
    assert winner(rules, text("hi"), datetime(2026, 3, 7, 0, 0, tzinfo=SHANGHAI)) == "weekend"
    assert winner(rules, text("hi"), datetime(2026, 3, 8, 23, 59, tzinfo=SHANGHAI)) == "weekend"
    assert winner(rules, text("hi"), datetime(2026, 3, 9, 0, 0, tzinfo=SHANGHAI)) == "week"


def test_regex_is_linear_time_by_design() -> None:
    """RE2 has no backtracking: the classic catastrophic pattern is just another regex."""
    rules = [kw("evil", "regex", "(a+)+$"), kw("x", "regex", "(x+x+)+y")]
    ruleset = RuleSet.compile(rules, tz=SHANGHAI)
    assert ruleset.match(text("a" * 5000 + "b"), NOON) is None  # exponential under `re`
    assert ruleset.match(text("x" * 5000), NOON) is None
    assert ruleset.match(text("a" * 5000), NOON) == rules[0]


def test_answer_picks_and_renders() -> None:
    template = "{keyword} for {openid} at {time}"
    replies = [{"type": "text", "content": f"{i}: {template}"} for i in range(2)]
    r = kw("p", "contains", "价", replies=replies)
    found = RuleSet.compile([r], tz=SHANGHAI).answer(text("价格"), NOON, random.Random(1))
    assert found is not None
    assert found[1].content in {"0: 价格 for o1 at 12:00", "1: 价格 for o1 at 12:00"}


def test_ten_thousand_rules_compile_and_match() -> None:
    rules = [kw(f"e{i}", "exact", f"word{i}", i % 7) for i in range(4000)]
    rules += [kw(f"p{i}", "prefix", f"pre{i}x", i % 5) for i in range(3000)]
    rules += [kw(f"c{i}", "contains", f"有{i}无", i % 3) for i in range(2990)]
    rules += [kw(f"r{i}", "regex", rf"^re{i}$", 0) for i in range(10)]
    ruleset = RuleSet.compile(rules, tz=SHANGHAI)
    assert ruleset.match(text("WORD1234"), NOON) == rules[1234]
    assert ruleset.match(text("pre42x and more"), NOON) == rules[4042]
    assert ruleset.match(text("我有2500无你"), NOON) == rules[9500]
    assert ruleset.match(text("re7"), NOON) == rules[9997]
    assert ruleset.match(text("nothing here"), NOON) is None
    both = ruleset.match(text("pre10x 有11无"), NOON)  # priorities 0 and 2: contains wins
    assert both == rules[7000 + 11]
