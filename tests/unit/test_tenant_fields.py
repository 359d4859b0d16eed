"""The OpenAPI schemas of a tenant and the validator come from one table, and agree. Pure."""

from __future__ import annotations

import re
from typing import Any

import hypothesis
import pytest
from hypothesis import strategies as st
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from services.gateway.fields import CHANGEABLE, REGENERABLE, RULE, RULES, FieldRule
from services.gateway.openapi import gateway_openapi
from services.gateway.tenants import InvalidField, validate_changes, validate_new

SCHEMAS = gateway_openapi()["components"]["schemas"]
CREATE, PATCH = SCHEMAS["TenantCreate"], SCHEMAS["TenantPatch"]
VALID = {
    "name": "Acme",
    "appid": "wx0123456789abcdef",
    "app_secret": "s",
    "account_type": "service",
    "encrypt_mode": "safe",
}
ACCEPTED = {
    "name": ["Acme", "咖啡 ☕", "A\u200dB", "Ünïcödé — «name»", "x" * 100],
    "id": ["acme-1", "0a", "a" * 41],
    "appid": ["wx0123456789abcdef", "wxABCDEFGHIJKLMNOP"],
    "token": ["tok", "tok123", "T" * 32],
    "encoding_aes_key": ["A" * 43, "a1" * 21 + "Z"],
}
REFUSED = {  # including what Python's `$` lets through and the document's does not
    "name": ["Acme\n", "Acme\nCoffee", "tab\there", "bell\x07", "nel\x85", "ls\u2028", "\x1b[31m"],
    "id": ["Bad_ID", "a", "-lead", "a" * 42, "acme-1\n", "ac me"],
    "appid": ["nope", "wx0123", "wx0123456789abcdef0", "wx0123456789abcdef\n"],
    "token": ["ab", "no spaces allowed", "T" * 33, "tok123\n", "tok-123"],
    "encoding_aes_key": ["short", "A" * 42, "A" * 44, "A" * 42 + "-", "A" * 43 + "\n"],
}


def test_the_document_is_valid_openapi() -> None:
    validate(gateway_openapi())


def test_every_rule_is_in_the_schemas_as_it_is_checked() -> None:
    assert list(CREATE["properties"]) == [rule.name for rule in RULES]
    assert list(PATCH["properties"]) == [*CHANGEABLE, "regenerate"]
    for rule in RULES:
        shown = [CREATE["properties"][rule.name]]
        shown += [PATCH["properties"][rule.name]] if rule.name in CHANGEABLE else []
        for schema in shown:
            assert schema["type"] == "string"
            assert schema.get("pattern") == (rule.pattern.pattern if rule.pattern else None)
            assert schema.get("enum") == (list(rule.choices) or None)
            assert schema.get("maxLength") == rule.max_length
    assert PATCH["properties"]["regenerate"]["items"]["enum"] == list(REGENERABLE)


def test_what_onboarding_requires_is_what_the_validator_needs() -> None:
    assert sorted(CREATE["required"]) == sorted(VALID)
    validate_new(VALID)  # the optional fields are defaulted or made up
    for name in CREATE["required"]:
        with pytest.raises(InvalidField) as caught:
            validate_new({k: v for k, v in VALID.items() if k != name})
        assert caught.value.field == name


@pytest.mark.parametrize(("name", "value"), [(n, v) for n, vs in ACCEPTED.items() for v in vs])
def test_a_value_the_pattern_accepts_is_accepted(name: str, value: str) -> None:
    assert re.fullmatch(CREATE["properties"][name]["pattern"], value)
    assert getattr(validate_new({**VALID, name: value}), name) == value
    if name in CHANGEABLE:
        changes = validate_changes({name: value})
        assert {**changes.fields, **changes.secrets}[name] == value


@pytest.mark.parametrize(("name", "value"), [(n, v) for n, vs in REFUSED.items() for v in vs])
def test_a_value_the_pattern_refuses_is_refused_with_the_field_named(name: str, value: str) -> None:
    assert not re.fullmatch(CREATE["properties"][name]["pattern"], value)
    with pytest.raises(InvalidField) as caught:
        validate_new({**VALID, name: value})
    assert caught.value.field == name
    if name in CHANGEABLE:
        with pytest.raises(InvalidField) as caught:
            validate_changes({name: value})
        assert caught.value.field == name


@pytest.mark.parametrize("rule", [rule for rule in RULES if rule.choices])
def test_the_enum_is_what_the_validator_allows(rule: FieldRule) -> None:
    for value in rule.choices:
        assert getattr(validate_new({**VALID, rule.name: value}), rule.name) == value
    for refused in ["AES", "", None, 1, [rule.choices[0]]]:
        with pytest.raises(InvalidField) as caught:
            validate_new({**VALID, rule.name: refused})
        assert caught.value.field == rule.name


@pytest.mark.parametrize("name", ["name", "app_secret"])
def test_the_max_length_is_what_the_validator_allows(name: str) -> None:
    longest = CREATE["properties"][name]["maxLength"]
    assert getattr(validate_new({**VALID, name: "x" * longest}), name) == "x" * longest
    for refused in ["x" * (longest + 1), "", "   ", None]:
        with pytest.raises(InvalidField) as caught:
            validate_new({**VALID, name: refused})
        assert caught.value.field == name


@pytest.mark.parametrize("zone", ["Mars/Olympus", "Europe", "a" * 300, "", "../etc/passwd", 7])
@pytest.mark.parametrize("patch", [False, True])
def test_an_unknown_timezone_is_refused_not_a_crash(zone: object, patch: bool) -> None:
    with pytest.raises(InvalidField) as caught:
        validate_changes({"timezone": zone}) if patch else validate_new({**VALID, "timezone": zone})
    assert caught.value.field == "timezone"


GOOD = {
    **ACCEPTED,
    **{rule.name: list(rule.choices) for rule in RULES if rule.choices},
    "name": ["Acme 咖啡", "x" * 100],
    "app_secret": ["s", "x" * 128],
    "timezone": ["Europe/Paris", "UTC"],
}


def anything(name: str) -> st.SearchStrategy[Any]:
    """Mostly a good value, else junk: a body with every field good is drawn often."""
    good = st.sampled_from(GOOD.get(name, ["x"]))
    junk = st.one_of(st.none(), st.integers(), st.text(max_size=45))
    refused = st.sampled_from(REFUSED.get(name, [" ", "", "Europe", "wx"]))
    return st.sampled_from([good] * 6 + [junk, refused]).flatmap(lambda drawn: drawn)


def bodies(*, patch: bool) -> st.SearchStrategy[dict[str, Any]]:
    names = CHANGEABLE if patch else [name for name in RULE if name not in VALID]
    optional = {name: anything(name) for name in names}
    if patch:
        regenerate = st.sampled_from(["token", "encoding_aes_key", "token", "id", 1])
        optional["regenerate"] = st.lists(regenerate, max_size=3)
        return st.fixed_dictionaries({}, optional=optional)
    return st.fixed_dictionaries({name: anything(name) for name in VALID}, optional=optional)


@hypothesis.settings(max_examples=400, derandomize=True, database=None)
@hypothesis.given(patch=st.booleans(), data=st.data())
def test_what_the_document_refuses_the_validator_refuses(patch: bool, data: st.DataObject) -> None:
    """What the fuzz checks against the server (negative data is rejected), here pure:
    whatever the validator accepts, the document's schema accepts too."""
    body = data.draw(bodies(patch=patch))
    schema, validator = (PATCH, validate_changes) if patch else (CREATE, validate_new)
    try:
        validator(body)
    except InvalidField as exc:
        named = exc.field
    else:
        named = ""
        assert OAS30Validator(schema).is_valid(body), body
    assert named in {"", "body", *body, *REGENERABLE}
