"""``wxp broadcasts`` and ``wxp quota``: mass sends planned on the scheduler, and the
monthly (service) or daily (subscription) quota that sends to all or to a tag take."""

from __future__ import annotations

import argparse
import urllib.parse
from typing import Any

from shared.cli.files import read_text
from shared.cli.http import Api, CliError, tenant_path
from shared.cli.output import Command, add_command, blank, emit, table

LIST_COLUMNS = ("id", "name", "status", "next_run_at", "audience", "warnings")
RUN_COLUMNS = ("run_id", "due_at", "status", "msg_id", "result", "reason")
PREVIEW_COLUMNS = ("to", "sent", "errcode")
MEDIA_TYPES = ("voice", "mpvideo")  # a message that is one media id and nothing else


# What the operator asked for, as the API's JSON.


def message_of(args: argparse.Namespace) -> dict[str, Any]:
    if args.send_ignore_reprint and args.mpnews is None:
        raise CliError("--send-ignore-reprint only goes with --mpnews")
    if args.text is not None:
        return {"type": "text", "content": args.text}
    if args.mpnews is not None:
        reprint = args.send_ignore_reprint
        return {"type": "mpnews", "media_id": args.mpnews, "send_ignore_reprint": reprint}
    if args.image:
        return {"type": "image", "media_ids": args.image}
    kind = next(k for k in MEDIA_TYPES if getattr(args, k) is not None)
    return {"type": kind, "media_id": getattr(args, kind)}


def audience_of(args: argparse.Namespace) -> dict[str, Any]:
    if args.tag is not None:
        return {"kind": "tag", "tag_id": args.tag}
    if args.openids is not None:
        return {"kind": "openids", "openids": read_openids(args.openids)}
    return {"kind": "all"}


def schedule_of(args: argparse.Namespace) -> dict[str, Any]:
    if args.until is not None and args.cron is None:
        raise CliError("--until only goes with --cron")
    if args.at is not None:
        return {"at": args.at}
    if args.cron is not None:
        return {"cron": args.cron, **({} if args.until is None else {"until": args.until})}
    return {"best_on": args.best_on}


def read_openids(source: str) -> list[str]:
    """One openid a line from the file ``source`` (``-``: stdin); blank lines are skipped."""
    text = read_text(source, "openids")
    openids = [line.strip() for line in text.splitlines() if line.strip()]
    if not openids:
        raise CliError(f"no openids in {source}: one a line")
    return openids


# The API's JSON, in words.


def audience_text(audience: dict[str, Any]) -> str:
    if audience["kind"] == "tag":
        return f"tag {audience['tag_id']}"
    if audience["kind"] == "openids":
        return f"{audience.get('count', len(audience.get('openids', [])))} openids"
    return str(audience["kind"])


def message_text(message: dict[str, Any]) -> str:
    if message["type"] == "text":
        content = " ".join(str(message["content"]).split())
        return f"text: {content[:60]}{'…' if len(content) > 60 else ''}"
    if message["type"] == "image":
        return "image " + ", ".join(message["media_ids"])
    reprint = " (send even if a reprint)" if message.get("send_ignore_reprint") else ""
    return f"{message['type']} {message['media_id']}{reprint}"


def schedule_text(schedule: dict[str, Any]) -> str:
    if "cron" in schedule:
        until = f" until {schedule['until']}" if schedule.get("until") else ""
        return f"cron {schedule['cron']}{until}"
    if "best_on" in schedule:
        return f"the best hour of {schedule['best_on']}"
    return f"at {schedule['at']}"


def result_text(result: dict[str, Any] | None) -> str:
    if result is None:
        return ""
    counts = "/".join("?" if result.get(k) is None else str(result[k]) for k in ("sent", "total"))
    return f"{result['status']} {counts}"


def warning_lines(warnings: list[dict[str, Any]]) -> list[str]:
    return [f"warning: {w['message']} [{w['code']}]" for w in warnings]


# The commands.


def add(args: argparse.Namespace, api: Api) -> None:
    body = {
        "name": args.name,
        "message": message_of(args),
        "audience": audience_of(args),
        "schedule": schedule_of(args),
    }
    made = api.call("POST", tenant_path(args.tenant, "broadcasts"), body)
    lines = [f"Broadcast {made['id']}: {made['status']}, next run {made['next_run_at']}."]
    emit(made, args, "\n".join(lines + warning_lines(made.get("warnings", []))))


def listing(args: argparse.Namespace, api: Api) -> None:
    given = {"status": args.status, "limit": args.limit, "after": args.after}
    query = urllib.parse.urlencode({k: v for k, v in given.items() if v is not None})
    page = api.call("GET", tenant_path(args.tenant, "broadcasts") + (f"?{query}" if query else ""))
    rows = [
        {
            **b,
            "next_run_at": blank(b["next_run_at"]),
            "audience": audience_text(b["audience"]),
            "warnings": len(b.get("warnings", [])),
        }
        for b in page["broadcasts"]
    ]
    more = page.get("next_after")
    tail = f"\nmore: wxp broadcasts list {args.tenant} --after {more}" if more else ""
    emit(page, args, table(rows, LIST_COLUMNS) + tail)


def show(args: argparse.Namespace, api: Api) -> None:
    b = api.call("GET", tenant_path(args.tenant, "broadcasts", args.broadcast))
    fields = {
        "id": b["id"],
        "name": b["name"],
        "status": b["status"],
        "message": message_text(b["message"]),
        "audience": audience_text(b["audience"]),
        "schedule": schedule_text(b["schedule"]),
        "created_at": blank(b.get("created_at")),
        "next_run_at": blank(b.get("next_run_at")),
    }
    runs = [
        {
            "run_id": r["run_id"],
            "due_at": blank(r["due_at"]),
            "status": r["status"],
            "msg_id": blank(r.get("msg_id")),
            "result": result_text(r.get("result")),
            "reason": blank(r.get("reason")),
        }
        for r in b.get("runs", [])
    ]
    lines = [f"{k:<13}{v}" for k, v in fields.items()] + warning_lines(b.get("warnings", []))
    emit(b, args, "\n".join([*lines, "", table(runs, RUN_COLUMNS)]))


def cancel(args: argparse.Namespace, api: Api) -> None:
    path = tenant_path(args.tenant, "broadcasts", args.broadcast, "cancel")
    b = api.call("POST", path)
    emit(b, args, f"Broadcast {b['id']} ({b['name']}): {b['status']}.")


def delete(args: argparse.Namespace, api: Api) -> None:
    api.call("DELETE", tenant_path(args.tenant, "broadcasts", args.broadcast))
    emit({"deleted": args.broadcast}, args, f"Deleted broadcast {args.broadcast}.")


def preview(args: argparse.Namespace, api: Api) -> None:
    """Sends the message to a few readers; exits 1 when WeChat took none or only some."""
    body = {"openids": args.openid} if args.openid else {"wxnames": args.wxname}
    path = tenant_path(args.tenant, "broadcasts", args.broadcast, "preview")
    previews = api.call("POST", path, body)["previews"]
    rows = [
        {**p, "sent": "yes" if p["sent"] else "no", "errcode": blank(p.get("errcode"))}
        for p in previews
    ]
    emit({"previews": previews}, args, table(rows, PREVIEW_COLUMNS))
    failed = sum(not p["sent"] for p in previews)
    if failed:
        raise CliError(f"{failed} of {len(previews)} previews were not sent")


def retract(args: argparse.Namespace, api: Api) -> None:
    path = tenant_path(args.tenant, "broadcasts", args.broadcast, "runs", args.run_id, "retract")
    done = api.call("POST", path, {"article_idx": args.article_idx})
    which = "all articles" if done["article_idx"] == 0 else f"article {done['article_idx']}"
    ids = ", ".join(str(i) for i in done["retracted"])
    emit(done, args, f"Retracted {which} of run {done['run_id']} (msg_id {ids}).")


def quota(args: argparse.Namespace, api: Api) -> None:
    q = api.call("GET", tenant_path(args.tenant, "quota"))
    emit(
        q,
        args,
        f"{q['account_type']} account, period {q['period']}: {q['used']} used, "
        f"{q['reserved']} reserved of {q['limit']}; next allowed {q['next_allowed_at']}",
    )


# The parsers.


def _command(group: Any, name: str, help_text: str, func: Command) -> argparse.ArgumentParser:
    """A command of the scheduler's API about one tenant's broadcasts (or quota)."""
    parser = add_command(group, name, help_text, func)
    parser.set_defaults(service="scheduler")
    parser.add_argument("tenant", metavar="TENANT")
    return parser


def _about_one(group: Any, name: str, help_text: str, func: Command) -> argparse.ArgumentParser:
    parser = _command(group, name, help_text, func)
    parser.add_argument("broadcast", metavar="BID")
    return parser


def _add_parser(group: Any) -> None:
    new = _command(group, "add", "plan a broadcast: what, to whom, when", add)
    new.add_argument("--name", required=True, help="for people: lists and reports show it")
    what = new.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", metavar="TEXT")
    what.add_argument("--mpnews", metavar="MEDIA_ID", help="an article (news) media id")
    what.add_argument("--image", metavar="MEDIA_ID", action="append", help="repeatable")
    what.add_argument("--voice", metavar="MEDIA_ID")
    what.add_argument("--mpvideo", metavar="MEDIA_ID")
    new.add_argument(
        "--send-ignore-reprint",
        action="store_true",
        help="with --mpnews: send even when WeChat judges the article a reprint",
    )
    whom = new.add_mutually_exclusive_group(required=True)
    whom.add_argument("--all", dest="to_all", action="store_true", help="every follower")
    whom.add_argument("--tag", metavar="TAG_ID", type=int, help="the followers with a tag")
    whom.add_argument("--openids", metavar="FILE", help="one openid a line; - reads stdin")
    when = new.add_mutually_exclusive_group(required=True)
    when.add_argument(
        "--at",
        metavar="WHEN",
        help="YYYY-MM-DDTHH:MM in the account's timezone (or with Z or an offset)",
    )
    when.add_argument(
        "--cron", metavar="EXPR", help='repeat, in the account\'s timezone: "0 20 * * 5"'
    )
    when.add_argument(
        "--best-on", metavar="DATE", help="on DATE, at the hour its readers read most"
    )
    new.add_argument("--until", metavar="DATE", help="with --cron: the last day")


def add_parsers(sub: Any) -> None:
    group = sub.add_parser("broadcasts", help="mass sends (the scheduler)").add_subparsers(
        dest="action", required=True
    )
    _add_parser(group)
    listed = _command(group, "list", "list a tenant's broadcasts, oldest first", listing)
    listed.add_argument("--status", help="scheduled, sending, submitted, finished, ...")
    listed.add_argument("--limit", type=int, help="at most this many (1 to 200; 50)")
    listed.add_argument("--after", metavar="BID", help="the page after this broadcast")
    _about_one(group, "show", "show a broadcast and its runs", show)
    _about_one(group, "cancel", "cancel a broadcast before it sends", cancel)
    _about_one(group, "delete", "delete a broadcast that has not sent", delete)
    test = _about_one(group, "preview", "send the message to a few readers now", preview)
    to = test.add_mutually_exclusive_group(required=True)
    to.add_argument("--openid", action="append", help="repeatable")
    to.add_argument("--wxname", action="append", help="a WeChat id; repeatable")
    back = _about_one(group, "retract", "delete a sent run's articles (mpnews, mpvideo)", retract)
    back.add_argument("run_id", metavar="RUN_ID")
    back.add_argument("--article-idx", type=int, default=0, help="1-8: one article; 0: all")
    _command(sub, "quota", "a tenant's broadcast quota (the scheduler)", quota)
