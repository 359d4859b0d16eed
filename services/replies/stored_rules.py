"""Stored rules as typed rules, one by one, pure: a stored rule that does not validate
(written by an older version, or straight into the database) is skipped and reported,
never fatal to the tenant's other rules."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from services.replies.rules import InvalidRule, Rule
from services.replies.validation import validate_rule

MAX_ERROR = 200  # characters of a skipped rule's error kept (it may quote the rule)


@dataclass(frozen=True, slots=True)
class Skipped:
    rule_id: str
    error: str

    def to_json(self) -> dict[str, str]:
        return {"id": self.rule_id, "error": self.error}


@dataclass(frozen=True, slots=True)
class Loaded:
    """The rules that validate (with the JSON each was stored as), and those skipped."""

    rules: list[Rule]
    stored: list[dict[str, Any]]
    skipped: list[Skipped]


def load_rules(stored: Iterable[Mapping[str, Any]]) -> Loaded:
    loaded = Loaded([], [], [])
    for doc in stored:
        try:
            rule = validate_rule(dict(doc))
        except InvalidRule as exc:
            loaded.skipped.append(Skipped(_id_of(doc), f"{exc.field}: {exc.message}"[:MAX_ERROR]))
        except Exception as exc:  # a stored document can hold anything
            loaded.skipped.append(Skipped(_id_of(doc), f"unreadable: {type(exc).__name__}"))
        else:
            loaded.rules.append(rule)
            loaded.stored.append(dict(doc))
    return loaded


def _id_of(doc: Mapping[str, Any]) -> str:
    rule_id = doc.get("id")
    return rule_id if isinstance(rule_id, str) else "?"
