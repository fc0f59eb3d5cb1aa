"""Container health check: the worker's HTTP API answers `GET /api/status`.

Sends the ops token (COURIERWATCH_OPS_TOKEN: deploy/compose.yaml and deploy/k8s store its
hash before the worker starts). Exit 0 when the API answers 200, or 401/403 when no token
was given (the API is up and enforces tokens, issue 14: an image run without the deploy
files); 1 otherwise, so a worker that does not accept the ops token is unhealthy, and 1 with
a line on stderr when the settings themselves are bad. The port and the token come from the
settings table (runtime.settings), like every other command's: the image installs the
application, so the check reads the same variables, with the same defaults, as the worker.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

from runtime.settings import SettingsError, load_settings, variable_of

TOKEN_ENV = variable_of("ops_token")


def main() -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        sys.stderr.write(f"healthcheck: {exc}\n")
        return 1
    req = urllib.request.Request(f"http://127.0.0.1:{settings.api_port}/api/status")
    token = settings.ops_token.strip()
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=4) as resp:  # noqa: S310 - fixed local URL
            return 0 if resp.status == 200 else 1
    except urllib.error.HTTPError as exc:
        return 0 if exc.code in (401, 403) and not token else 1
    except OSError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
