"""A consumer link's answers on direct reply-to, sent together at the end of each turn.

The handlers of a bundle's members answer one by one, in the same turn of the event loop
(their deliveries came together, and a passive answer needs no I/O of its own). An asker
that takes answers together (``x-wxp-answers-together``) gets those of one turn as one
message (``shared/contracts/bundle.py``); any other asker gets each answer alone, at once.
Fire and forget either way, as a single answer always was: no ``mandatory``, no confirm,
and answers lost with the link are lost (each asker has a deadline and a fallback).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from pamqp.commands import Basic

from shared.contracts.bundle import (
    ANSWERS_CONTENT_TYPE,
    ANSWERS_HEADER,
    MAX_ANSWERS,
    encode_answers,
)
from shared.platform.amqp_link import AmqpLink, LinkClosed

logger = logging.getLogger(__name__)
Properties = Basic.Properties


class TurnAnswers:
    """The answers of one link's deliveries."""

    def __init__(self, link: AmqpLink, sent: Callable[[int], None] = lambda _: None) -> None:
        """``sent(n)``: a message carrying ``n`` answers went (a metric, say)."""
        self._link = link
        self._sent = sent
        self._turn: dict[str, list[tuple[bytes, Properties]]] = {}  # reply-to -> answers

    def send(self, reply_to: str, body: bytes, properties: Properties, *, together: bool) -> None:
        """Answers ``properties.correlation_id`` at ``reply_to``: now, or with the others
        of this turn when the asker takes answers ``together``."""
        if not together or not properties.correlation_id:
            self._publish(body, properties, reply_to)
            return
        if not self._turn:
            asyncio.get_running_loop().call_soon(self._send_turn)
        self._turn.setdefault(reply_to, []).append((body, properties))

    def _send_turn(self) -> None:
        turn, self._turn = self._turn, {}
        for reply_to, answers in turn.items():
            for start in range(0, len(answers), MAX_ANSWERS):
                some = answers[start : start + MAX_ANSWERS]
                if len(some) == 1:
                    self._publish(*some[0], reply_to)
                    continue
                header, joined = encode_answers(
                    [(str(answered.correlation_id), body) for body, answered in some]
                )
                headers: dict[str, Any] = {ANSWERS_HEADER: header}
                properties = Properties(content_type=ANSWERS_CONTENT_TYPE, headers=headers)
                self._publish(joined, properties, reply_to, answers=len(some))

    def _publish(
        self, body: bytes, properties: Properties, reply_to: str, *, answers: int = 1
    ) -> None:
        try:
            self._link.publish(body, routing_key=reply_to, properties=properties)
        except LinkClosed as exc:
            logger.info("answers to %s lost with their link: %s", reply_to, exc)
        else:
            self._sent(answers)
