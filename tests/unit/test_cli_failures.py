"""How a ``wxp`` command fails: one line on stderr, a non-zero exit, no traceback."""

from __future__ import annotations

import errno

import pytest

from shared.cli.failures import reported
from shared.cli.http import CliError, api_path, request


def failure(capsys: pytest.CaptureFixture[str], exc: BaseException) -> tuple[object, str]:
    with pytest.raises(SystemExit) as caught, reported(debug=False):
        raise exc
    captured = capsys.readouterr()
    assert captured.out == ""
    return caught.value.code, captured.err


@pytest.mark.parametrize(
    ("exc", "code", "line"),
    [
        (CliError("422 invalid: name: required"), 1, "wxp: 422 invalid: name: required"),
        (CliError("500 internal:\n  two\tlines"), 1, "wxp: 500 internal: two lines"),
        (KeyboardInterrupt(), 130, "wxp: interrupted"),
        (
            OSError(errno.ENOSPC, "No space left on device", "out.csv"),
            1,
            "wxp: out.csv: No space left on device",
        ),
        (
            KeyError("items"),
            1,
            "wxp: unexpected KeyError: 'items' (WXP_DEBUG=1 shows the traceback)",
        ),
        (AssertionError(), 1, "wxp: unexpected AssertionError (WXP_DEBUG=1 shows the traceback)"),
    ],
)
def test_each_failure_is_one_line_and_an_exit_code(
    exc: BaseException, code: int, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert failure(capsys, exc) == (code, line + "\n")


def test_with_debug_what_the_cli_did_not_expect_goes_on_with_its_traceback() -> None:
    for exc in (KeyError("items"), OSError(errno.EIO, "I/O error")):
        with pytest.raises(type(exc)), reported(debug=True):
            raise exc
    with pytest.raises(SystemExit), reported(debug=True):
        raise CliError("expected failures stay one line")


def test_a_command_that_succeeds_is_left_alone(capsys: pytest.CaptureFixture[str]) -> None:
    with reported(debug=False):
        print("done")
    assert capsys.readouterr() == ("done\n", "")


def test_ids_are_one_quoted_path_segment_each() -> None:
    assert api_path("api", "tenants", "acme", "rules") == "/api/tenants/acme/rules"
    assert api_path("api", "tenants", "a b/c?d") == "/api/tenants/a%20b%2Fc%3Fd"
    for bad in ("", ".", ".."):
        with pytest.raises(CliError, match="is not an id"):
            api_path("api", "tenants", bad)


@pytest.mark.parametrize("key", ["ключ", "k\nX-Injected: 1", "k\x00"])
def test_a_key_no_http_header_can_carry_is_refused_before_calling(key: str) -> None:
    with pytest.raises(CliError, match=r"^the API key \(WXP_API_KEY or WXP_ADMIN_KEY\)"):
        request("GET", "http://127.0.0.1:9/api/tenants", key=key)


def test_a_url_urllib_cannot_call_is_a_cli_error() -> None:
    with pytest.raises(CliError, match=r"^cannot call http://\[::1/x: Invalid IPv6 URL$"):
        request("GET", "http://[::1/x")
