"""What the scheduler and analytics say about broadcasts: a run submitted to WeChat, its
finish report, the recommended send hour, and the unfollows after a push."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal, cast

from shared.contracts.codec import (
    DecodeError,
    Json,
    JsonObject,
    integer,
    number_or_none,
    optional_text,
    text,
)

Audience = Literal["all", "tag", "openids"]
Basis = Literal["interactions", "default"]


@dataclass(frozen=True, slots=True)
class BroadcastSubmitted:
    """WeChat accepted a broadcast run's mass send (``msg_id`` is WeChat's)."""

    TYPE: ClassVar[str] = "broadcast.submitted"
    broadcast_id: str
    run_id: str
    audience: Audience
    msg_id: str | None = None
    msg_data_id: str | None = None

    def to_json(self) -> JsonObject:
        return {
            "broadcast_id": self.broadcast_id,
            "run_id": self.run_id,
            "audience": self.audience,
            "msg_id": self.msg_id,
            "msg_data_id": self.msg_data_id,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Json]) -> BroadcastSubmitted:
        audience = text(data, "audience")
        if audience not in ("all", "tag", "openids"):
            raise DecodeError(f"unknown audience {audience!r}")
        return cls(
            text(data, "broadcast_id"),
            text(data, "run_id"),
            cast(Audience, audience),
            optional_text(data, "msg_id"),
            optional_text(data, "msg_data_id"),
        )


@dataclass(frozen=True, slots=True)
class BroadcastFinished:
    """WeChat's MASSSENDJOBFINISH for a run, with ``status`` in words."""

    TYPE: ClassVar[str] = "broadcast.finished"
    broadcast_id: str
    run_id: str
    msg_id: str
    status: str
    total: int
    filter: int
    sent: int
    error: int

    def to_json(self) -> JsonObject:
        return {
            "broadcast_id": self.broadcast_id,
            "run_id": self.run_id,
            "msg_id": self.msg_id,
            "status": self.status,
            "total": self.total,
            "filter": self.filter,
            "sent": self.sent,
            "error": self.error,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Json]) -> BroadcastFinished:
        return cls(
            text(data, "broadcast_id"),
            text(data, "run_id"),
            text(data, "msg_id"),
            text(data, "status"),
            integer(data, "total"),
            integer(data, "filter"),
            integer(data, "sent"),
            integer(data, "error"),
        )


@dataclass(frozen=True, slots=True)
class SendTimeAdvice:
    """The tenant-local hour analytics recommends for pushes (0-23)."""

    TYPE: ClassVar[str] = "analytics.send_time"
    hour: int
    basis: Basis
    interactions: int

    def to_json(self) -> JsonObject:
        return {"hour": self.hour, "basis": self.basis, "interactions": self.interactions}

    @classmethod
    def from_json(cls, data: Mapping[str, Json]) -> SendTimeAdvice:
        hour, basis = integer(data, "hour"), text(data, "basis")
        if not 0 <= hour <= 23 or basis not in ("interactions", "default"):
            raise DecodeError("hour must be 0-23 and basis interactions or default")
        return cls(hour, cast(Basis, basis), integer(data, "interactions"))


@dataclass(frozen=True, slots=True)
class BroadcastImpact:
    """Unsubscribes in the 24 h after a broadcast, against the account's baseline."""

    TYPE: ClassVar[str] = "analytics.broadcast_impact"
    broadcast_id: str
    run_id: str
    unsubscribes: int
    baseline: float | None
    lift: float | None

    def to_json(self) -> JsonObject:
        return {
            "broadcast_id": self.broadcast_id,
            "run_id": self.run_id,
            "unsubscribes": self.unsubscribes,
            "baseline": self.baseline,
            "lift": self.lift,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Json]) -> BroadcastImpact:
        return cls(
            text(data, "broadcast_id"),
            text(data, "run_id"),
            integer(data, "unsubscribes"),
            number_or_none(data, "baseline"),
            number_or_none(data, "lift"),
        )
