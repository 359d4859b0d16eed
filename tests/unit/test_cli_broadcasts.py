"""``wxp broadcasts`` and ``wxp quota`` against a stand-in for the scheduler's HTTP API.

The stand-in only records what the CLI sends and answers what a test tells it to: it
checks the requests and what the operator sees, not the scheduler (the end-to-end test
runs the real one).
"""

from __future__ import annotations

import io
import json
import shlex
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from shared.cli import broadcasts, build_parser, tenants
from shared.cli.settings import CliSettings
from tests.support.cli import assert_one_error_line, wxp

KEY = "k_operator"
BID = "b0190a1b2c3d4e5f60718"
RUN = "r20261204T120000Z"
EARLIER = "r20261127T120000Z"
PATH = f"/api/tenants/acme/broadcasts/{BID}"
SCHEDULED = {"id": BID, "status": "scheduled", "next_run_at": "2026-12-04T12:00:00Z"}
NO_ROUTE = (404, {"error": {"code": "not_found", "message": "no route"}})


@dataclass(frozen=True, slots=True)
class Seen:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    authorization: str | None


@dataclass
class FakeScheduler:
    """Answers ``(method, path)`` with what :meth:`answer` set; remembers every request."""

    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    answers: dict[tuple[str, str], tuple[int, Any]] = field(default_factory=dict)

    def answer(self, method: str, path: str, status: int, body: Any = None) -> None:
        self.answers[(method, path)] = (status, body)

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        self.seen.append(
            Seen(
                request.method,
                request.path,
                dict(request.query),
                json.loads(raw) if raw else None,
                request.headers.get("Authorization"),
            )
        )
        status, body = self.answers.get((request.method, request.path), NO_ROUTE)
        if body is None:
            return web.Response(status=status)
        return web.json_response(body, status=status)


@pytest.fixture
async def scheduler(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeScheduler]:
    fake = FakeScheduler()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    fake.url = str(server.make_url("")).rstrip("/")
    monkeypatch.setenv("WXP_SCHEDULER_URL", fake.url)
    monkeypatch.setenv("WXP_API_KEY", KEY)
    yield fake
    await server.close()


@pytest.fixture
def closed_url() -> Iterator[str]:
    """A local port that is bound but not listening: connections to it are refused."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{held.getsockname()[1]}"


# Settings and arguments


def test_the_scheduler_url_defaults_to_the_local_scheduler() -> None:
    assert CliSettings.from_env({}).scheduler_url == "http://127.0.0.1:8082"
    env = {"WXP_SCHEDULER_URL": "https://sched.example/", "WXP_URL": "https://gw.example"}
    assert CliSettings.from_env(env).scheduler_url == "https://sched.example"
    assert CliSettings.from_env({"WXP_SCHEDULER_URL": ""}).scheduler_url.endswith(":8082")


@pytest.mark.parametrize(
    ("argv", "func", "service"),
    [
        (["broadcasts", "list", "acme"], broadcasts.listing, "scheduler"),
        (["broadcasts", "show", "acme", BID], broadcasts.show, "scheduler"),
        (["broadcasts", "cancel", "acme", BID], broadcasts.cancel, "scheduler"),
        (["broadcasts", "delete", "acme", BID], broadcasts.delete, "scheduler"),
        (["broadcasts", "retract", "acme", BID, RUN], broadcasts.retract, "scheduler"),
        (["quota", "acme", "--json"], broadcasts.quota, "scheduler"),
        (["tenants", "list"], tenants.listing, "gateway"),
    ],
)
def test_each_command_calls_its_service(argv: list[str], func: object, service: str) -> None:
    args = build_parser().parse_args(argv)
    assert (args.func, args.service) == (func, service)


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--name", "n", "--all", "--at", "2026-12-04T20:00"], "--text"),
        (["--name", "n", "--text", "t", "--voice", "m", "--all", "--at", "x"], "not allowed"),
        (["--name", "n", "--text", "t", "--at", "2026-12-04T20:00"], "--all"),
        (["--name", "n", "--text", "t", "--all", "--at", "x", "--best-on", "y"], "not allowed"),
        (["--name", "n", "--text", "t", "--tag", "seven", "--at", "x"], "invalid int"),
    ],
)
def test_add_takes_exactly_one_what_whom_and_when(
    argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["broadcasts", "add", "acme", *argv])
    assert caught.value.code == 2
    assert complaint in capsys.readouterr().err


# add


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (
            "--text '周五 新品' --all --at 2026-12-04T20:00",
            {
                "message": {"type": "text", "content": "周五 新品"},
                "audience": {"kind": "all"},
                "schedule": {"at": "2026-12-04T20:00"},
            },
        ),
        (
            "--mpnews m1 --send-ignore-reprint --tag 7 --cron '0 20 * * 5' --until 2027-01-31",
            {
                "message": {"type": "mpnews", "media_id": "m1", "send_ignore_reprint": True},
                "audience": {"kind": "tag", "tag_id": 7},
                "schedule": {"cron": "0 20 * * 5", "until": "2027-01-31"},
            },
        ),
        (
            "--mpnews m1 --all --cron '0 9 * * 1'",
            {
                "message": {"type": "mpnews", "media_id": "m1", "send_ignore_reprint": False},
                "audience": {"kind": "all"},
                "schedule": {"cron": "0 9 * * 1"},
            },
        ),
        (
            "--image i1 --image i2 --tag 0 --best-on 2026-12-04",
            {
                "message": {"type": "image", "media_ids": ["i1", "i2"]},
                "audience": {"kind": "tag", "tag_id": 0},
                "schedule": {"best_on": "2026-12-04"},
            },
        ),
        (
            "--voice v1 --all --at 2026-12-04T20:00+08:00",
            {
                "message": {"type": "voice", "media_id": "v1"},
                "audience": {"kind": "all"},
                "schedule": {"at": "2026-12-04T20:00+08:00"},
            },
        ),
        (
            "--mpvideo v2 --all --best-on 2026-12-05",
            {
                "message": {"type": "mpvideo", "media_id": "v2"},
                "audience": {"kind": "all"},
                "schedule": {"best_on": "2026-12-05"},
            },
        ),
    ],
)
async def test_add_sends_what_whom_and_when_as_the_apis_json(
    flags: str,
    expected: dict[str, Any],
    scheduler: FakeScheduler,
    capsys: pytest.CaptureFixture[str],
) -> None:
    scheduler.answer("POST", "/api/tenants/acme/broadcasts", 201, {**SCHEDULED, "warnings": []})
    outcome = await wxp(
        capsys, "broadcasts", "add", "acme", "--name", "Friday", *shlex.split(flags)
    )
    assert outcome.code == 0, outcome.err
    [seen] = scheduler.seen
    assert (seen.method, seen.path) == ("POST", "/api/tenants/acme/broadcasts")
    assert seen.authorization == f"Bearer {KEY}"
    assert seen.body == {"name": "Friday", **expected}
    assert outcome.out == f"Broadcast {BID}: scheduled, next run 2026-12-04T12:00:00Z.\n"


async def test_add_reads_openids_one_a_line_from_a_file_or_stdin(
    scheduler: FakeScheduler,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scheduler.answer("POST", "/api/tenants/acme/broadcasts", 201, {**SCHEDULED, "warnings": []})
    listed = tmp_path / "readers.txt"
    listed.write_text("\ufeffo_one\n  o_two  \n\n o_three\n", encoding="utf-8")
    base = ["broadcasts", "add", "acme", "--name", "VIP", "--text", "hi", "--best-on", "2026-12-04"]
    assert (await wxp(capsys, *base, "--openids", str(listed))).code == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("o_a\no_b\n"))
    assert (await wxp(capsys, *base, "--openids", "-")).code == 0
    assert [s.body["audience"] for s in scheduler.seen] == [
        {"kind": "openids", "openids": ["o_one", "o_two", "o_three"]},
        {"kind": "openids", "openids": ["o_a", "o_b"]},
    ]


@pytest.mark.parametrize(
    ("contents", "complaint"),
    [(None, "No such file or directory"), ("\n  \n", "no openids in"), (b"\xff\xfe", "UTF-8")],
)
async def test_an_unusable_openids_file_is_one_line_and_nothing_is_sent(
    contents: str | bytes | None,
    complaint: str,
    scheduler: FakeScheduler,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    path = tmp_path / "readers.txt"
    if isinstance(contents, str):
        path.write_text(contents)
    elif isinstance(contents, bytes):
        path.write_bytes(contents)
    argv = ["broadcasts", "add", "acme", "--name", "n", "--text", "t", "--at", "2026-12-04T20:00"]
    outcome = await wxp(capsys, *argv, "--openids", str(path))
    assert_one_error_line(outcome, str(path), complaint)
    assert scheduler.seen == []


@pytest.mark.parametrize(
    ("flags", "complaint"),
    [
        (["--text", "t", "--at", "2026-12-04T20:00", "--until", "2027-01-31"], "--until"),
        (["--text", "t", "--send-ignore-reprint", "--at", "x"], "--send-ignore-reprint"),
    ],
)
async def test_a_flag_that_goes_with_another_is_refused_before_sending(
    flags: list[str], complaint: str, scheduler: FakeScheduler, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = await wxp(capsys, "broadcasts", "add", "acme", "--name", "n", "--all", *flags)
    assert_one_error_line(outcome, complaint)
    assert scheduler.seen == []


async def test_add_shows_the_schedulers_warnings(
    scheduler: FakeScheduler, capsys: pytest.CaptureFixture[str]
) -> None:
    warnings = [
        {"code": "late_hour", "message": "22:30 is late for most readers"},
        {"code": "too_frequent", "message": "3 broadcasts within 7 days"},
    ]
    answer = {**SCHEDULED, "warnings": warnings}
    scheduler.answer("POST", "/api/tenants/acme/broadcasts", 201, answer)
    argv = ["broadcasts", "add", "acme", "--name", "n", "--text", "t", "--all", "--at", "x"]
    outcome = await wxp(capsys, *argv)
    assert outcome.out.splitlines() == [
        f"Broadcast {BID}: scheduled, next run 2026-12-04T12:00:00Z.",
        "warning: 22:30 is late for most readers [late_hour]",
        "warning: 3 broadcasts within 7 days [too_frequent]",
    ]
    assert json.loads((await wxp(capsys, *argv, "--json")).out) == answer


@pytest.mark.parametrize(
    ("status", "error", "line"),
    [
        (
            422,
            {
                "code": "quota_exhausted",
                "message": "schedule: the 4 broadcast(s) in 2026-12 are taken; "
                "next_allowed_at 2027-01-01T00:00:00Z",
                "field": "schedule",
            },
            "wxp: 422 quota_exhausted: schedule: the 4 broadcast(s) in 2026-12 are taken; "
            "next_allowed_at 2027-01-01T00:00:00Z",
        ),
        (
            422,
            {"code": "invalid", "message": "schedule.at: in the past", "field": "schedule.at"},
            "wxp: 422 invalid: schedule.at: in the past",
        ),
    ],
)
async def test_a_refused_add_is_the_servers_message_on_one_line(
    status: int,
    error: dict[str, str],
    line: str,
    scheduler: FakeScheduler,
    capsys: pytest.CaptureFixture[str],
) -> None:
    scheduler.answer("POST", "/api/tenants/acme/broadcasts", status, {"error": error})
    argv = ["broadcasts", "add", "acme", "--name", "n", "--text", "t", "--all", "--at", "x"]
    for extra in ([], ["--json"]):
        outcome = await wxp(capsys, *argv, *extra)
        assert_one_error_line(outcome)
        assert outcome.err == line + "\n"


# list and show


def listed(bid: str, audience: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "id": bid,
        "name": "Friday",
        "message": {"type": "text", "content": "hi"},
        "audience": audience,
        "schedule": {"cron": "0 20 * * 5"},
        "status": "scheduled",
        "created_at": "2026-11-01T08:00:00Z",
        "next_run_at": "2026-12-04T12:00:00Z",
        "warnings": [],
        **fields,
    }


async def test_list_is_a_table_and_passes_its_filters(
    scheduler: FakeScheduler, capsys: pytest.CaptureFixture[str]
) -> None:
    page = {
        "broadcasts": [
            listed("b1", {"kind": "all"}),
            listed("b2", {"kind": "tag", "tag_id": 7}, warnings=[{"code": "c", "message": "m"}]),
            listed("b3", {"kind": "openids", "count": 3}, status="finished", next_run_at=None),
        ],
        "next_after": "b3",
    }
    scheduler.answer("GET", "/api/tenants/acme/broadcasts", 200, page)
    outcome = await wxp(
        capsys, "broadcasts", "list", "acme", "--status", "scheduled", "--limit", "3"
    )
    assert outcome.code == 0, outcome.err
    assert scheduler.seen[0].query == {"status": "scheduled", "limit": "3"}
    assert [line.split() for line in outcome.out.splitlines()] == [
        ["ID", "NAME", "STATUS", "NEXT_RUN_AT", "AUDIENCE", "WARNINGS"],
        ["b1", "Friday", "scheduled", "2026-12-04T12:00:00Z", "all", "0"],
        ["b2", "Friday", "scheduled", "2026-12-04T12:00:00Z", "tag", "7", "1"],
        ["b3", "Friday", "finished", "3", "openids", "0"],
        ["more:", "wxp", "broadcasts", "list", "acme", "--after", "b3"],
    ]
    outcome = await wxp(capsys, "broadcasts", "list", "acme", "--after", "b3", "--json")
    assert scheduler.seen[1].query == {"after": "b3"}
    assert json.loads(outcome.out) == page


async def test_show_is_the_broadcast_then_its_runs(
    scheduler: FakeScheduler, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = [
        {
            "run_id": EARLIER,
            "due_at": "2026-11-27T12:00:00Z",
            "status": "finished",
            "msg_id": "1000001",
            "result": {"status": "SEND_SUCCESS", "total": 100, "filter": 98, "sent": 97},
            "reason": None,
        },
        {
            "run_id": RUN,
            "due_at": "2026-12-04T12:00:00Z",
            "status": "scheduled",
            "msg_id": None,
            "result": None,
            "reason": None,
        },
    ]
    broadcast = listed(
        BID,
        {"kind": "tag", "tag_id": 7},
        message={"type": "mpnews", "media_id": "m1", "send_ignore_reprint": True},
        schedule={"cron": "0 20 * * 5", "until": "2027-01-31"},
        warnings=[{"code": "late_hour", "message": "late"}],
        runs=runs,
    )
    scheduler.answer("GET", PATH, 200, broadcast)
    outcome = await wxp(capsys, "broadcasts", "show", "acme", BID)
    assert outcome.code == 0, outcome.err
    head, _, runs_table = outcome.out.partition("\n\n")
    assert head.splitlines() == [
        f"id           {BID}",
        "name         Friday",
        "status       scheduled",
        "message      mpnews m1 (send even if a reprint)",
        "audience     tag 7",
        "schedule     cron 0 20 * * 5 until 2027-01-31",
        "created_at   2026-11-01T08:00:00Z",
        "next_run_at  2026-12-04T12:00:00Z",
        "warning: late [late_hour]",
    ]
    assert [line.split() for line in runs_table.splitlines()] == [
        ["RUN_ID", "DUE_AT", "STATUS", "MSG_ID", "RESULT", "REASON"],
        [EARLIER, "2026-11-27T12:00:00Z", "finished", "1000001", "SEND_SUCCESS", "97/100"],
        [RUN, "2026-12-04T12:00:00Z", "scheduled"],
    ]
    assert json.loads((await wxp(capsys, "broadcasts", "show", "acme", BID, "--json")).out) == (
        broadcast
    )


def test_messages_and_schedules_read_as_words() -> None:
    long = {"type": "text", "content": "line one\nline two " + "x" * 80}
    assert broadcasts.message_text(long) == "text: line one line two " + "x" * 42 + "…"
    assert broadcasts.message_text({"type": "image", "media_ids": ["a", "b"]}) == "image a, b"
    assert broadcasts.message_text({"type": "voice", "media_id": "v"}) == "voice v"
    assert broadcasts.schedule_text({"at": "2026-12-04T12:00:00Z"}) == "at 2026-12-04T12:00:00Z"
    assert broadcasts.schedule_text({"best_on": "2026-12-04"}) == "the best hour of 2026-12-04"
    assert broadcasts.audience_text({"kind": "openids", "openids": ["a", "b"]}) == "2 openids"
    assert broadcasts.result_text({"status": "SEND_FAIL", "total": 5, "sent": None}) == (
        "SEND_FAIL ?/5"
    )


# cancel, delete, preview, retract


async def test_cancel_and_delete_say_what_happened(
    scheduler: FakeScheduler, capsys: pytest.CaptureFixture[str]
) -> None:
    cancelled = listed(BID, {"kind": "all"}, status="cancelled", next_run_at=None)
    scheduler.answer("POST", f"{PATH}/cancel", 200, cancelled)
    scheduler.answer("DELETE", PATH, 204)
    outcome = await wxp(capsys, "broadcasts", "cancel", "acme", BID)
    assert outcome.out == f"Broadcast {BID} (Friday): cancelled.\n"
    assert (await wxp(capsys, "broadcasts", "delete", "acme", BID)).out == (
        f"Deleted broadcast {BID}.\n"
    )
    assert json.loads((await wxp(capsys, "broadcasts", "delete", "acme", BID, "--json")).out) == {
        "deleted": BID
    }
    assert [(s.method, s.path, s.body) for s in scheduler.seen] == [
        ("POST", f"{PATH}/cancel", None),
        ("DELETE", PATH, None),
        ("DELETE", PATH, None),
    ]


@pytest.mark.parametrize(
    ("method", "action", "suffix"), [("POST", "cancel", "/cancel"), ("DELETE", "delete", "")]
)
async def test_a_broadcast_that_has_sent_is_a_409_on_one_line(
    method: str,
    action: str,
    suffix: str,
    scheduler: FakeScheduler,
    capsys: pytest.CaptureFixture[str],
) -> None:
    error = {"code": "conflict", "message": "broadcast is sending", "field": "status"}
    scheduler.answer(method, PATH + suffix, 409, {"error": error})
    outcome = await wxp(capsys, "broadcasts", action, "acme", BID)
    assert_one_error_line(outcome)
    assert outcome.err == "wxp: 409 conflict: broadcast is sending\n"


async def test_preview_sends_openids_or_wxnames_and_fails_when_one_was_not_sent(
    scheduler: FakeScheduler, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = {"previews": [{"to": "o_a", "sent": True, "errcode": 0}]}
    scheduler.answer("POST", f"{PATH}/preview", 200, sent)
    outcome = await wxp(capsys, "broadcasts", "preview", "acme", BID, "--openid", "o_a")
    assert (outcome.code, [line.split() for line in outcome.out.splitlines()]) == (
        0,
        [["TO", "SENT", "ERRCODE"], ["o_a", "yes", "0"]],
    )
    partly = {
        "previews": [
            {"to": "alice", "sent": True, "errcode": 0},
            {"to": "bob", "sent": False, "errcode": 40132},
        ]
    }
    scheduler.answer("POST", f"{PATH}/preview", 200, partly)
    argv = ["broadcasts", "preview", "acme", BID, "--wxname", "alice", "--wxname", "bob"]
    outcome = await wxp(capsys, *argv)
    assert outcome.code == 1
    assert ["bob", "no", "40132"] in [line.split() for line in outcome.out.splitlines()]
    assert outcome.err == "wxp: 1 of 2 previews were not sent\n"
    assert json.loads((await wxp(capsys, *argv, "--json")).out) == partly
    assert [s.body for s in scheduler.seen] == [
        {"openids": ["o_a"]},
        {"wxnames": ["alice", "bob"]},
        {"wxnames": ["alice", "bob"]},
    ]


def test_preview_needs_openids_or_wxnames(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["broadcasts", "preview", "acme", BID])
    assert caught.value.code == 2
    assert "--openid" in capsys.readouterr().err


async def test_retract_takes_all_articles_unless_told_one(
    scheduler: FakeScheduler, capsys: pytest.CaptureFixture[str]
) -> None:
    path = f"{PATH}/runs/{RUN}/retract"
    scheduler.answer("POST", path, 200, {"run_id": RUN, "retracted": ["1001"], "article_idx": 0})
    outcome = await wxp(capsys, "broadcasts", "retract", "acme", BID, RUN)
    assert outcome.out == f"Retracted all articles of run {RUN} (msg_id 1001).\n"
    answer = {"run_id": RUN, "retracted": ["1001", "1002"], "article_idx": 2}
    scheduler.answer("POST", path, 200, answer)
    outcome = await wxp(capsys, "broadcasts", "retract", "acme", BID, RUN, "--article-idx", "2")
    assert outcome.out == f"Retracted article 2 of run {RUN} (msg_id 1001, 1002).\n"
    assert [s.body for s in scheduler.seen] == [{"article_idx": 0}, {"article_idx": 2}]


# quota, and reaching the right server


async def test_quota_is_one_sentence(
    scheduler: FakeScheduler, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = {
        "account_type": "service",
        "period": "2026-12",
        "used": 1,
        "reserved": 1,
        "limit": 4,
        "next_allowed_at": "2026-12-01T00:00:00Z",
    }
    scheduler.answer("GET", "/api/tenants/acme/quota", 200, answer)
    outcome = await wxp(capsys, "quota", "acme")
    assert outcome.out == (
        "service account, period 2026-12: 1 used, 1 reserved of 4; "
        "next allowed 2026-12-01T00:00:00Z\n"
    )
    assert json.loads((await wxp(capsys, "quota", "acme", "--json")).out) == answer


@pytest.mark.parametrize(
    "argv",
    [
        ["quota", "acme"],
        ["broadcasts", "list", "acme", "--json"],
        ["broadcasts", "add", "acme", "--name", "n", "--text", "t", "--all", "--at", "x"],
    ],
)
async def test_an_unreachable_scheduler_is_one_line(
    argv: list[str],
    closed_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("WXP_SCHEDULER_URL", closed_url)
    outcome = await wxp(capsys, *argv)
    assert_one_error_line(outcome, f"wxp: cannot reach the scheduler at {closed_url} (")


async def test_gateway_commands_still_call_the_gateway(
    scheduler: FakeScheduler,
    closed_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    scheduler.answer("GET", "/api/tenants", 200, {"items": [], "next_after": None})
    monkeypatch.setenv("WXP_URL", scheduler.url)  # the stand-in plays the gateway here
    monkeypatch.setenv("WXP_SCHEDULER_URL", closed_url)
    assert (await wxp(capsys, "tenants", "list", "--json")).out == "[]\n"
    monkeypatch.setenv("WXP_URL", closed_url)
    outcome = await wxp(capsys, "tenants", "list")
    assert_one_error_line(outcome, f"cannot reach the gateway at {closed_url}")
