"""Rules through the replies service's API, and passive replies from them, over the real
broker and database with the in-process gateway."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from bson import ObjectId
from bson.int64 import Int64
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


@pytest.mark.parametrize("priority", [2**31, 2**63, 2**64, -(2**31) - 1, -(2**63) - 1])
async def test_priorities_outside_int32_are_refused_and_change_nothing(
    replies, http, new_account, priority
):
    account = await new_account("plain")
    base = f"{replies}/api/tenants/{account.tenant_id}/rules"
    _, kept = await call(http, "POST", base, rule("hours", "9 to 5"))

    for method, url in (("POST", base), ("PUT", f"{base}/{kept['id']}")):
        status, error = await call(http, method, url, rule("hours", "x", priority=priority))
        assert (status, error["error"]["field"]) == (422, "priority"), (method, error)
        assert "-2147483648 to 2147483647" in error["error"]["message"]
    status, error = await call(http, "PATCH", f"{base}/{kept['id']}", {"priority": priority})
    assert (status, error["error"]["field"]) == (422, "priority")

    _, listed = await call(http, "GET", base)
    assert listed == {"items": [kept], "skipped": []}


async def test_a_bad_stored_rule_is_skipped_and_the_tenants_other_rules_still_answer(
    gateway, replies, http, new_account, mongo
):
    account = await new_account("safe")
    base = f"{replies}/api/tenants/{account.tenant_id}/rules"
    rules = mongo[f"wxp_t_{account.tenant_id}"]["replies_rules"]
    huge = {**rule("菜单", "never this one"), "priority": Int64(2**40)}  # accepted before
    oid = ObjectId()
    await rules.insert_many(
        [
            {"_id": "r0123456789ab", "seq": 1, "rule": huge},
            {"_id": "r0123456789ac", "seq": 2, "rule": "not a rule"},
            {"_id": "rjunk", "rule": {"name": datetime.now(UTC), "priority": "high"}},
            {"_id": oid},  # no rule, no sequence
        ]
    )
    status, good = await call(http, "POST", base, rule("菜单", "今天的菜单: 面"))  # rules.changed
    assert status == 201

    status, outcome = await call(
        http, "POST", f"{base}/test", {"message": {"msgtype": "text", "content": "菜单"}}
    )
    assert (status, outcome["rule"]["id"]) == (200, good["id"])
    answer = await send(http, gateway, account, "text", overrides={"Content": "看看菜单"})
    assert fromstring(answer.plaintext(account)).findtext("Content") == "今天的菜单: 面"

    status, listed = await call(http, "GET", base)
    assert status == 200
    assert [r["id"] for r in listed["items"]] == [good["id"]]
    assert {s["id"]: s["error"].split(":")[0] for s in listed["skipped"]} == {
        "r0123456789ab": "priority",
        "r0123456789ac": "enabled",
        "rjunk": "enabled",
        str(oid): "enabled",
    }
    status, shown = await call(http, "GET", f"{base}/r0123456789ab")
    assert (status, shown["priority"]) == (200, 2**40)  # shown as stored, to be fixed
    assert (await call(http, "PUT", f"{base}/r0123456789ab", rule("x", "y")))[0] == 200
    assert (await call(http, "DELETE", f"{base}/r0123456789ac"))[0] == 204
    _, listed = await call(http, "GET", base)
    assert [r["id"] for r in listed["items"]] == ["r0123456789ab", good["id"]]  # older first
    assert sorted(s["id"] for s in listed["skipped"]) == sorted(["rjunk", str(oid)])
    async with http.get(f"{replies}/metrics") as response:
        assert "wxp_replies_rules_skipped_total" in await response.text()


BAD_ORDERS = [
    {"order": [1, "a"]},  # was a 500: 1 and "a" do not sort together
    {"order": [None]},
    {"order": [["r1"]]},
    {"order": "r1"},
    {"order": {"r1": 1}},
    {},
]


@pytest.mark.parametrize("body", BAD_ORDERS, ids=[str(b) for b in BAD_ORDERS])
async def test_a_reorder_of_the_wrong_types_is_refused(replies, http, new_account, body):
    account = await new_account("plain")
    base = f"{replies}/api/tenants/{account.tenant_id}/rules"
    _, kept = await call(http, "POST", base, rule("hours", "9 to 5"))

    status, error = await call(http, "POST", f"{base}/reorder", body)

    assert (status, error["error"]["field"]) == (422, "order")
    assert (await call(http, "GET", f"{base}/{kept['id']}"))[1] == kept


BAD_FIELDS = [
    ("POST", "", {"trigger": {"kind": ["keyword"]}}, "trigger.kind"),  # was a 500 (unhashable)
    ("POST", "", {"reply": {"type": {"text": 1}, "content": "x"}}, "reply.type"),  # was a 500
    ("POST", "", {"name": 5}, "name"),
    ("POST", "", {"enabled": "yes"}, "enabled"),
    ("POST", "", {"active_hours": {"start": 9, "end": "10:00"}}, "active_hours.start"),
    ("PATCH", "/{id}", {"trigger": {"kind": {}}}, "trigger.kind"),
    ("PATCH", "/{id}", {"reply": {"type": "text", "content": "a"}, "replies": []}, "reply"),
    ("POST", "/test", {"message": {"msgtype": 5}}, "message.msgtype"),
    ("POST", "/test", {"message": {"event": ["subscribe"]}}, "message.event"),
    ("POST", "/test", {"message": {"msgtype": "image", "content": 5}}, "message.content"),
    (
        "POST",
        "/test",
        {"message": {"msgtype": "text", "content": "x", "event": 1}},
        "message.event",
    ),
    ("POST", "/test", {"message": {"event": "CLICK", "event_key": 5}}, "message.event_key"),
    (
        "POST",
        "/test",
        {"message": {"msgtype": "text", "content": "x", "Content": "y"}},
        "message.Content",
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), BAD_FIELDS)
async def test_every_field_of_the_wrong_type_is_refused_naming_it(
    replies, http, new_account, method, path, body, field
):
    account = await new_account("plain")
    base = f"{replies}/api/tenants/{account.tenant_id}/rules"
    _, kept = await call(http, "POST", base, rule("hours", "9 to 5"))
    sent = {**rule("x", "y"), **body} if method == "POST" and path == "" else body

    status, error = await call(http, method, base + path.format(id=kept["id"]), sent)

    assert (status, error["error"]["field"]) == (422, field), error
    assert (await call(http, "GET", base))[1] == {"items": [kept], "skipped": []}
