"""``wxp rules``: an account's keyword and event rules on the replies service (first wins),
and the dry run that says which rule answers a message; nothing is sent to anyone."""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from shared.cli.arguments import tenant_id
from shared.cli.files import read_json_object
from shared.cli.http import Api, CliError, tenant_path
from shared.cli.output import Command, add_command, emit, table

LIST_COLUMNS = ("#", "priority", "id", "enabled", "name", "trigger", "reply")
RULE_ID = re.compile(r"r[0-9a-f]{12}")
MATCHES = ("exact", "prefix", "contains", "regex")
DAYS = ("", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # ISO weekdays, 1 to 7
WIDE = 40  # characters of a name or a reply in the table
KEYWORD_FLAGS = ("text", "match", "name", "priority")


# What the operator typed, checked before anything is sent.


def rule_id(text: str) -> str:
    if not RULE_ID.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a rule id (r and 12 hex digits)")
    return text


def keyword_rule(args: argparse.Namespace) -> dict[str, Any]:
    """The API's rule for ``--keyword K --text T``: a text reply to a keyword."""
    if args.text is None:
        raise CliError("--keyword needs --text, the reply")
    return {
        "name": args.name or args.keyword,
        "priority": 0 if args.priority is None else args.priority,
        "enabled": not args.disabled,
        "trigger": {"kind": "keyword", "match": args.match or "contains", "pattern": args.keyword},
        "reply": {"type": "text", "content": args.text},
    }


def test_message(args: argparse.Namespace) -> dict[str, str]:
    """The dry run's message: text, another message type, or an event."""
    if args.event_key is not None and args.event is None:
        raise CliError("--event-key only goes with --event")
    if args.event is not None:
        key = {} if args.event_key is None else {"event_key": args.event_key}
        message = {"event": args.event, **key}
    elif args.msgtype is not None:
        message = {"msgtype": args.msgtype}
    else:
        message = {"msgtype": "text", "content": args.message}
    return message if args.openid is None else {**message, "openid": args.openid}


# The API's JSON, in words.


def shorten(text: str, width: int = WIDE) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def trigger_text(rule: dict[str, Any]) -> str:
    trigger = rule["trigger"]
    kind = trigger["kind"]
    if kind == "keyword":
        said = f"{trigger['match']} {json.dumps(trigger['pattern'], ensure_ascii=False)}"
    elif kind in ("subscribe", "scan"):
        said = f"{kind} scene {trigger['scene']}" if trigger.get("scene") else kind
    elif kind == "click":
        said = f"click {trigger['key']}"
    elif kind == "msgtype":
        said = f"msgtype {trigger['msgtype']}"
    else:
        said = str(kind)
    hours = rule.get("active_hours")
    return said if not hours else f"{said} ({hours_text(hours)})"


def hours_text(hours: dict[str, Any]) -> str:
    days = ",".join(DAYS[day] for day in hours.get("days") or [])
    return f"{hours['start']}-{hours['end']}" + (f" {days}" if days else "")


def reply_text(reply: dict[str, Any], width: int = WIDE) -> str:
    if reply["type"] == "text":
        return f"text: {shorten(reply['content'], width)}"
    if reply["type"] == "news":
        return f"news: {shorten('; '.join(a['title'] for a in reply['articles']), width)}"
    label = reply.get("title") or reply.get("media_id") or reply.get("thumb_media_id") or ""
    return f"{reply['type']} {shorten(label, width)}".rstrip()


def replies_text(rule: dict[str, Any], width: int = WIDE) -> str:
    if "reply" in rule:
        return reply_text(rule["reply"], width)
    kinds = ", ".join(r["type"] for r in rule["replies"])
    return f"one of {len(rule['replies'])}: {kinds}"


def rule_label(rule: dict[str, Any]) -> str:
    return f"rule {rule['id']} ({shorten(rule['name'])})"


def listing_text(answer: dict[str, Any]) -> str:
    rows = [
        {
            **rule,
            "#": rank,
            "enabled": "yes" if rule["enabled"] else "no",
            "name": shorten(rule["name"]),
            "trigger": trigger_text(rule),
            "reply": replies_text(rule),
        }
        for rank, rule in enumerate(answer["items"], start=1)
    ]
    skipped = [f"  {s['id']}  {s['error']}" for s in answer["skipped"]]
    tail = ["", "Skipped (stored, no longer valid, answer nothing):", *skipped] if skipped else []
    return "\n".join([table(rows, LIST_COLUMNS), *tail])


def rule_text(rule: dict[str, Any]) -> str:
    hours = rule.get("active_hours")
    replies = [rule["reply"]] if "reply" in rule else rule["replies"]
    fields = [
        ("id", rule["id"]),
        ("name", rule["name"]),
        ("priority", rule["priority"]),
        ("enabled", "yes" if rule["enabled"] else "no"),
        ("trigger", trigger_text({**rule, "active_hours": None})),
        ("hours", hours_text(hours) if hours else "always"),
        *((("reply" if i == 0 else ""), reply_text(r, 200)) for i, r in enumerate(replies)),
    ]
    return "\n".join(f"{k:<10}{v}" for k, v in fields)


def dry_run_text(answer: dict[str, Any]) -> str:
    if answer["reply"] is None:
        return "No rule answers."
    rule, reply = answer["rule"], answer["reply"]
    who = (
        "A rule"
        if rule is None
        else f"Rule {rule['id']} ({shorten(rule['name'])}, priority {rule['priority']}, "
        f"{trigger_text(rule)})"
    )
    said = reply["content"] if reply["type"] == "text" else reply_text(reply, 200)
    return f"{who} answers:\n" + "\n".join(f"  {line}" for line in said.splitlines())


# The commands.


def listing(args: argparse.Namespace, api: Api) -> None:
    answer = api.call("GET", tenant_path(args.tenant, "rules"))
    emit(answer, args, listing_text(answer))


def show(args: argparse.Namespace, api: Api) -> None:
    rule = api.call("GET", tenant_path(args.tenant, "rules", args.rule))
    emit(rule, args, rule_text(rule))


def add(args: argparse.Namespace, api: Api) -> None:
    if args.file is not None:
        given = [f"--{k}" for k in KEYWORD_FLAGS if getattr(args, k) is not None]
        if given or args.disabled:
            raise CliError(f"{', '.join(given or ['--disabled'])}: only with --keyword")
        body = read_json_object(args.file, "rule")
    else:
        body = keyword_rule(args)
    rule = api.call("POST", tenant_path(args.tenant, "rules"), body)
    emit(rule, args, f"Added {rule_label(rule)}, priority {rule['priority']}.")


def change(args: argparse.Namespace, api: Api, body: dict[str, Any], done: str) -> None:
    rule = api.call("PATCH", tenant_path(args.tenant, "rules", args.rule), body)
    emit(rule, args, f"{done} {rule_label(rule)}.")


def update(args: argparse.Namespace, api: Api) -> None:
    change(args, api, read_json_object(args.file, "rule"), "Updated")


def enable(args: argparse.Namespace, api: Api) -> None:
    change(args, api, {"enabled": True}, "Enabled")


def disable(args: argparse.Namespace, api: Api) -> None:
    change(args, api, {"enabled": False}, "Disabled")


def delete(args: argparse.Namespace, api: Api) -> None:
    api.call("DELETE", tenant_path(args.tenant, "rules", args.rule))
    emit({"deleted": args.rule}, args, f"Deleted rule {args.rule}.")


def dry_run(args: argparse.Namespace, api: Api) -> None:
    body = {"message": test_message(args)}
    answer = api.call("POST", tenant_path(args.tenant, "rules", "test"), body)
    emit(answer, args, dry_run_text(answer))


def reorder(args: argparse.Namespace, api: Api) -> None:
    """The rules named go first, in that order; the others follow in the order they had."""
    first = list(args.rules)
    if len(set(first)) != len(first):
        raise CliError("name each rule once")
    current = api.call("GET", tenant_path(args.tenant, "rules"))
    ids = [rule["id"] for rule in current["items"]]
    for rule in first:
        if rule in {s["id"] for s in current["skipped"]}:
            raise CliError(f"rule {rule} no longer validates: replace or delete it")
        if rule not in ids:
            raise CliError(f"no rule {rule} for {args.tenant}")
    order = first + [rule for rule in ids if rule not in first]
    answer = api.call("POST", tenant_path(args.tenant, "rules", "reorder"), {"order": order})
    emit(answer, args, listing_text(answer))


# The parsers.


def _command(group: Any, name: str, help_text: str, func: Command) -> argparse.ArgumentParser:
    """A command of the replies service's API about one tenant's rules."""
    parser = add_command(group, name, help_text, func)
    parser.set_defaults(service="replies")
    parser.add_argument("--tenant", required=True, metavar="ID", type=tenant_id)
    return parser


def _about_one(group: Any, name: str, help_text: str, func: Command) -> argparse.ArgumentParser:
    parser = _command(group, name, help_text, func)
    parser.add_argument("rule", metavar="RULE_ID", type=rule_id)
    return parser


def _add_parser(group: Any) -> None:
    new = _command(group, "add", "add a rule: from a JSON file, or a keyword and a text", add)
    what = new.add_mutually_exclusive_group(required=True)
    what.add_argument("--file", metavar="FILE", help="the rule's JSON (- reads stdin)")
    what.add_argument("--keyword", metavar="K", help="answer messages with this keyword ...")
    new.add_argument(
        "--text",
        metavar="T",
        help="... with this text ({openid}, {keyword}, {date}, {time} fill in)",
    )
    new.add_argument("--match", choices=MATCHES, help="how K matches the message (contains)")
    new.add_argument("--name", help="for people (the keyword)")
    new.add_argument("--priority", type=int, help="higher answers first (0)")
    new.add_argument("--disabled", action="store_true", help="add it switched off")


def add_parsers(sub: Any) -> None:
    group = sub.add_parser("rules", help="keyword and event rules (replies)").add_subparsers(
        dest="action", required=True
    )
    _command(group, "list", "a tenant's rules, the one that answers first on top", listing)
    _about_one(group, "show", "one rule", show)
    _add_parser(group)
    _about_one(group, "update", "change some fields of a rule", update).add_argument(
        "--file", required=True, metavar="FILE", help='the fields\' JSON, e.g. {"priority": 5}'
    )
    _about_one(group, "enable", "switch a rule on", enable)
    _about_one(group, "disable", "switch a rule off: it answers nothing", disable)
    _about_one(group, "delete", "delete a rule", delete)
    test = _command(group, "test", "dry run: which rule answers a message, and with what", dry_run)
    what = test.add_mutually_exclusive_group(required=True)
    what.add_argument("message", nargs="?", metavar="TEXT", help="a text message")
    what.add_argument("--event", help="an event instead: subscribe, SCAN, CLICK, ...")
    what.add_argument("--msgtype", help="a message of another type: image, voice, location, ...")
    test.add_argument("--event-key", metavar="KEY", help="with --event: qrscene_42, a menu key")
    test.add_argument("--openid", help="the reader ({openid} in the reply)")
    _command(
        group, "reorder", "put these rules first, in this order; the others follow", reorder
    ).add_argument("rules", nargs="+", metavar="RULE_ID", type=rule_id)
