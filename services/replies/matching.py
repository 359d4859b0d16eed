"""Which rule answers an inbound message: a rule set compiled once, matched per message.

Keywords: exact patterns in a dict, prefix and contains patterns in one Aho-Corasick
automaton (pure Python, below), so a message costs O(len(text) + hits) whatever the
number of rules. Regex rules (RE2, linear time) run afterwards, in rank order, and only
those that could still beat the best keyword hit. Ranks order rules by priority (higher
first), then by their position in the sequence given to ``compile`` (creation order).
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Literal

from services.replies.automaton import Automaton
from services.replies.rules import (
    RandomSource,
    Regex,
    Rule,
    compile_regex,
    pick_reply,
    placeholder_values,
    render,
)
from shared.contracts.reply import Reply


@dataclass(frozen=True, slots=True)
class Inbound:
    kind: Literal["msg", "event"]
    type: str  # the MsgType of a message, the Event of an event (any case)
    openid: str
    content: str | None = None
    event_key: str | None = None
    scene: str | None = None
    msgtype: str = ""


def normalise(text: str) -> str:
    """Width- and case-insensitive form: NFKC (full-width to half-width), casefold, strip."""
    return unicodedata.normalize("NFKC", text).casefold().strip()


@dataclass(slots=True)
class RuleSet:
    tz: tzinfo
    rules: list[Rule] = field(default_factory=list)  # enabled rules, best rank first
    exact: dict[str, list[int]] = field(default_factory=dict)
    patterns: list[str] = field(default_factory=list)
    prefix: list[list[int]] = field(default_factory=list)  # by pattern id
    contains: list[list[int]] = field(default_factory=list)
    automaton: Automaton = field(default_factory=lambda: Automaton(()))
    regexes: list[tuple[int, Regex]] = field(default_factory=list)
    by_key: dict[tuple[str, str | None], list[int]] = field(default_factory=dict)

    @classmethod
    def compile(cls, rules: Sequence[Rule], *, tz: tzinfo) -> RuleSet:
        """Index the enabled rules once; ``tz`` is the tenant's timezone."""
        enabled = [(i, r) for i, r in enumerate(rules) if r.enabled]
        enabled.sort(key=lambda pair: (-pair[1].priority, pair[0]))
        self = cls(tz, [rule for _, rule in enabled])
        pattern_ids: dict[str, int] = {}
        by_key: defaultdict[tuple[str, str | None], list[int]] = defaultdict(list)
        for rank, rule in enumerate(self.rules):
            t = rule.trigger
            if t.kind != "keyword":
                by_key[t.kind, t.scene or t.key or t.msgtype].append(rank)
            elif t.match == "regex":
                self.regexes.append((rank, compile_regex(str(t.pattern))))
            elif t.match == "exact":
                self.exact.setdefault(normalise(str(t.pattern)), []).append(rank)
            else:
                pid = pattern_ids.setdefault(normalise(str(t.pattern)), len(pattern_ids))
                if pid == len(self.prefix):
                    self.prefix.append([])
                    self.contains.append([])
                (self.prefix if t.match == "prefix" else self.contains)[pid].append(rank)
        self.patterns = list(pattern_ids)
        self.automaton = Automaton(self.patterns)
        self.by_key = dict(by_key)
        return self

    def _first_active(self, ranks: Iterator[int] | list[int], local: datetime) -> int | None:
        for rank in ranks:
            window = self.rules[rank].active_hours
            if window is None or window.contains(local):
                return rank
        return None

    def _keyword(self, text: str, local: datetime) -> int | None:
        folded = normalise(text)
        candidates = set(self.exact.get(folded, ()))
        for pid, end in self.automaton.find(folded):
            candidates.update(self.contains[pid])
            if end + 1 == len(self.patterns[pid]):
                candidates.update(self.prefix[pid])
        best = self._first_active(iter(sorted(candidates)), local)
        plain = unicodedata.normalize("NFKC", text).strip()
        for rank, regex in self.regexes:  # few, and each linear in the text
            if best is not None and rank > best:
                break
            if self._first_active([rank], local) is not None and regex.search(plain):
                return rank
        return best

    def match(self, inbound: Inbound, now: datetime) -> Rule | None:
        """The winning enabled, active rule for ``inbound`` at ``now`` (timezone-aware)."""
        local = now.astimezone(self.tz)
        kind, rank = inbound.type.lower(), None
        if inbound.kind == "event" and kind in ("subscribe", "scan"):
            if inbound.scene:
                rank = self._first_active(self.by_key.get((kind, inbound.scene), []), local)
            if rank is None:
                rank = self._first_active(self.by_key.get((kind, None), []), local)
        elif inbound.kind == "event" and kind == "click":
            rank = self._first_active(self.by_key.get(("click", inbound.event_key), []), local)
        elif inbound.kind == "msg":
            if kind == "text" and inbound.content:
                rank = self._keyword(inbound.content, local)
            if rank is None:
                rank = self._first_active(self.by_key.get(("msgtype", kind), []), local)
            if rank is None:
                rank = self._first_active(self.by_key.get(("default", None), []), local)
        return None if rank is None else self.rules[rank]

    def answer(
        self, inbound: Inbound, now: datetime, rng: RandomSource
    ) -> tuple[Rule, Reply] | None:
        """The winning rule and its reply, picked with ``rng`` and with placeholders filled."""
        rule = self.match(inbound, now)
        if rule is None:
            return None
        local = now.astimezone(self.tz)
        values = placeholder_values(inbound.openid, inbound.content or "", local)
        return rule, render(pick_reply(rule, rng), values)
