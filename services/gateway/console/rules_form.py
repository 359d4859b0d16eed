"""The rules page's form for the common kinds (keyword, follow, menu click → a text) to
and from rule JSON, the API's refusals on the form's inputs, moves, and the dry run's
message. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.gateway.console.backend import BackendError

Rule = dict[str, Any]
KEYWORD_MATCHES = ("contains", "exact", "prefix", "regex")
FORM_TRIGGERS = (*KEYWORD_MATCHES, "subscribe", "click")
TEST_KINDS = ("text", "subscribe", "click")


@dataclass(frozen=True, slots=True)
class RuleForm:
    """A rule as the form shows it: a trigger from ``FORM_TRIGGERS`` and a text reply."""

    name: str = ""
    trigger: str = "contains"
    pattern: str = ""
    reply: str = ""
    enabled: bool = True

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> RuleForm:
        return cls(
            name=form.get("name", "").strip(),
            trigger=form.get("trigger", ""),
            pattern=form.get("pattern", ""),
            reply=form.get("reply", ""),
            enabled="enabled" in form,
        )

    @classmethod
    def of_rule(cls, rule: Mapping[str, Any]) -> RuleForm | None:
        """The form of a stored rule, or ``None`` when the form cannot show all of it."""
        trigger, reply = rule.get("trigger") or {}, rule.get("reply") or {}
        if rule.get("active_hours") or "replies" in rule or reply.get("type") != "text":
            return None
        kind = trigger.get("kind")
        if kind == "keyword":
            chosen, pattern = str(trigger.get("match")), str(trigger.get("pattern"))
        elif kind == "click":
            chosen, pattern = "click", str(trigger.get("key"))
        elif kind == "subscribe" and not trigger.get("scene"):
            chosen, pattern = "subscribe", ""
        else:
            return None
        name, text = str(rule.get("name", "")), str(reply.get("content", ""))
        return cls(name, chosen, pattern, text, bool(rule.get("enabled", True)))

    def trigger_json(self) -> dict[str, str]:
        if self.trigger == "subscribe":
            return {"kind": "subscribe"}
        if self.trigger == "click":
            return {"kind": "click", "key": self.pattern.strip()}
        return {"kind": "keyword", "match": self.trigger, "pattern": self.pattern}

    def change(self) -> Rule:
        """The fields the form decides (a PATCH of an existing rule)."""
        default = "subscribe" if self.trigger == "subscribe" else self.pattern.strip()
        return {
            "name": self.name or default,
            "trigger": self.trigger_json(),
            "reply": {"type": "text", "content": self.reply},
        }

    def new_rule(self, priority: int) -> Rule:
        return {**self.change(), "enabled": self.enabled, "priority": priority}


def form_field(api_field: str | None) -> str:
    """Which input of the form an API error's ``field`` is about (``form``: none)."""
    top, _, rest = (api_field or "").partition(".")
    if top == "trigger":
        return "trigger" if rest in ("kind", "match") else "pattern"
    return top if top in ("name", "reply") else "form"


def errors_of(error: BackendError) -> dict[str, str]:
    """An API refusal as ``{form field: the service's words}``."""
    prefix = f"{error.field}: " if error.field else ""
    return {form_field(error.field): error.message.removeprefix(prefix)}


def last_priority(rules: Sequence[Rule]) -> int:
    """A new rule's priority: the last rule's (the older one wins a tie), so it goes last."""
    return min((int(rule["priority"]) for rule in rules), default=0)


def moved(ids: Sequence[str], rule_id: str, step: int) -> list[str]:
    """``ids`` with ``rule_id`` moved ``step`` places (kept within the list)."""
    order = [i for i in ids if i != rule_id]
    if len(order) == len(ids):
        return list(ids)
    at = max(0, min(len(order), list(ids).index(rule_id) + step))
    order.insert(at, rule_id)
    return order


def move_order(rules: Sequence[Rule], form: Mapping[str, str]) -> list[str]:
    """The order after a move button's ``move=up:<id>`` (or ``down:<id>``) without script."""
    direction, _, rule_id = form.get("move", "").partition(":")
    return moved([rule["id"] for rule in rules], rule_id, -1 if direction == "up" else 1)


def order_of(body: Any) -> Any:
    """The ``order`` of the page script's JSON (``None`` when absent: the API refuses it)."""
    return body.get("order") if isinstance(body, dict) else None


def dry_run_message(kind: str, text: str) -> dict[str, str]:
    """The dry run's message for the box: a text, a follow, or a menu click."""
    if kind == "subscribe":
        return {"event": "subscribe"}
    if kind == "click":
        return {"event": "CLICK", "event_key": text.strip()}
    return {"msgtype": "text", "content": text}
