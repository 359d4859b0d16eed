"""How a command fails: one line on stderr that starts ``wxp:``, and a non-zero exit code;
never a traceback. What the CLI expects (a :class:`CliError`: an unreadable file, a server
out of reach, the server's refusal) is said as it is; anything else is a bug, said in one
line with the hint that ``WXP_DEBUG=1`` shows its traceback."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

from shared.cli.http import CliError

FAILED = 1
INTERRUPTED = 130  # what shells report for Ctrl-C


def fail(message: str, code: int = FAILED) -> NoReturn:
    print(f"wxp: {' '.join(message.split())}", file=sys.stderr)
    sys.exit(code)


def os_error_text(exc: OSError) -> str:
    if exc.strerror and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    return exc.strerror or str(exc)


@contextmanager
def reported(*, debug: bool) -> Iterator[None]:
    """Runs the body (a command); ends the process as above if it raises."""
    try:
        yield
    except CliError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted", INTERRUPTED)
    except BrokenPipeError:  # whoever read stdout stopped (`wxp … | head`): nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(FAILED)
    except OSError as exc:
        if debug:
            raise
        fail(os_error_text(exc))
    except Exception as exc:
        if debug:
            raise
        detail = f": {exc}" if str(exc) else ""
        fail(f"unexpected {type(exc).__name__}{detail} (WXP_DEBUG=1 shows the traceback)")
