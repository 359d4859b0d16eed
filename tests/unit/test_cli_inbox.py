"""`wxp inbox`'s pure parts: what the operator typed, and the API's JSON in words."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from shared.cli import build_parser
from shared.cli.http import CliError
from shared.cli.inbox import caller_text, message_text, reply_body, window_text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(172_800, "48h00m"), (172_799, "47h59m"), (59, "0h00m"), (3_660, "1h01m"), (0, "closed")],
)
def test_the_window_left_reads_in_hours_and_minutes(seconds: int, text: str) -> None:
    assert window_text(seconds) == text


def test_a_message_reads_as_its_text_or_what_identifies_it() -> None:
    assert message_text({"message": {"content": "a\nb   c"}}) == "a b c"
    assert message_text({"message": {"media_id": "M1", "pic_url": "http://p"}}) == "M1"
    assert message_text({"message": {"label": "Shanghai", "location_x": "31.2"}}) == "Shanghai"
    assert message_text({"message": {"content": "x" * 50}}, 10) == "x" * 9 + "…"
    assert message_text({"message": {}}) == ""


def test_who_answered_reads_as_the_key() -> None:
    assert caller_text(None) == ""
    assert caller_text({"scope": "admin", "key_id": "admin", "name": ""}) == "the admin key"
    tenant = {"scope": "tenant", "key_id": "0a1b2c3d4e5f", "name": "Alice"}
    assert caller_text(tenant) == "tenant key 0a1b2c3d4e5f (Alice)"


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["inbox", *argv])


def test_a_text_reply_and_a_note_become_the_apis_body() -> None:
    args = parse("reply", "abc123", "--tenant", "acme", "--text", "hi", "--note", "n")
    assert (args.service, args.tenant, args.event_id) == ("replies", "acme", "abc123")
    assert reply_body(args) == {"reply": {"type": "text", "content": "hi"}, "note": "n"}


def test_a_reply_file_is_the_whole_spec(tmp_path: Path) -> None:
    spec = tmp_path / "reply.json"
    spec.write_text('{"type": "image", "media_id": "M1"}', encoding="utf-8")
    args = parse("reply", "abc123", "--tenant", "acme", "--file", str(spec))
    assert reply_body(args) == {"reply": {"type": "image", "media_id": "M1"}}


@pytest.mark.parametrize("content", [None, "{", '"text"'])
def test_a_missing_or_malformed_reply_file_is_a_cli_error(
    tmp_path: Path, content: str | None
) -> None:
    spec = tmp_path / "reply.json"
    if content is not None:
        spec.write_text(content, encoding="utf-8")
    args = parse("reply", "abc123", "--tenant", "acme", "--file", str(spec))
    with pytest.raises(CliError, match="reply"):
        reply_body(args)


@pytest.mark.parametrize(
    "argv",
    [
        ("list",),  # --tenant is required
        ("list", "--tenant", "Not A Tenant"),
        ("list", "--tenant", "acme", "--status", "pending"),
        ("reply", "abc", "--tenant", "acme"),  # --text or --file
        ("reply", "abc", "--tenant", "acme", "--text", "a", "--file", "f"),
        ("close", "a/b", "--tenant", "acme"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_sent(argv: tuple[str, ...]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse(*argv)
    assert exited.value.code == 2
