"""``wxp rules`` against a stand-in for the replies service's rules API.

The stand-in only records what the CLI sends and answers what a test tells it to: it
checks the requests and what the operator sees (the end-to-end test runs the real service).
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from shared.cli import build_parser, rules
from shared.cli.settings import CliSettings
from tests.unit.test_cli_broadcasts import KEY, assert_one_error_line, wxp
from tests.unit.test_cli_broadcasts import FakeScheduler as StandIn  # records, answers

RULES = "/api/tenants/acme/rules"
MENU_ID, HOURS_ID = "r0123456789ab", "r0123456789cd"
MENU = {
    "id": MENU_ID,
    "name": "menu",
    "priority": 5,
    "enabled": True,
    "trigger": {"kind": "keyword", "match": "contains", "pattern": "菜单"},
    "reply": {"type": "text", "content": "今天: 面"},
}
HOURS = {
    "id": HOURS_ID,
    "name": "welcome",
    "priority": 1,
    "enabled": False,
    "trigger": {"kind": "subscribe", "scene": "42"},
    "replies": [{"type": "text", "content": "hi"}, {"type": "image", "media_id": "m1"}],
    "active_hours": {"start": "09:00", "end": "18:00", "days": [1, 2, 3, 4, 5]},
}
LISTED = {"items": [MENU, HOURS], "skipped": []}


@pytest.fixture
async def replies(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[StandIn]:
    fake = StandIn()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    fake.url = str(server.make_url("")).rstrip("/")
    monkeypatch.setenv("WXP_REPLIES_URL", fake.url)
    monkeypatch.setenv("WXP_API_KEY", KEY)
    monkeypatch.delenv("WXP_DEBUG", raising=False)
    yield fake
    await server.close()


def sent(replies: StandIn) -> list[tuple[str, str, Any]]:
    return [(s.method, s.path, s.body) for s in replies.seen]


# Settings and arguments


def test_the_replies_url_defaults_to_the_local_replies_service() -> None:
    assert CliSettings.from_env({}).replies_url == "http://127.0.0.1:8081"
    assert CliSettings.from_env({"WXP_REPLIES_URL": "https://r.example/"}).replies_url == (
        "https://r.example"
    )
    assert CliSettings.from_env({"WXP_REPLIES_URL": ""}).replies_url.endswith(":8081")


def test_debug_is_off_unless_asked_for() -> None:
    assert not CliSettings.from_env({}).debug
    assert not CliSettings.from_env({"WXP_DEBUG": "0"}).debug
    assert CliSettings.from_env({"WXP_DEBUG": "1"}).debug


@pytest.mark.parametrize(
    ("argv", "func"),
    [
        (["list"], rules.listing),
        (["show", MENU_ID], rules.show),
        (["add", "--keyword", "k", "--text", "t"], rules.add),
        (["add", "--file", "r.json"], rules.add),
        (["update", MENU_ID, "--file", "p.json"], rules.update),
        (["enable", MENU_ID], rules.enable),
        (["disable", MENU_ID], rules.disable),
        (["delete", MENU_ID], rules.delete),
        (["test", "菜单"], rules.dry_run),
        (["test", "--event", "subscribe"], rules.dry_run),
        (["reorder", HOURS_ID, MENU_ID], rules.reorder),
    ],
)
def test_each_rules_command_calls_the_replies_service(argv: list[str], func: object) -> None:
    args = build_parser().parse_args(["rules", *argv, "--tenant", "acme"])
    assert (args.func, args.service, args.tenant) == (func, "replies", "acme")


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["list"], "--tenant"),
        (["list", "--tenant", "Acme Coffee"], "not a tenant id"),
        (["enable", "--tenant", "acme", "menu"], "not a rule id"),
        (["add", "--tenant", "acme"], "--file --keyword"),
        (["add", "--tenant", "acme", "--file", "f", "--keyword", "k"], "not allowed"),
        (["add", "--tenant", "acme", "--keyword", "k", "--match", "fuzzy"], "invalid choice"),
        (["test", "--tenant", "acme"], "TEXT --event --msgtype"),
        (["test", "--tenant", "acme", "hi", "--event", "subscribe"], "not allowed"),
        (["reorder", "--tenant", "acme"], "RULE_ID"),
        (["update", "--tenant", "acme", MENU_ID], "--file"),
    ],
)
def test_bad_arguments_are_refused_with_usage(
    argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["rules", *argv])
    assert caught.value.code == 2
    assert complaint in capsys.readouterr().err


# list and show


async def test_list_is_a_table_first_wins_and_json_is_the_apis_answer(
    replies: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    replies.answer("GET", RULES, 200, LISTED)
    outcome = await wxp(capsys, "rules", "list", "--tenant", "acme")
    assert outcome.code == 0, outcome.err
    header, menu, welcome = outcome.out.splitlines()
    assert header.split() == ["#", "PRIORITY", "ID", "ENABLED", "NAME", "TRIGGER", "REPLY"]
    assert menu.split() == [
        "1",
        "5",
        MENU_ID,
        "yes",
        "menu",
        "contains",
        '"菜单"',
        "text:",
        "今天:",
        "面",
    ]
    assert welcome.split()[:5] == ["2", "1", HOURS_ID, "no", "welcome"]
    assert "subscribe scene 42 (09:00-18:00 Mon,Tue,Wed,Thu,Fri)" in welcome
    assert welcome.rstrip().endswith("one of 2: text, image")
    assert replies.seen[0].authorization == f"Bearer {KEY}"
    outcome = await wxp(capsys, "rules", "list", "--tenant", "acme", "--json")
    assert json.loads(outcome.out) == LISTED


async def test_list_names_the_stored_rules_that_no_longer_validate(
    replies: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    skipped = [{"id": HOURS_ID, "error": "trigger.pattern: not a supported regex"}]
    replies.answer("GET", RULES, 200, {"items": [MENU], "skipped": skipped})
    out = (await wxp(capsys, "rules", "list", "--tenant", "acme")).out.splitlines()
    assert out[-2:] == [
        "Skipped (stored, no longer valid, answer nothing):",
        f"  {HOURS_ID}  trigger.pattern: not a supported regex",
    ]


async def test_show_is_one_rule_field_by_field(
    replies: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    replies.answer("GET", f"{RULES}/{HOURS_ID}", 200, HOURS)
    out = (await wxp(capsys, "rules", "show", HOURS_ID, "--tenant", "acme")).out
    assert out.splitlines() == [
        f"id        {HOURS_ID}",
        "name      welcome",
        "priority  1",
        "enabled   no",
        "trigger   subscribe scene 42",
        "hours     09:00-18:00 Mon,Tue,Wed,Thu,Fri",
        "reply     text: hi",
        "          image m1",
    ]


# add, update, enable, disable, delete


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (
            ["--keyword", "价格", "--text", "Prices for {openid}"],
            {
                "name": "价格",
                "priority": 0,
                "enabled": True,
                "trigger": {"kind": "keyword", "match": "contains", "pattern": "价格"},
                "reply": {"type": "text", "content": "Prices for {openid}"},
            },
        ),
        (
            [
                *["--keyword", "^hi", "--text", "hello", "--match", "regex", "--name", "greet"],
                *["--priority", "9", "--disabled"],
            ],
            {
                "name": "greet",
                "priority": 9,
                "enabled": False,
                "trigger": {"kind": "keyword", "match": "regex", "pattern": "^hi"},
                "reply": {"type": "text", "content": "hello"},
            },
        ),
    ],
)
async def test_add_with_flags_is_a_keyword_rule_with_a_text_reply(
    flags: list[str],
    expected: dict[str, Any],
    replies: StandIn,
    capsys: pytest.CaptureFixture[str],
) -> None:
    replies.answer("POST", RULES, 201, {**expected, "id": MENU_ID})
    outcome = await wxp(capsys, "rules", "add", "--tenant", "acme", *flags)
    assert outcome.code == 0, outcome.err
    assert sent(replies) == [("POST", RULES, expected)]
    assert (
        outcome.out
        == f"Added rule {MENU_ID} ({expected['name']}), priority {expected['priority']}.\n"
    )


async def test_add_from_a_file_sends_the_file(
    replies: StandIn, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rule = {k: v for k, v in HOURS.items() if k != "id"}
    path = tmp_path / "rule.json"
    path.write_text(json.dumps(rule, ensure_ascii=False), encoding="utf-8")
    replies.answer("POST", RULES, 201, HOURS)
    outcome = await wxp(capsys, "rules", "add", "--tenant", "acme", "--file", str(path), "--json")
    assert outcome.code == 0, outcome.err
    assert sent(replies) == [("POST", RULES, rule)]
    assert json.loads(outcome.out) == HOURS


@pytest.mark.parametrize(
    ("contents", "complaint"),
    [
        (None, "cannot read rule from"),
        ('{"name": "menu",', "is not JSON: Expecting property name"),
        ("", "is not JSON: Expecting value at line 1 column 1"),
        ("[1, 2]", "must be a JSON object {...}, not an array"),
        (b"\xff\xfe{}", "not UTF-8 text"),
    ],
)
async def test_an_unusable_rule_file_is_one_line_and_nothing_is_sent(
    contents: str | bytes | None,
    complaint: str,
    replies: StandIn,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    path = tmp_path / "rule.json"
    if isinstance(contents, str):
        path.write_text(contents)
    elif isinstance(contents, bytes):
        path.write_bytes(contents)
    for argv in (["add", "--file", str(path)], ["update", MENU_ID, "--file", str(path)]):
        outcome = await wxp(capsys, "rules", *argv, "--tenant", "acme")
        assert_one_error_line(outcome, str(path), complaint)
    assert replies.seen == []


@pytest.mark.parametrize(
    ("flags", "complaint"),
    [
        (["--keyword", "k"], "--keyword needs --text"),
        (["--file", "r.json", "--priority", "3"], "--priority: only with --keyword"),
        (["--file", "r.json", "--disabled"], "--disabled: only with --keyword"),
    ],
)
async def test_flags_of_the_keyword_form_are_refused_elsewhere(
    flags: list[str], complaint: str, replies: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = await wxp(capsys, "rules", "add", "--tenant", "acme", *flags)
    assert_one_error_line(outcome, complaint)
    assert replies.seen == []


async def test_update_enable_and_disable_patch_the_rule(
    replies: StandIn, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = f"{RULES}/{MENU_ID}"
    patch = tmp_path / "patch.json"
    patch.write_text('{"priority": 7}')
    replies.answer("PATCH", path, 200, MENU)
    out = []
    for argv in (["update", MENU_ID, "--file", str(patch)], ["enable", MENU_ID]):
        out.append((await wxp(capsys, "rules", *argv, "--tenant", "acme")).out)
    replies.answer("PATCH", path, 200, {**MENU, "enabled": False})
    out.append((await wxp(capsys, "rules", "disable", MENU_ID, "--tenant", "acme")).out)
    assert sent(replies) == [
        ("PATCH", path, {"priority": 7}),
        ("PATCH", path, {"enabled": True}),
        ("PATCH", path, {"enabled": False}),
    ]
    assert out == [
        f"Updated rule {MENU_ID} (menu).\n",
        f"Enabled rule {MENU_ID} (menu).\n",
        f"Disabled rule {MENU_ID} (menu).\n",
    ]


async def test_delete(replies: StandIn, capsys: pytest.CaptureFixture[str]) -> None:
    replies.answer("DELETE", f"{RULES}/{MENU_ID}", 204)
    outcome = await wxp(capsys, "rules", "delete", MENU_ID, "--tenant", "acme")
    assert (outcome.code, outcome.out) == (0, f"Deleted rule {MENU_ID}.\n")
    outcome = await wxp(capsys, "rules", "delete", MENU_ID, "--tenant", "acme", "--json")
    assert json.loads(outcome.out) == {"deleted": MENU_ID}


# test (the dry run) and reorder


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["菜单?"], {"msgtype": "text", "content": "菜单?"}),
        (["hi", "--openid", "o_x"], {"msgtype": "text", "content": "hi", "openid": "o_x"}),
        (["--event", "subscribe"], {"event": "subscribe"}),
        (
            ["--event", "subscribe", "--event-key", "qrscene_42"],
            {"event": "subscribe", "event_key": "qrscene_42"},
        ),
        (["--msgtype", "image"], {"msgtype": "image"}),
    ],
)
async def test_the_dry_run_sends_the_message_and_says_which_rule_answers(
    argv: list[str],
    message: dict[str, str],
    replies: StandIn,
    capsys: pytest.CaptureFixture[str],
) -> None:
    replies.answer("POST", f"{RULES}/test", 200, {"rule": MENU, "reply": MENU["reply"]})
    outcome = await wxp(capsys, "rules", "test", "--tenant", "acme", *argv)
    assert outcome.code == 0, outcome.err
    assert sent(replies) == [("POST", f"{RULES}/test", {"message": message})]
    assert outcome.out.splitlines() == [
        f'Rule {MENU_ID} (menu, priority 5, contains "菜单") answers:',
        "  今天: 面",
    ]


async def test_a_dry_run_that_nothing_answers_says_so(
    replies: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    replies.answer("POST", f"{RULES}/test", 200, {"rule": None, "reply": None})
    outcome = await wxp(capsys, "rules", "test", "--tenant", "acme", "hello")
    assert (outcome.code, outcome.out) == (0, "No rule answers.\n")
    outcome = await wxp(capsys, "rules", "test", "--tenant", "acme", "hello", "--json")
    assert json.loads(outcome.out) == {"rule": None, "reply": None}


async def test_event_key_goes_only_with_an_event(
    replies: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = await wxp(capsys, "rules", "test", "--tenant", "acme", "hi", "--event-key", "k")
    assert_one_error_line(outcome, "--event-key only goes with --event")
    assert replies.seen == []


async def test_reorder_puts_the_named_rules_first_and_keeps_the_rest_in_order(
    replies: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    third = {**MENU, "id": "r0123456789ef", "name": "third", "priority": 0}
    replies.answer("GET", RULES, 200, {"items": [MENU, HOURS, third], "skipped": []})
    reordered = {"items": [third, MENU, HOURS], "skipped": []}
    replies.answer("POST", f"{RULES}/reorder", 200, reordered)
    outcome = await wxp(capsys, "rules", "reorder", "--tenant", "acme", third["id"])
    assert outcome.code == 0, outcome.err
    assert sent(replies)[1] == (
        "POST",
        f"{RULES}/reorder",
        {"order": [third["id"], MENU_ID, HOURS_ID]},
    )
    assert [line.split()[2] for line in outcome.out.splitlines()[1:]] == [
        third["id"],
        MENU_ID,
        HOURS_ID,
    ]


@pytest.mark.parametrize(
    ("named", "complaint"),
    [
        (["r00000000000f"], "no rule r00000000000f for acme"),
        ([MENU_ID, MENU_ID], "name each rule once"),
        (["r0123456789ee"], "rule r0123456789ee no longer validates"),
    ],
)
async def test_reorder_refuses_a_rule_it_cannot_place(
    named: list[str], complaint: str, replies: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    skipped = [{"id": "r0123456789ee", "error": "reply.content: required"}]
    replies.answer("GET", RULES, 200, {"items": [MENU], "skipped": skipped})
    outcome = await wxp(capsys, "rules", "reorder", "--tenant", "acme", *named)
    assert_one_error_line(outcome, complaint)
    assert [s.method for s in replies.seen] in ([], ["GET"])


# What goes wrong: one line, the status, the code and the server's message


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (401, "unauthorized", "invalid API key"),
        (403, "forbidden", "not this tenant's key"),
        (404, "not_found", "no tenant acme"),
        (409, "conflict", "changed meanwhile"),
        (422, "invalid", "trigger.pattern: not a supported regex"),
        (500, "internal", "something broke\nbadly"),
    ],
)
async def test_a_refusal_is_one_line_with_status_code_and_message(
    status: int, code: str, message: str, replies: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    replies.answer("GET", RULES, status, {"error": {"code": code, "message": message}})
    outcome = await wxp(capsys, "rules", "list", "--tenant", "acme")
    assert_one_error_line(outcome)
    assert outcome.err == f"wxp: {status} {code}: {' '.join(message.split())}\n"


async def test_an_answer_the_cli_does_not_understand_is_one_line_with_a_hint(
    replies: StandIn, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    replies.answer("GET", RULES, 200, {"rules": []})  # not the rules API's shape
    outcome = await wxp(capsys, "rules", "list", "--tenant", "acme")
    assert_one_error_line(outcome, "wxp: unexpected KeyError: 'items'", "WXP_DEBUG=1")
    assert "Traceback" not in outcome.err
    monkeypatch.setenv("WXP_DEBUG", "1")
    with pytest.raises(KeyError):  # WXP_DEBUG=1: the exception (and its traceback) go on
        await wxp(capsys, "rules", "list", "--tenant", "acme")


async def test_an_unreachable_replies_service_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as held:  # bound, not listening: connections are refused
        held.bind(("127.0.0.1", 0))
        closed_url = f"http://127.0.0.1:{held.getsockname()[1]}"
        monkeypatch.setenv("WXP_REPLIES_URL", closed_url)
        outcome = await wxp(capsys, "rules", "list", "--tenant", "acme")
    assert_one_error_line(outcome, f"wxp: cannot reach the replies service at {closed_url} (")
