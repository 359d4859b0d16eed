"""The ``wxp`` command line without a server: settings, answers, output, arguments."""

from __future__ import annotations

import json

import pytest

from shared.cli import build_parser, keys, simulate, tenants
from shared.cli.http import Api, CliError, decoded
from shared.cli.keys import keys_path
from shared.cli.output import render, table
from shared.cli.settings import CliSettings


def test_settings_default_to_the_local_gateway_without_a_key() -> None:
    assert CliSettings.from_env({}) == CliSettings("http://127.0.0.1:8080", None)


def test_settings_prefer_the_api_key_over_the_admin_key() -> None:
    env = {"WXP_URL": "https://wxp.example/", "WXP_API_KEY": "k1", "WXP_ADMIN_KEY": "adm"}
    assert CliSettings.from_env(env) == CliSettings("https://wxp.example", "k1")
    assert CliSettings.from_env({"WXP_API_KEY": "", "WXP_ADMIN_KEY": "adm"}).key == "adm"
    assert CliSettings.from_env({"WXP_API_KEY": "", "WXP_ADMIN_KEY": ""}).key is None


def test_a_successful_answer_is_its_json() -> None:
    assert decoded(200, b'{"items": []}') == {"items": []}
    assert decoded(204, b"") is None


def test_a_refusal_carries_the_status_code_and_the_servers_message() -> None:
    body = json.dumps({"error": {"code": "invalid", "message": "appid is malformed"}}).encode()
    with pytest.raises(CliError, match=r"^422 invalid: appid is malformed$"):
        decoded(422, body)


def test_a_refusal_without_a_json_error_shows_the_body() -> None:
    with pytest.raises(CliError, match=r"^502 error: b'Bad Gateway'$"):
        decoded(502, b"Bad Gateway")


def test_tables_pad_columns_to_their_widest_cell() -> None:
    rows = [{"id": "acme", "name": "Acme Coffee"}, {"id": "b"}]
    assert table(rows, ("id", "name")).splitlines() == [
        "ID    NAME       ",
        "acme  Acme Coffee",
        "b                ",
    ]
    assert table([], ("id",)) == "ID"


def test_a_name_with_line_breaks_or_controls_stays_on_its_row() -> None:
    rows = [{"id": "t1", "name": "Acme\nCoffee\x85\u2028\x1b[31m"}, {"id": "t2", "name": "咖啡 ☕"}]
    lines = table(rows, ("id", "name")).splitlines()
    escaped = "Acme\\nCoffee\\x85\\u2028\\x1b[31m"
    assert [line.rstrip() for line in lines] == ["ID  NAME", f"t1  {escaped}", "t2  咖啡 ☕"]
    assert {len(line) for line in lines} == {len("t1  ") + len(escaped)}


def test_json_output_is_for_scripts_and_text_for_people() -> None:
    assert json.loads(render({"name": "咖啡"}, as_json=True, human="x")) == {"name": "咖啡"}
    assert "咖啡" in render({"name": "咖啡"}, as_json=True, human="x")
    assert render({"name": "咖啡"}, as_json=False, human="x") == "x"


def test_keys_are_agency_wide_unless_a_tenant_is_named() -> None:
    assert keys_path(None) == "/api/keys"
    assert keys_path(None, "k1") == "/api/keys/k1"
    assert keys_path("acme") == "/api/tenants/acme/keys"
    assert keys_path("acme", "k1") == "/api/tenants/acme/keys/k1"


@pytest.mark.parametrize(
    ("argv", "func", "expected"),
    [
        (["tenants", "list", "--json"], tenants.listing, {"json": True}),
        (["tenants", "show", "acme"], tenants.show, {"tenant": "acme", "json": False}),
        (
            ["tenants", "update", "acme", "--regenerate", "token", "--regenerate", "token"],
            tenants.update,
            {"regenerate": ["token", "token"]},
        ),
        (["keys", "revoke", "k1", "--tenant", "acme"], keys.revoke, {"key_id": "k1"}),
        (["keys", "list"], keys.listing, {"tenant": None}),
        (["simulate", "event:CLICK", "--mode", "plain"], simulate.simulate, {"mode": "plain"}),
    ],
)
def test_each_command_reaches_its_function(
    argv: list[str], func: object, expected: dict[str, object]
) -> None:
    args = build_parser().parse_args(argv)
    assert args.func is func
    assert expected.items() <= vars(args).items()


def test_a_missing_required_argument_exits_with_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["tenants", "add", "--name", "x"])
    assert caught.value.code == 2
    assert "--appid" in capsys.readouterr().err


def test_simulate_needs_credentials_or_the_accounts_fields() -> None:
    args = build_parser().parse_args(["simulate", "text", "--tenant", "acme"])
    with pytest.raises(CliError, match="--appid, --token"):
        simulate.simulate(args, Api("http://127.0.0.1:9", None))
