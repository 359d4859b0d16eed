"""Rules through the replies service's API, and passive replies from them, over the real
broker and database with the in-process gateway."""

from __future__ import annotations

import time

from defusedxml.ElementTree import fromstring

from tests.gateway.conftest import ADMIN_KEY
from tests.support.bus import stays_true, wait_until
from tests.support.gateway import send

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
REPLY_DEADLINE = 1.0  # the gateway fixture's reply_deadline_seconds (tests/gateway/conftest.py)


def rule(pattern: str, content: str, *, priority: int = 1, match: str = "contains") -> dict:
    return {
        "name": f"{match} {pattern}",
        "priority": priority,
        "enabled": True,
        "trigger": {"kind": "keyword", "match": match, "pattern": pattern},
        "reply": {"type": "text", "content": content},
    }


async def call(http, method: str, url: str, body=None):
    async with http.request(method, url, json=body, headers=ADMIN) as response:
        data = await response.json() if response.content_type == "application/json" else None
        return response.status, data


async def test_rules_crud_validation_and_order(replies, http, new_account):
    account = await new_account("plain")
    base = f"{replies}/api/tenants/{account.tenant_id}/rules"
    status, first = await call(http, "POST", base, rule("价格", "Prices: see menu"))
    assert status == 201
    assert first["id"].startswith("r")
    status, second = await call(http, "POST", base, rule("hours", "9 to 5", priority=5))
    assert status == 201
    status, listed = await call(http, "GET", base)
    assert [r["id"] for r in listed["items"]] == [second["id"], first["id"]]  # priority first

    status, error = await call(
        http,
        "POST",
        base,
        {**rule("x", "y"), "trigger": {"kind": "keyword", "match": "regex", "pattern": "(a)\\1"}},
    )
    assert (status, error["error"]["field"]) == (422, "trigger.pattern")
    status, error = await call(http, "POST", base, {**rule("x", "y"), "reply": {"type": "text"}})
    assert (status, error["error"]["field"]) == (422, "reply.content")

    status, changed = await call(http, "PATCH", f"{base}/{first['id']}", {"enabled": False})
    assert (status, changed["enabled"]) == (200, False)
    status, reordered = await call(
        http, "POST", f"{base}/reorder", {"order": [first["id"], second["id"]]}
    )
    assert status == 200
    assert [r["id"] for r in reordered["items"]] == [first["id"], second["id"]]
    assert (await call(http, "POST", f"{base}/reorder", {"order": [first["id"]]}))[0] == 422
    assert (await call(http, "DELETE", f"{base}/{second['id']}"))[0] == 204
    assert (await call(http, "GET", f"{base}/{second['id']}"))[0] == 404
    assert (await call(http, "GET", f"{replies}/api/tenants/tnosuchtenant/rules"))[0] == 404


async def test_dry_run_says_which_rule_and_what_reply(replies, http, new_account):
    account = await new_account("plain")
    base = f"{replies}/api/tenants/{account.tenant_id}/rules"
    _, price = await call(http, "POST", base, rule("PRICE", "Prices for {openid}"))
    await call(
        http,
        "POST",
        base,
        {
            "name": "welcome 42",
            "priority": 1,
            "enabled": True,
            "trigger": {"kind": "subscribe", "scene": "42"},
            "reply": {"type": "text", "content": "Welcome from 42"},
        },
    )
    status, outcome = await call(
        http,
        "POST",
        f"{base}/test",
        {"message": {"msgtype": "text", "content": "ｐｒｉｃｅ list?", "openid": "o_dry"}},
    )
    assert status == 200
    assert outcome["rule"]["id"] == price["id"]
    assert outcome["reply"] == {"type": "text", "content": "Prices for o_dry"}
    _, outcome = await call(
        http, "POST", f"{base}/test", {"message": {"event": "subscribe", "event_key": "qrscene_42"}}
    )
    assert outcome["reply"]["content"] == "Welcome from 42"
    _, outcome = await call(
        http, "POST", f"{base}/test", {"message": {"msgtype": "text", "content": "nothing matches"}}
    )
    assert outcome == {"rule": None, "reply": None}
    status, error = await call(http, "POST", f"{base}/test", {"message": {"msgtype": "text"}})
    assert (status, error["error"]["field"]) == (422, "message.content")


async def test_a_keyword_rule_answers_the_reader_passively_and_changes_apply_at_once(
    gateway, replies, http, new_account, tap_factory
):
    account = await new_account("safe")
    tap = await tap_factory([f"{account.tenant_id}.reply.sent"], answer=None)
    base = f"{replies}/api/tenants/{account.tenant_id}/rules"
    _, created = await call(http, "POST", base, rule("菜单", "今天的菜单: 面"))
    answer = await send(http, gateway, account, "text", overrides={"Content": "看看菜单"})
    assert answer.status == 200
    assert fromstring(answer.plaintext(account)).findtext("Content") == "今天的菜单: 面"

    await call(http, "PUT", f"{base}/{created['id']}", rule("菜单", "明天的菜单: 饭"))
    answer = await send(http, gateway, account, "text", overrides={"Content": "菜单"})
    assert fromstring(answer.plaintext(account)).findtext("Content") == "明天的菜单: 饭"

    started = time.monotonic()
    answer = await send(http, gateway, account, "text", overrides={"Content": "hello"})
    took = time.monotonic() - started
    assert answer.body == b"success"
    # no rule: "none" at once; waiting out the deadline would take REPLY_DEADLINE at least
    assert took < REPLY_DEADLINE / 2, f"answered after {took:.3f}s"
    # One reply.sent per reply given, none for "hello": the gateway publishes it right
    # after answering, so half a second without a third shows there is none.
    await wait_until(lambda: len(tap.events) >= 2)
    await stays_true(lambda: len(tap.events) == 2, seconds=0.5, what="two reply.sent events")
    assert {(e.payload.via, e.payload.rule_id) for e in tap.events} == {("passive", created["id"])}
