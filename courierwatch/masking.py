"""Masking secrets in text that is printed or logged. Pure.

The one rule, used by the settings printout (runtime.settings) and by every log line that
quotes a store error (warehouse.errors.first_line): a password in a URL
(`scheme://user:password@host`) becomes `***`. (Personal data in rejected events is a
different matter: courierwatch.redact.)
"""

from __future__ import annotations

import re

_URL_PASSWORD = re.compile(r"(//[^:/@\s]+:)[^@\s]+@")


def mask_secrets(text: str) -> str:
    """`http://user:pass@host` -> `http://user:***@host`, anywhere in `text`."""
    return _URL_PASSWORD.sub(r"\1***@", text)
