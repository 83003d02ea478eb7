"""API keys: bearer tokens kept as sha256 hashes in a JSON file, each scoped to a namespace prefix (its tenant).

The file is ``{"keys": [{"name": ..., "prefix": ..., "sha256": ..., "expires": ...}]}``; a token is shown once,
when made (``evomem keys add``/``rotate``), and never stored. A key reaches exactly the namespaces that start with
its prefix, until it expires (``expires``: ISO 8601 UTC, or null for never) or is revoked (``evomem keys revoke``).
A running server reads the file again whenever it changes, so revoking, rotating and adding keys need no restart;
a file that becomes unreadable refuses every key until it is repaired (it never keeps serving revoked keys).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import secrets
import sys
import threading
import time
import unicodedata
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ..errors import InvalidInputError
from ..schema import iso_time, parse_timestamp

TOKEN_PREFIX = "evo_"


@dataclass(frozen=True)
class Tenant:
    """Whom a request acts for: the namespaces starting with ``prefix`` ("" reaches every namespace)."""

    name: str
    prefix: str

    def owns(self, namespace: str) -> bool:
        return namespace.startswith(self.prefix)


UNRESTRICTED = Tenant("no-auth", "")


@dataclass(frozen=True)
class KeyRecord:
    name: str
    prefix: str
    sha256: str
    expires: str | None = None  # ISO 8601 UTC; None: never

    def expired(self, now: float) -> bool:
        return self.expires is not None and now >= (parse_timestamp(self.expires) or 0.0)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class KeyFile:
    """The API keys of one file; ``tenant(token)`` is the key's tenant, or None for an unknown, expired or revoked
    token (the file is read again first when it changed since it was last read)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int] | None = None  # the file's (inode, size, mtime) when last read
        self.records = self._read() if self.path.exists() else []
        self._seen = self._identity()
        self._by_hash = {record.sha256: record for record in self.records}

    def _identity(self) -> tuple[int, int, int] | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return stat.st_ino, stat.st_size, stat.st_mtime_ns

    def _read(self) -> list[KeyRecord]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return [
                KeyRecord(str(k["name"]), str(k["prefix"]), str(k["sha256"]), _expiry(k.get("expires")))
                for k in data["keys"]
            ]
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise InvalidInputError(
                f"API key file {self.path} is not {{'keys': [{{name, prefix, sha256, expires}}]}}: {error!r}"
            ) from None

    def _refresh(self) -> None:
        """Read the file again if it changed; one that is gone or unreadable leaves no key valid."""
        seen = self._identity()
        if seen == self._seen:
            return
        with self._lock:
            try:
                records = self._read() if seen is not None else []
            except (InvalidInputError, OSError) as error:
                print(f"evomem: every API key is refused until the key file is repaired: {error}", file=sys.stderr)
                records = []
            self.records, self._seen = records, seen
            self._by_hash = {record.sha256: record for record in records}

    def tenant(self, token: str) -> Tenant | None:
        self._refresh()
        record = self._by_hash.get(token_hash(token))  # a hash of a random token: its lookup time tells nothing
        if record is None or record.expired(time.time()):
            return None
        return Tenant(record.name, record.prefix)

    def add(self, prefix: str, name: str | None = None, expires: str | None = None) -> str:
        """Make a key for ``prefix`` (valid until ``expires``, ISO 8601, or for ever), save its hash, and return the
        token (the only time it is seen)."""
        prefix = unicodedata.normalize("NFC", prefix)
        name = name or f"key-{len(self.records) + 1}"
        if any(record.name == name for record in self.records):
            raise InvalidInputError(f"API key file {self.path} has a key named {name!r} already")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.records.append(KeyRecord(name, prefix, token_hash(token), _expiry(expires)))
        self._save()
        return token

    def revoke(self, name: str) -> KeyRecord:
        """Delete the key ``name``: a running server refuses it from its next request on."""
        record = self._named(name)
        self.records.remove(record)
        self._save()
        return record

    def rotate(self, name: str) -> str:
        """Give the key ``name`` a new token (same prefix and expiry) and return it; the old token is refused."""
        record = self._named(name)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.records[self.records.index(record)] = replace(record, sha256=token_hash(token))
        self._save()
        return token

    def _named(self, name: str) -> KeyRecord:
        for record in self.records:
            if record.name == name:
                return record
        listed = ", ".join(record.name for record in self.records) or "none"
        raise InvalidInputError(f"API key file {self.path} has no key named {name!r}; its keys: {listed}")

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps({"keys": [asdict(r) for r in self.records]}, indent=2) + "\n")
        temporary.chmod(0o600)
        temporary.replace(self.path)


def _expiry(value: object) -> str | None:
    """An expiry as stored: ISO 8601 UTC (from ISO 8601 or epoch seconds), or None for never."""
    if value is None:
        return None
    seconds = parse_timestamp(value)
    return None if seconds is None else iso_time(seconds)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
