"""The analytics side of the fake WeChat API (:mod:`tests.support.fake_wechat`). TEST-ONLY.

WeChat's rules, as plain code over wall-clock times passed in:

- ``qrcode/create``: four ``action_name`` values (else 40052); temporary codes
  (QR_SCENE, QR_STR_SCENE) last ``expire_seconds``, 60 to 2,592,000 (30 days; else 40035,
  the fake's choice: WeChat documents no code), 30 when it is missing; permanent codes
  (QR_LIMIT_SCENE, QR_LIMIT_STR_SCENE) never expire, at most ``permanent_limit`` an
  account (WeChat: 100,000; then 45029), and the same permanent scene gives the same code
  again without counting twice. ``scene_str`` holds 1 to 64 characters, ``scene_id`` is
  1 to 100,000 for a permanent code and 1 to 2**32 - 1 for a temporary one; a scene that
  is missing, of the other kind or out of bounds answers 40053.
- ``datacube/getusersummary`` and ``getusercumulate``: ``YYYY-MM-DD`` dates (else 61500),
  begin not after end, at most 7 days, and the end a day whose data is ready: before
  yesterday, or yesterday from 08:00 Beijing time (else 61501). The numbers are the
  fixtures a test set per account and day; a day without one answers zeros, and its
  cumulate is the last one known before it (or 0).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

Json = dict[str, Any]
SCENE_KEYS = {
    "QR_SCENE": "scene_id",
    "QR_STR_SCENE": "scene_str",
    "QR_LIMIT_SCENE": "scene_id",
    "QR_LIMIT_STR_SCENE": "scene_str",
}
PERMANENT = frozenset({"QR_LIMIT_SCENE", "QR_LIMIT_STR_SCENE"})
PERMANENT_LIMIT = 100_000  # permanent codes an account may create
DEFAULT_EXPIRY = 30  # seconds, when a temporary code's expire_seconds is missing
EXPIRY_BOUNDS = (60, 30 * 24 * 3600)
SCENE_ID_MAX = {True: 100_000, False: 2**32 - 1}  # by permanence
SCENE_STR_MAX = 64
QR_URL = "http://weixin.qq.com/q/"

SOURCES = frozenset({0, 1, 17, 30, 57, 100, 149, 161, 200, 201})  # getusersummary's user_source
MAX_SPAN_DAYS = 7
DATA_ZONE = "Asia/Shanghai"  # WeChat's statistics days are Beijing days
READY_HOUR = 8  # yesterday's numbers are there from 08:00
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class Refused(Exception):
    """A WeChat error answer from these rules; the fake answers it as it does a Refusal."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(errcode, errmsg)
        self.errcode, self.errmsg = errcode, errmsg
        self.extra: Json = {}


@dataclass(frozen=True)
class QrCode:
    ticket: str
    url: str
    appid: str
    action_name: str
    scene: int | str
    expire_seconds: int | None  # None: permanent
    created_at: float  # wall-clock seconds

    @property
    def permanent(self) -> bool:
        return self.expire_seconds is None

    def answer(self) -> Json:
        """What ``qrcode/create`` answers: no ``expire_seconds`` for a permanent code."""
        if self.expire_seconds is None:
            return {"ticket": self.ticket, "url": self.url}
        return {"ticket": self.ticket, "expire_seconds": self.expire_seconds, "url": self.url}

    def as_json(self) -> Json:
        expires_at = None if self.expire_seconds is None else self.created_at + self.expire_seconds
        return {**asdict(self), "permanent": self.permanent, "expires_at": expires_at}


@dataclass(frozen=True)
class QrRequest:
    action_name: str
    scene: int | str
    expire_seconds: int | None  # None: permanent

    @property
    def permanent(self) -> bool:
        return self.expire_seconds is None


def qr_request(body: Json) -> QrRequest:
    """A ``qrcode/create`` body checked by WeChat's rules, or :class:`Refused`."""
    action = body.get("action_name")
    if not isinstance(action, str) or action not in SCENE_KEYS:
        raise Refused(40052, "invalid action name")
    scene = qr_scene(action, body.get("action_info"))
    if action in PERMANENT:
        return QrRequest(action, scene, None)  # a permanent code ignores expire_seconds
    seconds = body.get("expire_seconds")
    if seconds is None:
        return QrRequest(action, scene, DEFAULT_EXPIRY)
    low, high = EXPIRY_BOUNDS
    if type(seconds) is not int or not low <= seconds <= high:
        raise Refused(40035, "invalid parameter: expire_seconds")
    return QrRequest(action, scene, seconds)


def qr_scene(action: str, info: object) -> int | str:
    """``action_info.scene``'s id or string, as ``action`` wants it and within bounds."""
    scene = info.get("scene") if isinstance(info, dict) else None
    key = SCENE_KEYS[action]
    value = scene.get(key) if isinstance(scene, dict) else None
    if key == "scene_str" and isinstance(value, str) and 1 <= len(value) <= SCENE_STR_MAX:
        return value
    if key == "scene_id" and type(value) is int and 1 <= value <= SCENE_ID_MAX[action in PERMANENT]:
        return value
    raise Refused(40053, "invalid action info, please check document")


class QrBook:
    """Every account's created codes, oldest first."""

    def __init__(self, permanent_limit: int = PERMANENT_LIMIT) -> None:
        self.permanent_limit = permanent_limit
        self.codes: list[QrCode] = []

    def create(self, appid: str, body: Json, wall: float) -> QrCode:
        request = qr_request(body)
        if request.permanent:
            mine = [code for code in self.created(appid) if code.permanent]
            for code in mine:
                if (code.action_name, code.scene) == (request.action_name, request.scene):
                    return code
            if len(mine) >= self.permanent_limit:
                raise Refused(45029, "qrcode count out of limit")
        code = QrCode(
            ticket="gQ" + secrets.token_urlsafe(48),
            url=QR_URL + "02" + secrets.token_urlsafe(16),
            appid=appid,
            action_name=request.action_name,
            scene=request.scene,
            expire_seconds=request.expire_seconds,
            created_at=wall,
        )
        self.codes.append(code)
        return code

    def created(self, appid: str | None = None) -> list[QrCode]:
        return [code for code in self.codes if appid is None or code.appid == appid]


@dataclass(frozen=True)
class Day:
    """One day's fixture: (new_user, cancel_user) per user_source, and the cumulate."""

    sources: Mapping[int, tuple[int, int]]
    cumulate: int | None = None


def days_from_json(data: object) -> dict[date, Day]:
    """``{"2026-11-30": {"sources": {"0": [new, cancel]}, "cumulate": n}}`` as days;
    ValueError or TypeError when a date, source or count is not of that form."""
    if not isinstance(data, dict):
        raise TypeError("days must be an object of dates")
    days = {}
    for key, fields in data.items():
        sources_json = fields.get("sources", {}) if isinstance(fields, dict) else None
        if not isinstance(sources_json, dict):
            raise TypeError(f"{key}: a day is {{sources?: {{source: [new, cancel]}}, cumulate?}}")
        sources = {}
        for source, counts in sources_json.items():
            if int(source) not in SOURCES:
                raise ValueError(f"user_source must be one of {sorted(SOURCES)}")
            if not isinstance(counts, list) or len(counts) != 2:
                raise TypeError(f"{key}: source {source} needs [new_user, cancel_user]")
            sources[int(source)] = (count(counts[0]), count(counts[1]))
        cumulate = fields.get("cumulate")
        days[iso_date(key)] = Day(sources, None if cumulate is None else count(cumulate))
    return days


def count(value: object) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"a count must be a whole number, not {value!r}")
    return value


def iso_date(value: object) -> date:
    if not isinstance(value, str) or not ISO_DATE.fullmatch(value):
        raise ValueError(f"a date must be YYYY-MM-DD, not {value!r}")
    return date.fromisoformat(value)


def last_ready_day(wall: float) -> date:
    """The latest day WeChat has numbers for at ``wall``: yesterday from 08:00 Beijing
    time, the day before until then."""
    now = datetime.fromtimestamp(wall, ZoneInfo(DATA_ZONE))
    return now.date() - timedelta(days=1 if now.hour >= READY_HOUR else 2)


def requested_days(body: Json, wall: float) -> list[date]:
    """The days a ``datacube`` body asks for, checked by WeChat's rules, or :class:`Refused`."""
    try:
        begin, end = iso_date(body.get("begin_date")), iso_date(body.get("end_date"))
    except ValueError:
        raise Refused(61500, "date format error") from None
    span = (end - begin).days + 1
    if not 1 <= span <= MAX_SPAN_DAYS or end > last_ready_day(wall):
        raise Refused(61501, "date range error")
    return [begin + timedelta(days=n) for n in range(span)]


class Datacube:
    """Every account's fixture days and the two user-analysis answers built from them."""

    def __init__(self) -> None:
        self.days: dict[str, dict[date, Day]] = {}

    def set_days(self, appid: str, days: dict[date, Day]) -> None:
        """Adds ``days`` to the account's fixtures (a day given again is replaced)."""
        self.days.setdefault(appid, {}).update(days)

    def summary(self, appid: str, body: Json, wall: float) -> Json:
        known = self.days.get(appid, {})
        rows = []
        for day in requested_days(body, wall):
            fixture = known.get(day)
            sources = fixture.sources if fixture is not None and fixture.sources else {0: (0, 0)}
            rows += [
                {"ref_date": day.isoformat(), "user_source": s, "new_user": n, "cancel_user": c}
                for s, (n, c) in sorted(sources.items())
            ]
        return {"list": rows}

    def cumulate(self, appid: str, body: Json, wall: float) -> Json:
        known = self.days.get(appid, {})
        rows = [
            {"ref_date": day.isoformat(), "cumulate_user": cumulate_on(known, day)}
            for day in requested_days(body, wall)
        ]
        return {"list": rows}


def cumulate_on(known: Mapping[date, Day], day: date) -> int:
    """The day's cumulate: its fixture's, else the last one known before it, else 0."""
    latest: tuple[date, int] | None = None
    for when, fixture in known.items():
        if when <= day and fixture.cumulate is not None and (latest is None or when > latest[0]):
            latest = (when, fixture.cumulate)
    return 0 if latest is None else latest[1]
