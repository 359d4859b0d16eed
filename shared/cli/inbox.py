"""``wxp inbox``: the replies service's reader inbox, the readers' messages no rule
answered. List them (newest first, with the time left in WeChat's 48-hour window), answer
one through the customer-service API (sent once), or close one without answering."""

from __future__ import annotations

import argparse
import re
import urllib.parse
from typing import Any

from shared.cli.arguments import tenant_id
from shared.cli.files import read_json_object
from shared.cli.http import Api, tenant_path
from shared.cli.output import Command, add_command, blank, emit, table

LIST_COLUMNS = ("id", "received_at", "openid", "type", "window_left", "status", "message")
STATUSES = ("open", "replying", "answered", "closed", "failed", "all")
EVENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
WIDE = 40  # characters of a message in the table


# What the operator typed, checked before anything is sent.


def event_id(text: str) -> str:
    if not EVENT_ID.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a message id (see wxp inbox list)")
    return text


def reply_body(args: argparse.Namespace) -> dict[str, Any]:
    """The API's ``{"reply", "note"?}``: a text, or the reply spec in ``--file``."""
    spec = {"type": "text", "content": args.text} if args.text is not None else None
    if spec is None:
        spec = read_json_object(args.file, "reply spec")
    return {"reply": spec, **({} if args.note is None else {"note": args.note})}


# The API's JSON, in words.


def window_text(seconds: int) -> str:
    if seconds <= 0:
        return "closed"
    hours, minutes = divmod(seconds // 60, 60)
    return f"{hours}h{minutes:02d}m"


def message_text(item: dict[str, Any], width: int = WIDE) -> str:
    message = item.get("message") or {}
    content = message.get("content") or message.get("title") or message.get("label")
    if content is None:
        content = message.get("media_id") or message.get("url") or ""
    flat = " ".join(str(content).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def caller_text(caller: dict[str, Any] | None) -> str:
    if not caller:
        return ""
    if caller.get("scope") == "admin":
        return "the admin key"
    name = f" ({caller['name']})" if caller.get("name") else ""
    return f"{caller.get('scope', '?')} key {caller.get('key_id', '?')}{name}"


def item_text(item: dict[str, Any]) -> str:
    fields = {
        "id": item["id"],
        "status": item["status"],
        "openid": item["openid"],
        "message": message_text(item, 200),
        "window_left": window_text(item.get("window_left_seconds", 0)),
        "answered_by": caller_text(item.get("answered_by")),
        "answered_at": blank(item.get("answered_at")),
        "closed_by": caller_text(item.get("closed_by")),
        "note": blank(item.get("note")),
        "error": blank(item.get("error")),
    }
    return "\n".join(f"{k:<13}{v}".rstrip() for k, v in fields.items() if v != "")


# The commands.


def listing(args: argparse.Namespace, api: Api) -> None:
    given = {"status": args.status, "limit": args.limit, "before": args.before}
    query = urllib.parse.urlencode({k: v for k, v in given.items() if v is not None})
    path = tenant_path(args.tenant, "inbox") + (f"?{query}" if query else "")
    page = api.call("GET", path)
    rows = [
        {
            **item,
            "received_at": blank(item.get("received_at")),
            "window_left": window_text(item.get("window_left_seconds", 0)),
            "message": message_text(item),
        }
        for item in page["items"]
    ]
    more = page.get("next_before")
    tail = f"\nmore: wxp inbox list --tenant {args.tenant} --before {more}" if more else ""
    emit(page, args, table(rows, LIST_COLUMNS) + tail)


def reply(args: argparse.Namespace, api: Api) -> None:
    body = reply_body(args)
    item = api.call("POST", tenant_path(args.tenant, "inbox", args.event_id, "reply"), body)
    emit(item, args, f"Answered {item['id']}.\n{item_text(item)}")


def close(args: argparse.Namespace, api: Api) -> None:
    body = {} if args.note is None else {"note": args.note}
    item = api.call("POST", tenant_path(args.tenant, "inbox", args.event_id, "close"), body)
    emit(item, args, f"Closed {item['id']}.\n{item_text(item)}")


# The parsers.


def _command(group: Any, name: str, help_text: str, func: Command) -> argparse.ArgumentParser:
    """A command of the replies service's API about one tenant's inbox."""
    parser = add_command(group, name, help_text, func)
    parser.set_defaults(service="replies")
    parser.add_argument("--tenant", required=True, type=tenant_id, metavar="ID")
    return parser


def _about_one(group: Any, name: str, help_text: str, func: Command) -> argparse.ArgumentParser:
    parser = _command(group, name, help_text, func)
    parser.add_argument("event_id", metavar="MESSAGE_ID", type=event_id)
    parser.add_argument("--note", help="for the record: why, who, what was agreed")
    return parser


def add_parsers(sub: Any) -> None:
    group = sub.add_parser(
        "inbox", help="readers' messages no rule answered (the replies service)"
    ).add_subparsers(dest="action", required=True)
    listed = _command(group, "list", "unanswered messages, newest first", listing)
    listed.add_argument("--status", choices=STATUSES, help="open (the default), ..., or all")
    listed.add_argument("--limit", type=int, help="at most this many (1 to 200; 50)")
    listed.add_argument("--before", type=event_id, metavar="MESSAGE_ID", help="the next page")
    answer = _about_one(group, "reply", "answer a message through customer service", reply)
    what = answer.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", metavar="TEXT", help="a text reply")
    what.add_argument("--file", metavar="FILE", help="a reply spec in JSON (- reads stdin)")
    _about_one(group, "close", "close a message without answering it", close)
