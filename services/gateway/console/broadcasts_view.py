"""The broadcasts page's shaping, pure: the month calendar (Monday first) of the runs
(``broadcasts_runs``), the quota's headroom, the create API's body from the form, and the
template's context."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.gateway.console.backend import BackendError
from services.gateway.console.broadcasts_runs import Entry, entries_of, instant, split_runs

MONTH = re.compile(r"(?P<y>[1-9][0-9]{3})-(?P<m>0[1-9]|1[0-2])")
NOTICES = ("created", "cancelled", "preview_sent", "preview_failed")


@dataclass(frozen=True, slots=True)
class Day:
    day: date
    in_month: bool
    today: bool
    entries: list[Entry] = field(default_factory=list)


def month_of(text: str | None, today: date) -> date:
    """The first day of ``YYYY-MM`` (today's month when absent or malformed)."""
    found = MONTH.fullmatch(text or "")
    if found is None:
        return today.replace(day=1)
    return date(int(found["y"]), int(found["m"]), 1)


def shift_month(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_grid(first: date, entries: Iterable[Entry], today: date) -> list[list[Day]]:
    """Weeks (Monday first) covering ``first``'s month, each day with its entries by time."""
    start = first - timedelta(days=first.weekday())
    last = shift_month(first, 1) - timedelta(days=1)
    end = last + timedelta(days=6 - last.weekday())
    days = {
        start + timedelta(days=n): Day(
            start + timedelta(days=n),
            in_month=(start + timedelta(days=n)).month == first.month,
            today=start + timedelta(days=n) == today,
        )
        for n in range((end - start).days + 1)
    }
    for entry in sorted(entries, key=lambda e: e.at):
        if entry.at.date() in days:
            days[entry.at.date()].entries.append(entry)
    ordered = list(days.values())
    return [ordered[n : n + 7] for n in range(0, len(ordered), 7)]


def headroom(quota: Mapping[str, Any]) -> int:
    """Broadcasts to all still possible in the quota's period."""
    return max(0, int(quota["limit"]) - int(quota["used"]) - int(quota["reserved"]))


MESSAGE_TYPES = ("text", "mpnews", "image", "voice", "mpvideo")  # the form's choices
TAG = re.compile(r"[0-9]{1,10}")
INPUTS = (  # the API's refused field, by prefix -> the form's input that shows it
    ("name", "name"),
    ("message.content", "content"),
    ("message.media_ids", "media_ids"),
    ("message.media_id", "media_id"),
    ("message.send_ignore_reprint", "reprint"),
    ("message.type", "type"),
    ("audience", "tag_id"),
    ("schedule.at", "at"),
    ("schedule.best_on", "best_on"),
    ("schedule.cron", "cron"),
    ("schedule.until", "until"),
)


def create_body(form: Mapping[str, str]) -> dict[str, Any]:
    """The create API's JSON from the form: a message of the chosen type, to every
    follower or to those with a tag, at a local time, on the recommended hour of a day, or
    on a cron schedule. The API checks it all and names what it refuses."""
    return {
        "name": form.get("name", "").strip(),
        "message": _message(form),
        "audience": _audience(form),
        "schedule": _schedule(form),
    }


def _message(form: Mapping[str, str]) -> dict[str, Any]:
    kind = form.get("type", "text")
    if kind == "text":
        return {"type": "text", "content": form.get("content", "")}
    if kind == "image":
        ids = [i for i in re.split(r"[\s,]+", form.get("media_ids", "")) if i]
        return {"type": "image", "media_ids": ids}
    message: dict[str, Any] = {"type": kind, "media_id": form.get("media_id", "").strip()}
    if kind == "mpnews":
        message["send_ignore_reprint"] = form.get("reprint") == "on"
    return message


def _audience(form: Mapping[str, str]) -> dict[str, Any]:
    if form.get("audience") != "tag":
        return {"kind": "all"}
    tag = form.get("tag_id", "").strip()  # not a number: the API names audience.tag_id
    return {"kind": "tag", "tag_id": int(tag) if TAG.fullmatch(tag) else tag}


def _schedule(form: Mapping[str, str]) -> dict[str, Any]:
    when = form.get("when", "at")
    if when == "best_on":
        return {"best_on": form.get("best_on", "")}
    if when == "cron":
        until = form.get("until", "").strip()
        return {"cron": form.get("cron", "").strip(), **({"until": until} if until else {})}
    return {"at": form.get("at", "")}


def invalid_input(field: str | None, form: Mapping[str, str]) -> str | None:
    """The form's input that shows the API's refused ``field`` (``message.content``,
    ``schedule``, ...)."""
    if not field:
        return None
    for prefix, name in INPUTS:
        if field.startswith(prefix):
            return name
    if field.startswith("schedule"):  # the quota, or no time at all: the time chosen
        return {"best_on": "best_on", "cron": "cron"}.get(form.get("when", ""), "at")
    if field.startswith("message"):
        return {"text": "content", "image": "media_ids"}.get(form.get("type", ""), "media_id")
    return None


def preview_notice(answer: Mapping[str, Any]) -> str:
    """The notice after a preview: sent when WeChat took it for every openid."""
    sent = all(p.get("sent") for p in answer["previews"])
    return "preview_sent" if sent else "preview_failed"


def back_to(form: Mapping[str, str]) -> str:
    """The query that brings the page back to the form's ``month`` (when it is one)."""
    month = form.get("month", "")
    return f"month={month}&" if MONTH.fullmatch(month) else ""


@dataclass(frozen=True, slots=True)
class Shown:
    """What the page is asked to show: its ``?month=`` and ``?notice=``, and the form."""

    month: str | None = None
    notice: str | None = None
    form: Mapping[str, str] = field(default_factory=dict)
    error: BackendError | None = None


def page_context(
    broadcasts: Iterable[Mapping[str, Any]],
    quota: Mapping[str, Any],
    zone: ZoneInfo,
    shown: Shown,
    now: datetime,
) -> dict[str, Any]:
    """``broadcasts.html``'s context: the month's calendar, the runs and the quota."""
    entries = [e for b in broadcasts for e in entries_of(b, zone)]
    today = now.astimezone(zone).date()
    first = month_of(shown.month, today)
    upcoming, ended = split_runs(entries)
    return {
        "zone": str(zone),
        "quota": quota,
        "left": headroom(quota),
        "next_allowed": instant(str(quota["next_allowed_at"]), zone),
        "first": first,
        "weeks": month_grid(first, entries, today),
        "previous": shift_month(first, -1),
        "next": shift_month(first, 1),
        "upcoming": upcoming,
        "ended": ended,
        "form": shown.form,
        "error": shown.error,
        "invalid": invalid_input(shown.error.field if shown.error else None, shown.form),
        "message_types": MESSAGE_TYPES,
        "notice": shown.notice if shown.notice in NOTICES else None,
    }
