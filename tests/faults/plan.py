"""The run, derived from one seed: which webhooks go when, and which faults strike when.

Pure: the same seed and size give the same plan. What the plan cannot fix in advance
(how long a request takes, which attempts fail) is recorded as the run goes.
"""

from __future__ import annotations

import os
import random
import secrets
from dataclasses import dataclass
from typing import Any

# (weight, sample, overrides, wants a reply, a rule of every tenant matches it)
KINDS: tuple[tuple[int, str, dict[str, Any], bool, bool], ...] = (
    (25, "text", {"Content": "菜单"}, True, True),
    (12, "text", {"Content": "hello"}, True, False),
    (5, "image", {}, True, False),
    (10, "event:subscribe", {}, True, True),
    (10, "event:CLICK", {"EventKey": "MENU_NEWS"}, True, True),
    (20, "event:VIEW", {}, False, False),
    (10, "event:LOCATION", {}, False, False),
    (8, "event:unsubscribe", {}, False, False),
)
FAULT_KINDS = ("latency", "blackhole", "cut", "broker", "ferretdb", "kill_gateway", "kill_replies")
REPLICAS = ("gateway-a", "gateway-b", "replies-a", "replies-b")
ROUTES = tuple(f"{replica}-{server}" for replica in REPLICAS for server in ("amqp", "db"))


@dataclass(frozen=True, slots=True)
class Size:
    """How big a run is: ``WXP_FAULTS_RATE`` webhooks a second for as long as the fault
    schedule lasts (``WXP_FAULTS_STEP_SECONDS`` per fault) plus a quiet tail. While
    developing, ``WXP_FAULTS_ONLY=latency,cut`` strikes only those kinds."""

    rate: float = 30.0
    step_seconds: float = 9.0
    lead_seconds: float = 5.0
    tail_seconds: float = 6.0
    kinds: tuple[str, ...] = FAULT_KINDS

    def describe(self) -> str:
        kinds = "" if self.kinds == FAULT_KINDS else f" only={','.join(self.kinds)}"
        return f"rate={self.rate:g}/s step={self.step_seconds:g}s{kinds}"

    @classmethod
    def from_env(cls) -> Size:
        default = cls()
        only = os.environ.get("WXP_FAULTS_ONLY")
        kinds = tuple(k for k in FAULT_KINDS if k in only.split(",")) if only else FAULT_KINDS
        return cls(
            rate=float(os.environ.get("WXP_FAULTS_RATE") or default.rate),
            step_seconds=float(os.environ.get("WXP_FAULTS_STEP_SECONDS") or default.step_seconds),
            kinds=kinds or FAULT_KINDS,
        )


def seed_from_env() -> int:
    """``WXP_FAULTS_SEED`` replays a run; without it every run draws a new seed."""
    raw = os.environ.get("WXP_FAULTS_SEED")
    return int(raw) if raw else secrets.randbelow(10**6)


@dataclass(frozen=True, slots=True)
class Webhook:
    """One message or event: WeChat sends its body once, and again on failure."""

    n: int
    at: float  # seconds after the traffic starts
    tenant: int
    sample: str
    overrides: dict[str, Any]
    openid: str
    msg_id: str | None
    wants_reply: bool
    rule: bool

    @property
    def is_event(self) -> bool:
        return self.sample.startswith("event:")

    @property
    def event_name(self) -> str:
        return self.sample.removeprefix("event:")


@dataclass(frozen=True, slots=True)
class Fault:
    """``kind`` strikes ``target`` at ``at`` (seconds after the traffic starts) for ``seconds``."""

    kind: str  # latency | blackhole | cut | broker | ferretdb | kill_gateway | kill_replies
    at: float
    seconds: float
    target: str = ""  # a proxy route or a replica
    delay: float = 0.0  # latency added per chunk

    def describe(self) -> str:
        extra = f" {self.delay:.2f}s/chunk" if self.delay else ""
        return f"{self.kind}({self.target or '-'}{extra}) at {self.at:.1f}s for {self.seconds:.1f}s"


@dataclass(frozen=True, slots=True)
class Plan:
    seed: int
    size: Size
    tenants: int
    webhooks: tuple[Webhook, ...]
    faults: tuple[Fault, ...]
    duration: float  # seconds of traffic


def fault_schedule(rng: random.Random, size: Size) -> list[Fault]:
    """Every kind of fault once, in a seeded order, one at a time with quiet between."""
    steps = list(size.kinds)
    rng.shuffle(steps)
    faults, at = [], size.lead_seconds
    for kind in steps:
        at += rng.uniform(0.0, 1.5)
        seconds = round(rng.uniform(2.5, 4.0), 2)
        if kind in ("latency", "blackhole", "cut"):
            target = rng.choice(ROUTES)
            delay = round(rng.uniform(0.2, 0.8), 2) if kind == "latency" else 0.0
            faults.append(
                Fault(kind, round(at, 2), 0.0 if kind == "cut" else seconds, target, delay)
            )
        elif kind == "kill_gateway":  # killed while its broker link is slow: much in flight
            faults.append(Fault(kind, round(at, 2), 1.5, rng.choice(REPLICAS[:2]), 0.25))
        elif kind == "kill_replies":
            faults.append(Fault(kind, round(at, 2), 0.0, rng.choice(REPLICAS[2:])))
        else:
            faults.append(Fault(kind, round(at, 2), seconds))
        at += size.step_seconds
    return faults


def make_plan(seed: int, size: Size, *, tenants: int = 3) -> Plan:
    rng = random.Random(seed)
    faults = fault_schedule(rng, size)
    duration = faults[-1].at + faults[-1].seconds + size.step_seconds / 2 + size.tail_seconds
    weights = [k[0] for k in KINDS]
    webhooks, at, n = [], 0.0, 0
    while True:
        at += rng.expovariate(size.rate)
        if at >= duration:
            break
        _, sample, overrides, wants_reply, rule = rng.choices(KINDS, weights)[0]
        webhooks.append(
            Webhook(
                n=n,
                at=round(at, 4),
                tenant=rng.randrange(tenants),
                sample=sample,
                overrides=dict(overrides),
                openid=f"o_{seed}_{n}",  # one reader each: a customer-service send names its event
                msg_id=None if sample.startswith("event:") else str(seed * 10**7 + n),
                wants_reply=wants_reply,
                rule=rule,
            )
        )
        n += 1
    return Plan(seed, size, tenants, tuple(webhooks), tuple(faults), round(duration, 2))
