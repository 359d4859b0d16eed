"""The wizard's pure parts: the form to the API's body, what is kept after a refusal
(never the secret), refusals to the form's words, and the connection time shown in the
account's timezone."""

from __future__ import annotations

from services.gateway.console.onboarding import (
    MODES,
    Problem,
    connection_of,
    kept_of,
    local_time,
    problem_of,
    request_of,
)
from services.gateway.fields import RULE

FORM = {
    "csrf": "token",
    "name": " Acme 咖啡 ",
    "appid": "wx0123456789abcdef",
    "app_secret": "s3cret",
    "account_type": "service",
    "encrypt_mode": "compatible",
    "timezone": "",
}


def test_the_body_has_the_api_fields_only_and_the_default_timezone() -> None:
    assert request_of(FORM) == {
        "name": "Acme 咖啡",
        "appid": "wx0123456789abcdef",
        "app_secret": "s3cret",
        "account_type": "service",
        "encrypt_mode": "compatible",
        "timezone": "Asia/Shanghai",
    }


def test_a_refused_form_keeps_what_was_typed_but_the_secret() -> None:
    kept = kept_of({**FORM, "timezone": "Europe/Berlin"})
    assert "app_secret" not in kept
    assert kept["name"] == "Acme 咖啡"
    assert kept["timezone"] == "Europe/Berlin"
    assert kept_of({})["encrypt_mode"] == "safe"


def test_refusals_are_put_next_to_their_field() -> None:
    assert problem_of(422, "appid", "appid: bad") == Problem(
        "appid", "onboarding.error.appid", "appid: bad"
    )
    assert problem_of(409, "appid", "taken").message_id == "onboarding.error.appid_taken"
    assert problem_of(422, "body", "odd") == Problem(None, None, "odd")
    assert problem_of(409, None, "busy").field is None


def test_the_modes_offered_are_the_apis() -> None:
    assert set(MODES) == set(RULE["encrypt_mode"].choices)
    assert MODES[0] == "safe"


def test_the_connection_time_is_the_accounts_local_time() -> None:
    assert local_time("2026-05-01T04:00:03+00:00", "Asia/Shanghai") == "2026-05-01 12:00:03"
    assert local_time("2026-05-01T04:00:03", "Europe/Berlin") == "2026-05-01 06:00:03"
    assert local_time("2026-05-01T04:00:03+00:00", "Not/AZone") == "2026-05-01 12:00:03"
    waiting = connection_of({"id": "tacme00001", "connected_at": None, "timezone": "UTC"})
    assert waiting == {"account": "tacme00001", "connected": None, "zone": "UTC"}
    assert connection_of({"id": "t1", "connected_at": "2026-05-01T04:00:03+00:00"}) == {
        "account": "t1",
        "connected": "2026-05-01 12:00:03",
        "zone": "Asia/Shanghai",
    }
