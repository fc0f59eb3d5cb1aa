"""API tokens: `<data dir>/tokens.json`, each a name, a scope and the SHA-256 of the token.

Why a file and not ClickHouse: in the embedded mode one process owns chDB, and `tokens add`
or `tokens revoke` must work while `serve` runs (a revocation that waits for the server to
stop is no revocation). The file is read by the server on every request whose state changed
(stat: inode, size, mtime), so a change applies to the next request. Whoever can write the
data directory can already read every figure in it, so the file's owner-only mode (0600)
is the administrative boundary, and no API endpoint manages tokens.

Why plain SHA-256 and not a slow password hash: a token is 32 random bytes
(`secrets.token_urlsafe(32)`, 256 bits), so guessing a preimage is hopeless however fast
the hash; a slow hash only protects low-entropy secrets and would cost every request.

`ensure` stores the hash of a token the operator chose (a deployment's secret, e.g.
COURIERWATCH_OPS_TOKEN in deploy/): such a token is not drawn here, so it must be at least
as long as a drawn one (43 printable ASCII characters, no spaces); its randomness is the
operator's job (`openssl rand -base64 32`).

Writes take an exclusive lock (`tokens.lock`), write a temporary file created 0600 in the
same directory, fsync it and `os.replace` it over the old one: a reader sees the old or the
new file, never a half-written one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from courierwatch.scope import Scope, parse_scope

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_GIVEN_TOKEN = re.compile(r"[!-~]{43,}")  # printable ASCII, no spaces, >= token_urlsafe(32)


class TokenError(ValueError):
    """A token command that cannot be done (bad name, duplicate, unknown name)."""


@dataclass(frozen=True, slots=True)
class TokenRecord:
    name: str
    scope: str          # canonical text (str(Scope))
    sha256: str         # hex digest of the token; the token itself is never stored
    created_at: str     # RFC 3339, UTC

    @property
    def parsed_scope(self) -> Scope:
        return parse_scope(self.scope)

    def public(self) -> dict[str, str]:
        """What `tokens list` shows: no hash (it is not secret, but nobody needs it)."""
        return {"name": self.name, "scope": self.scope, "created_at": self.created_at}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _new_record(name: str, scope: Scope, token: str) -> TokenRecord:
    if not _NAME.fullmatch(name):
        raise TokenError(f"token name {name!r}: 1-64 of letters, digits, '.', '_', '-', "
                         "starting with a letter or digit")
    return TokenRecord(name, str(scope), token_hash(token),
                       datetime.now(UTC).isoformat(timespec="seconds"))


class TokenStore:
    """The tokens of one data directory. Cheap to construct; reads lazily and re-reads on
    change (`lookup` is called on every API request)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "tokens.json"
        self._lock_path = data_dir / "tokens.lock"
        self._stamp: tuple[int, int, int] | None = None
        self._records: tuple[TokenRecord, ...] = ()

    def _load(self) -> tuple[TokenRecord, ...]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._records = None, ()
            return self._records
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        if stamp != self._stamp:
            data = orjson.loads(self.path.read_bytes())
            self._records = tuple(TokenRecord(**r) for r in data["tokens"])
            self._stamp = stamp
        return self._records

    def records(self) -> tuple[TokenRecord, ...]:
        return self._load()

    def any(self) -> bool:
        """True once any token exists: from then on every request needs one."""
        return bool(self._load())

    def lookup(self, token: str) -> TokenRecord | None:
        """The record of a presented token, or None. Compares digests in constant time."""
        digest = token_hash(token)
        found = None
        for r in self._load():
            if hmac.compare_digest(r.sha256, digest):
                found = r
        return found

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _write(self, records: list[TokenRecord]) -> None:
        tmp = self.path.with_name(f".tokens.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, orjson.dumps({"version": 1, "tokens": [asdict(r) for r in records]},
                                      option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)

    def add(self, name: str, scope: Scope) -> tuple[TokenRecord, str]:
        """Create a token; returns its record and the token, which is not kept anywhere."""
        token = secrets.token_urlsafe(32)
        record = _new_record(name, scope, token)
        with self._locked():
            records = list(self._load())
            if any(r.name == name for r in records):
                raise TokenError(f"a token named {name!r} exists; revoke it first")
            self._write([*records, record])
        return record, token

    def ensure(self, name: str, scope: Scope,
               token: str) -> tuple[TokenRecord | None, TokenRecord | None]:
        """Make `token` (chosen by the operator, e.g. a deployment secret) the token `name`
        with `scope`, storing only its SHA-256. Returns (added, replaced): (None, None) when
        that name already holds that hash and scope, so a container can run this at every
        start; a different token or scope under `name` replaces the old entry (rotation:
        the old token is refused from then on)."""
        if not _GIVEN_TOKEN.fullmatch(token):
            raise TokenError("the given token must be at least 43 printable ASCII characters "
                             "without spaces (e.g. `openssl rand -base64 32`)")
        record = _new_record(name, scope, token)
        with self._locked():
            records = list(self._load())
            old = next((r for r in records if r.name == name), None)
            if old is not None and (old.sha256, old.scope) == (record.sha256, record.scope):
                return None, None
            if any(r.sha256 == record.sha256 for r in records if r.name != name):
                raise TokenError("this token is already stored under another name")
            self._write([*(r for r in records if r.name != name), record])
        return record, old

    def revoke(self, name: str) -> TokenRecord:
        """Delete the token `name`; requests with it are refused (401) from then on."""
        with self._locked():
            records = list(self._load())
            gone = [r for r in records if r.name == name]
            if not gone:
                raise TokenError(f"no token named {name!r}")
            self._write([r for r in records if r.name != name])
        return gone[0]
