"""A broadcast as an operator asks for it (what, to whom, when), validated from the API's
JSON into typed objects or an :class:`InvalidBroadcast` naming the first bad field, and
back to JSON. Pure: ``now`` is passed in. The schedules live in ``schedule.py``."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

from cronsim import CronSimError

from services.scheduler.schedule import At as At
from services.scheduler.schedule import BestOn as BestOn
from services.scheduler.schedule import Cron as Cron
from services.scheduler.schedule import Schedule as Schedule
from services.scheduler.schedule import first_due
from services.scheduler.schedule import schedule_from_json as schedule_from_json
from services.scheduler.schedule import schedule_to_json as schedule_to_json

MessageType = Literal["text", "mpnews", "image", "voice", "mpvideo"]
AudienceKind = Literal["all", "tag", "openids"]
Shape = tuple[frozenset[str], frozenset[str]]  # required keys, optional keys
MESSAGES: dict[str, Shape] = {
    "text": (frozenset({"content"}), frozenset()),
    "mpnews": (frozenset({"media_id"}), frozenset({"send_ignore_reprint"})),
    "image": (frozenset({"media_ids"}), frozenset()),
    "voice": (frozenset({"media_id"}), frozenset()),
    "mpvideo": (frozenset({"media_id"}), frozenset()),
}
AUDIENCES: dict[str, Shape] = {
    "all": (frozenset(), frozenset()),
    "tag": (frozenset({"tag_id"}), frozenset()),
    "openids": (frozenset({"openids"}), frozenset()),
}
MAX_MEDIA_ID, MAX_IMAGES, MAX_TAG, MAX_CRON, MAX_YEAR = 128, 20, 2**31 - 1, 100, 9998
OPENID = "[A-Za-z0-9_-]{1,64}"
DATE = "[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
HH_MM = "([01][0-9]|2[0-3]):[0-5][0-9]"
AT = f"{DATE}T{HH_MM}(:[0-5][0-9]([.][0-9]{{1,6}})?)?(Z|[+-]{HH_MM})?"
CRON_FIELD = "[0-9A-Za-z*,/#-]+"
CRON = f" *{CRON_FIELD}( +{CRON_FIELD}){{4}} *"
# cronsim reports most bad fields as CronSimError, a few odd ones as plain Python errors
CRON_ERRORS = (CronSimError, ValueError, TypeError, AssertionError, IndexError, OverflowError)


class InvalidBroadcast(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class SpecLimits:
    max_text: int = 10_000
    max_openids: int = 1_000_000
    max_name: int = 200


@dataclass(frozen=True, slots=True)
class Message:
    type: MessageType
    content: str | None = None
    media_id: str | None = None
    media_ids: tuple[str, ...] = ()
    send_ignore_reprint: bool = False

    def to_json(self) -> dict[str, Any]:
        if self.type == "text":
            return {"type": "text", "content": self.content}
        if self.type == "image":
            return {"type": "image", "media_ids": list(self.media_ids)}
        if self.type == "mpnews":
            reprint = self.send_ignore_reprint
            return {"type": "mpnews", "media_id": self.media_id, "send_ignore_reprint": reprint}
        return {"type": self.type, "media_id": self.media_id}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Message:
        """Trusts stored data: no limits are re-checked (settings may have changed)."""
        return cls(
            data["type"],
            content=data.get("content"),
            media_id=data.get("media_id"),
            media_ids=tuple(data.get("media_ids", ())),
            send_ignore_reprint=bool(data.get("send_ignore_reprint", False)),
        )

    def wechat_body(self) -> dict[str, Any]:
        """The message part of a WeChat mass-send (``sendall``/``send``) body."""
        if self.type == "text":
            return {"msgtype": "text", "text": {"content": self.content}}
        if self.type == "image":
            images = {
                "media_ids": list(self.media_ids),
                "recommend": "",
                "need_open_comment": 0,
                "only_fans_can_comment": 0,
            }
            return {"msgtype": "image", "images": images}
        body: dict[str, Any] = {"msgtype": self.type, self.type: {"media_id": self.media_id}}
        if self.type == "mpnews":
            body["send_ignore_reprint"] = int(self.send_ignore_reprint)
        return body

    @property
    def retractable(self) -> bool:
        return self.type in ("mpnews", "mpvideo")


@dataclass(frozen=True, slots=True)
class Audience:
    kind: AudienceKind
    tag_id: int | None = None
    openids: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        if self.kind == "tag":
            return {"kind": "tag", "tag_id": self.tag_id}
        if self.kind == "openids":
            return {"kind": "openids", "openids": list(self.openids)}
        return {"kind": "all"}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Audience:
        return cls(data["kind"], data.get("tag_id"), tuple(data.get("openids", ())))

    @property
    def counts_toward_quota(self) -> bool:
        return self.kind != "openids"

    def wechat_target(self, openids: Sequence[str] | None = None) -> dict[str, Any]:
        """Whom a mass-send addresses; for a list, ``openids`` is the batch being sent."""
        if self.kind == "openids":
            return {"touser": list(self.openids if openids is None else openids)}
        if self.kind == "tag":
            return {"filter": {"is_to_all": False, "tag_id": self.tag_id}}
        return {"filter": {"is_to_all": True}}


@dataclass(frozen=True, slots=True)
class BroadcastSpec:
    name: str
    message: Message
    audience: Audience
    schedule: Schedule

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "message": self.message.to_json(),
            "audience": self.audience.to_json(),
            "schedule": schedule_to_json(self.schedule),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BroadcastSpec:
        return cls(
            data["name"],
            Message.from_json(data["message"]),
            Audience.from_json(data["audience"]),
            schedule_from_json(data["schedule"]),
        )


def parse_broadcast(
    body: Mapping[str, object], *, timezone: str, now: datetime, limits: SpecLimits = SpecLimits()
) -> BroadcastSpec:
    """Validate a create request's JSON, naming the first bad field (dotted path)."""
    top = frozenset({"name", "message", "audience", "schedule"})
    d = _keys(body, "", top, frozenset())
    return BroadcastSpec(
        _text(d["name"], "name", limits.max_name).strip(),
        _message(d["message"], limits),
        _audience(d["audience"], limits),
        _schedule(d["schedule"], timezone, now),
    )


def _message(value: object, limits: SpecLimits) -> Message:
    kind = cast(MessageType, _tag(value, "message", "type", MESSAGES))
    m = _keys(value, "message", MESSAGES[kind][0] | {"type"}, MESSAGES[kind][1])
    if kind == "text":
        return Message(kind, content=_text(m["content"], "message.content", limits.max_text))
    if kind == "image":
        ids = m["media_ids"]
        if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_IMAGES:
            raise InvalidBroadcast("message.media_ids", f"a list of 1 to {MAX_IMAGES} media ids")
        media = (_text(i, f"message.media_ids[{n}]", MAX_MEDIA_ID) for n, i in enumerate(ids))
        return Message(kind, media_ids=tuple(media))
    reprint = m.get("send_ignore_reprint", False)
    if not isinstance(reprint, bool):
        raise InvalidBroadcast("message.send_ignore_reprint", "true or false")
    media_id = _text(m["media_id"], "message.media_id", MAX_MEDIA_ID)
    return Message(kind, media_id=media_id, send_ignore_reprint=reprint)


def _audience(value: object, limits: SpecLimits) -> Audience:
    kind = cast(AudienceKind, _tag(value, "audience", "kind", AUDIENCES))
    a = _keys(value, "audience", AUDIENCES[kind][0] | {"kind"}, AUDIENCES[kind][1])
    if kind == "tag":
        tag = a["tag_id"]
        if type(tag) is not int or not 0 <= tag <= MAX_TAG:  # bool is not an int here
            raise InvalidBroadcast("audience.tag_id", f"an integer from 0 to {MAX_TAG}")
        return Audience(kind, tag_id=tag)
    if kind == "all":
        return Audience(kind)
    listed, most = a["openids"], limits.max_openids
    if not isinstance(listed, list) or len(listed) > most:
        raise InvalidBroadcast("audience.openids", f"a list of 2 to {most} openids")
    for n, openid in enumerate(listed):
        if not isinstance(openid, str) or re.fullmatch(OPENID, openid) is None:
            raise InvalidBroadcast(f"audience.openids[{n}]", "an openid (letters, digits, _ -)")
    openids = tuple(dict.fromkeys(listed))
    if len(openids) < 2:  # WeChat refuses a list of one (40130)
        raise InvalidBroadcast("audience.openids", "at least 2 different openids")
    return Audience(kind, openids=openids)


def _schedule(value: object, timezone: str, now: datetime) -> Schedule:
    s = _keys(value, "schedule", frozenset(), frozenset({"at", "cron", "until", "best_on"}))
    given = [key for key in ("at", "cron", "best_on") if key in s]
    if len(given) != 1:
        raise InvalidBroadcast("schedule", 'exactly one of "at", "cron" or "best_on"')
    if "until" in s and given != ["cron"]:
        raise InvalidBroadcast("schedule.until", 'only with "cron"')
    zone, today = ZoneInfo(timezone), now.astimezone(ZoneInfo(timezone)).date()
    if "at" in s:
        return At(_instant(s["at"], zone, now))
    if "best_on" in s:
        return BestOn(_day(s["best_on"], "schedule.best_on", today))
    cron = s["cron"]
    if not isinstance(cron, str) or len(cron) > MAX_CRON or not re.fullmatch(CRON, cron):
        raise InvalidBroadcast("schedule.cron", "5 fields: minute hour day month weekday")
    until = None if s.get("until") is None else _day(s["until"], "schedule.until", today)
    schedule = Cron(" ".join(cron.split()), until)
    try:
        due = first_due(schedule, timezone=timezone, now=now)
    except CRON_ERRORS as exc:
        raise InvalidBroadcast("schedule.cron", f"not a valid cron expression ({exc})") from exc
    if due is None:
        limit = "" if until is None else f" on or before {until}"
        raise InvalidBroadcast("schedule.cron", f"no run after now{limit}")
    return schedule


def _instant(value: object, zone: ZoneInfo, now: datetime) -> datetime:
    if not isinstance(value, str) or re.fullmatch(AT, value) is None:
        raise InvalidBroadcast("schedule.at", "an ISO 8601 date-time: YYYY-MM-DDTHH:MM[:SS][Z]")
    try:
        parsed = datetime.fromisoformat(value)
        local = (parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)).astimezone(zone)
        instant = local.astimezone(UTC).replace(microsecond=0)
    except (ValueError, OverflowError) as exc:
        raise InvalidBroadcast("schedule.at", f"not a real date-time ({exc})") from exc
    if instant <= now:
        raise InvalidBroadcast("schedule.at", "in the past")
    if local.year > MAX_YEAR:
        raise InvalidBroadcast("schedule.at", "too far ahead")
    return instant


def _day(value: object, field: str, today: date) -> date:
    if not isinstance(value, str) or re.fullmatch(DATE, value) is None:
        raise InvalidBroadcast(field, "a date YYYY-MM-DD")
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidBroadcast(field, f"not a real date ({exc})") from exc
    if day < today:
        raise InvalidBroadcast(field, "in the past")
    if day.year > MAX_YEAR:
        raise InvalidBroadcast(field, "too far ahead")
    return day


def _tag(value: object, field: str, key: str, allowed: Mapping[str, Shape]) -> str:
    if not isinstance(value, Mapping):
        raise InvalidBroadcast(field, "must be an object")
    tag = value.get(key)
    if not isinstance(tag, str) or tag not in allowed:
        raise InvalidBroadcast(f"{field}.{key}", f"one of {', '.join(allowed)}")
    return tag


def _keys(
    value: object, field: str, required: frozenset[str], optional: frozenset[str]
) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidBroadcast(field or "body", "must be an object")
    for key in sorted(set(value) - required - optional):
        raise InvalidBroadcast(f"{field}.{key}".lstrip("."), "unknown field")
    for key in sorted(required - set(value)):
        raise InvalidBroadcast(f"{field}.{key}".lstrip("."), "required")
    return value


def _text(value: object, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidBroadcast(field, f"a non-blank string of at most {limit} characters")
    return value
