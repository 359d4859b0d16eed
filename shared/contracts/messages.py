"""A reader's message or a WeChat event, as the gateway publishes it (``msg.*``,
``event.*``). WeChat defines the fields and the gateway publishes unknown types too, so
the fields every consumer needs are typed and the rest are kept as WeChat sent them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.contracts.codec import Json, JsonObject, text


@dataclass(frozen=True, slots=True)
class WeChatMessage:
    """A reader's message or a WeChat event: ``account`` (the Official Account's
    ``gh_`` id) and the other fields WeChat sent, snake_cased."""

    account: str
    fields: Mapping[str, Json] = field(default_factory=dict)

    def text(self, name: str) -> str | None:
        value = self.fields.get(name)
        return value if isinstance(value, str) else None

    @property
    def content(self) -> str | None:
        return self.text("content")

    @property
    def event_key(self) -> str | None:
        return self.text("event_key")

    @property
    def scene(self) -> str | None:
        """The QR scene of a subscribe or scan (EventKey without ``qrscene_``)."""
        return self.text("scene")

    def to_json(self) -> JsonObject:
        return {**self.fields, "account": self.account}

    @classmethod
    def from_json(cls, data: Mapping[str, Json]) -> WeChatMessage:
        fields = {k: v for k, v in data.items() if k != "account"}
        return cls(account=text(data, "account"), fields=fields)
