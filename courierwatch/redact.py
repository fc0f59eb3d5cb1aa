"""What a dead letter may keep of rejected bytes: a redacted copy and a hash, never personal data.

DESIGN.md ("No personal data travels in events") and the seeds' 绿盾工程 (protected user
data) hold for the dead letters too: an event refused *because* it carries a phone number
must not park that number in `dead_letters` or the dead-letter topic. So a dead letter keeps

- `redacted_copy(raw)`: the text with the digits and e-mail addresses of anything that
  looks like personal data masked, and the value of any field named for personal data
  (`receiver_phone`, `姓名`, ...) replaced, bounded to `MAX_COPY_CHARS`;
- `raw_sha256(raw)`: the SHA-256 of the bytes as received, so an operator holding the
  original (the producer's log) can match it to its dead letter without the store keeping it.

Rules. JSON that parses is redacted value by value after JSON unescaping (so `\\u0031...`
cannot hide a number) and after folding lookalike digits (fullwidth ３, Arabic-Indic ٣): a
string the personal-data screen flags loses every digit (`#`) and every e-mail address; a
number the screen flags becomes a masked string; every value under a key naming personal
data becomes `"<redacted>"`. Text that does not parse is unescaped and folded the same way,
then every run of `MIN_MASKED_RUN` or more digits (spaces, dashes, dots and parentheses
between them allowed) and every e-mail address is masked, and so is the string after a key
naming personal data. Both rules mask more than the screen flags, never less. Text nested
deeper than `MAX_PARSED_DEPTH` is treated as text that does not parse (no recursion).
Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import json
import re

from courierwatch.contract import (
    ascii_digits,
    key_names_personal_data,
    nesting_depth,
    text_has_personal_data,
)

MAX_COPY_CHARS = 4096
MAX_PARSED_DEPTH = 32  # deeper text is masked as unparsed text (no recursion past this)
MIN_MASKED_RUN = 7     # digits in a run masked in unparsed text (phones have 11, ID cards 18)
REDACTED = "<redacted>"

# Starts only where a token starts (the look-behind), so a long run of token characters
# without an '@' is scanned once, not once per position.
_EMAIL = re.compile(r"(?<![^\s\"'<>@,;:])[^\s\"'<>@,;:]+@[^\s\"'<>@,;:]+")
_DIGIT = re.compile(r"[0-9]")
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_LONG_RUN = re.compile(r"[0-9](?:[\s\-.()]*[0-9]){" + str(MIN_MASKED_RUN - 1) + ",}")
_KEYED_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"(\s*:\s*)"((?:[^"\\]|\\.)*)"')


def raw_sha256(raw: bytes) -> str:
    """Hex SHA-256 of the bytes as received."""
    return hashlib.sha256(raw).hexdigest()


def redacted_copy(raw: bytes) -> str:
    """The bytes as text with personal data masked (see the module docstring), at most
    `MAX_COPY_CHARS` characters. Total: never raises for any input."""
    text = raw.decode("utf-8", "replace")
    try:
        if nesting_depth(raw) > MAX_PARSED_DEPTH:
            raise ValueError("too deep to parse")
        out = _dump(json.loads(text, object_pairs_hook=_Pairs))
    except (ValueError, RecursionError):
        out = mask_text(text)
    # A lone surrogate (JSON "\ud800") cannot be stored as UTF-8: keep it as an escape.
    return out.encode("utf-8", "backslashreplace").decode("utf-8")[:MAX_COPY_CHARS]


class _Pairs(list[tuple[str, object]]):
    """A JSON object as its (key, value) pairs: repeated keys are kept, and redacted, too."""


def _mask_string(value: str) -> str:
    folded = ascii_digits(value) if not value.isascii() else value
    if not text_has_personal_data(folded):
        return value
    if "@" in folded:
        folded = _EMAIL.sub("<email>", folded)
    return _DIGIT.sub("#", folded)


def _dump(obj: object) -> str:
    if isinstance(obj, _Pairs):
        parts = []
        for key, value in obj:
            shown_key = _mask_string(key)
            if key_names_personal_data(ascii_digits(key)):
                parts.append(f"{json.dumps(shown_key, ensure_ascii=False)}:"
                             f"{json.dumps(REDACTED)}")
            else:
                parts.append(f"{json.dumps(shown_key, ensure_ascii=False)}:{_dump(value)}")
        return "{" + ",".join(parts) + "}"
    if isinstance(obj, list):
        return "[" + ",".join(_dump(v) for v in obj) + "]"
    if isinstance(obj, str):
        return json.dumps(_mask_string(obj), ensure_ascii=False)
    if isinstance(obj, bool) or obj is None:
        return json.dumps(obj)
    if isinstance(obj, int | float) and text_has_personal_data(str(obj)):
        return json.dumps(_DIGIT.sub("#", str(obj)))
    return json.dumps(obj)


def _unescape(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char.isprintable() and char not in '"\\' else match.group(0)


# A date or date-time (ISO 8601, years 1900-2099): not personal data, kept readable in a
# rejection's detail ("ts 2027-01-01T07:32:00+08:00 is ahead of the clock") instead of
# being masked as a long digit run (issue 23).
_ISO_TIME = re.compile(r"(?<![0-9])(?:19|20)[0-9]{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
                       r"(?:[T ][0-2][0-9]:[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,9})?)?"
                       r"(?:Z|[+-][0-2][0-9]:?[0-5][0-9])?)?(?![0-9])")


def mask_text(text: str) -> str:
    """Unparsed text with every long digit run, e-mail address and string under a key
    naming personal data masked (also used on rejection details, which may quote a key).
    ISO dates and times stay readable."""
    text = ascii_digits(_ESCAPE.sub(_unescape, text))
    text = _KEYED_STRING.sub(_mask_keyed, text)
    if "@" in text:
        text = _EMAIL.sub("<email>", text)
    parts = _ISO_TIME.split(text)
    times = _ISO_TIME.findall(text)
    masked = [_LONG_RUN.sub(lambda m: _DIGIT.sub("#", m.group()), p) for p in parts]
    return "".join(p + (times[i] if i < len(times) else "") for i, p in enumerate(masked))


def _mask_keyed(m: re.Match[str]) -> str:
    if key_names_personal_data(m.group(1)):
        return f'"{m.group(1)}"{m.group(2)}"{REDACTED}"'
    return m.group(0)
