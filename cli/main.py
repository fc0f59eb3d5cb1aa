"""`courierwatch`: the command line. Each command builds settings and calls a service.

Exit status: 0 done, 1 a runtime failure (message on stderr), 2 a usage error (a bad
argument or setting, or a data directory owned by a running worker), 130 interrupted.
"""

from __future__ import annotations

import re
import signal
import sys
from collections.abc import Sequence

from cli.access_commands import AccessError
from cli.commands import UserError
from cli.parser import build_parser
from courierwatch.filter_values import FilterError
from courierwatch.scope import ScopeError
from runtime.settings import SettingsError
from services.access.guard import BindRefused
from services.owner import ApiRefused
from warehouse.client import StoreBusy
from warehouse.filters import UnknownValue
from warehouse.queries import OutsideScope

EXIT_RUNTIME, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


def _stop_gracefully(signum: int, frame: object) -> None:
    """SIGTERM behaves like Ctrl-C: commands stop their workers and broker on the way out."""
    raise KeyboardInterrupt


def one_line(text: str) -> str:
    """The message as one line: escape sequences removed, lines joined."""
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_gracefully)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except (UserError, SettingsError, StoreBusy, AccessError, BindRefused, ScopeError,
            OutsideScope, FilterError, UnknownValue) as exc:
        print(f"courierwatch: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except ApiRefused as exc:
        print(f"courierwatch: {exc}", file=sys.stderr)
        return EXIT_USAGE if exc.status == 400 else EXIT_RUNTIME
    except RuntimeError as exc:
        print(f"courierwatch: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback (issue 23)
        print(f"courierwatch: internal error: {type(exc).__name__}: {one_line(str(exc))}",
              file=sys.stderr)
        return EXIT_RUNTIME


if __name__ == "__main__":
    sys.exit(main())
