"""The rules page's rules in words, the dry run's outcome, and the templates' contexts.
Pure."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.gateway.console.rules_form import FORM_TRIGGERS, TEST_KINDS, Rule, RuleForm

Translate = Callable[[str], str]
DONE = ("created", "saved", "enabled", "disabled", "deleted", "moved")
SHORT = 60  # characters of a reply shown in the list


def shorten(text: str, width: int = SHORT) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def match_text(rule: Mapping[str, Any], t: Translate) -> str:
    trigger = rule["trigger"]
    kind = trigger["kind"]
    if kind == "keyword":
        what = t(f"rules.match.{trigger['match']}").format(pattern=trigger["pattern"])
    elif kind in ("subscribe", "scan"):
        scene = trigger.get("scene")
        message = f"rules.match.{kind}_scene" if scene else f"rules.match.{kind}"
        what = t(message).format(scene=scene)
    elif kind == "click":
        what = t("rules.match.click").format(key=trigger["key"])
    elif kind == "msgtype":
        what = t("rules.match.msgtype").format(msgtype=trigger["msgtype"])
    else:
        what = t("rules.match.default")
    hours = rule.get("active_hours")
    return t("rules.match.hours").format(what=what, hours=hours_text(hours, t)) if hours else what


def hours_text(hours: Mapping[str, Any], t: Translate) -> str:
    names = t("rules.weekdays").split()
    days = " ".join(names[day - 1] for day in hours.get("days") or [] if 1 <= day <= 7)
    return f"{hours['start']}–{hours['end']}" + (f" {days}" if days else "")


def reply_text(reply: Mapping[str, Any], t: Translate, width: int = SHORT) -> str:
    kind = str(reply.get("type"))
    if kind == "text":
        said = str(reply.get("content", ""))
    elif kind == "news":
        said = "; ".join(str(article.get("title")) for article in reply.get("articles", []))
    else:
        said = str(reply.get("title") or reply.get("media_id") or reply.get("thumb_media_id"))
    return t("rules.reply.line").format(kind=t(f"rules.reply.{kind}"), said=shorten(said, width))


def replies_text(rule: Mapping[str, Any], t: Translate) -> str:
    if "reply" in rule:
        return reply_text(rule["reply"], t)
    return t("rules.reply.several").format(count=len(rule["replies"]))


@dataclass(frozen=True, slots=True)
class RuleRow:
    id: str
    name: str
    position: int
    enabled: bool
    match: str
    reply: str
    editable: bool


def rows_of(rules: Sequence[Rule], t: Translate) -> list[RuleRow]:
    return [
        RuleRow(
            id=rule["id"],
            name=rule["name"],
            position=position,
            enabled=bool(rule["enabled"]),
            match=match_text(rule, t),
            reply=replies_text(rule, t),
            editable=RuleForm.of_rule(rule) is not None,
        )
        for position, rule in enumerate(rules, start=1)
    ]


@dataclass(frozen=True, slots=True)
class DryRun:
    kind: str = "text"
    text: str = ""
    answered: bool | None = None  # None: not run yet
    who: str = ""
    said: str = ""
    error: str = ""


def dry_run_of(kind: str, text: str, answer: Mapping[str, Any], t: Translate) -> DryRun:
    reply, rule = answer.get("reply"), answer.get("rule")
    if reply is None:
        return DryRun(kind, text, answered=False)
    if rule is None:
        who = t("rules.dry.some_rule")
    else:
        who = t("rules.dry.answers").format(name=rule["name"], match=match_text(rule, t))
    said = str(reply["content"]) if reply.get("type") == "text" else reply_text(reply, t, 200)
    return DryRun(kind, text, answered=True, who=who, said=said)


@dataclass(slots=True)
class View:
    """What the list page shows besides the rules."""

    form: RuleForm = field(default_factory=RuleForm)
    errors: dict[str, str] = field(default_factory=dict)
    dry: DryRun = field(default_factory=DryRun)


def list_context(listing: Mapping[str, Any], view: View, done: str, t: Translate) -> dict[str, Any]:
    """``rules.html``'s context: the listed rules in words, the form and the dry run."""
    return {
        "rows": rows_of(listing["items"], t),
        "skipped": listing["skipped"],
        "view": view,
        "triggers": FORM_TRIGGERS,
        "test_kinds": TEST_KINDS,
        "done": f"rules.done.{done}" if done in DONE else None,
    }


def edit_context(rule: Rule, form: RuleForm | None, errors: dict[str, str]) -> dict[str, Any]:
    """``rules_edit.html``'s context: the form when it can show the rule, and its JSON."""
    return {
        "rule": rule,
        "form": form,
        "errors": errors,
        "triggers": FORM_TRIGGERS,
        "rule_json": json.dumps(rule, ensure_ascii=False, indent=2),
    }
