"""Aho-Corasick string matching, pure Python: every pattern found in a text in one pass,
O(len(text) + hits) whatever the number of patterns."""

from __future__ import annotations

from collections.abc import Iterator, Sequence


class Automaton:
    """Aho-Corasick over distinct non-empty patterns; ``find`` yields (pattern id, end)."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self._goto: list[dict[str, int]] = [{}]
        self._own = [-1]  # the pattern ending exactly at this state
        for pid, pattern in enumerate(patterns):
            state = 0
            for ch in pattern:
                nxt = self._goto[state].get(ch)
                if nxt is None:
                    nxt = self._goto[state][ch] = len(self._goto)
                    self._goto.append({})
                    self._own.append(-1)
                state = nxt
            self._own[state] = pid
        self._fail = [0] * len(self._goto)
        self._out = [0] * len(self._goto)  # nearest proper suffix state ending a pattern
        queue = list(self._goto[0].values())
        for state in queue:  # breadth first: a state's fail link is set before its children
            for ch, child in self._goto[state].items():
                queue.append(child)
                f = self._fail[state]
                while f and ch not in self._goto[f]:
                    f = self._fail[f]
                fallback = self._fail[child] = self._goto[f].get(ch, 0)
                self._out[child] = fallback if self._own[fallback] >= 0 else self._out[fallback]

    def find(self, text: str) -> Iterator[tuple[int, int]]:
        goto, fail, own, out = self._goto, self._fail, self._own, self._out
        state = 0
        for end, ch in enumerate(text):
            while state and ch not in goto[state]:
                state = fail[state]
            state = goto[state].get(ch, 0)
            hit = state if own[state] >= 0 else out[state]
            while hit:
                yield own[hit], end
                hit = out[hit]
