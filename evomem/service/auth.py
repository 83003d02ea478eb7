"""API keys: bearer tokens kept as sha256 hashes in a JSON file, each scoped to a namespace prefix (its tenant).

The file is ``{"keys": [{"name": ..., "prefix": ..., "sha256": ...}]}``; a token is shown once, when made
(``evomem keys add``), and never stored. A key reaches exactly the namespaces that start with its prefix.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import secrets
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import InvalidInputError

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


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class KeyFile:
    """The API keys of one file; ``tenant(token)`` is the key's tenant, or None for an unknown token."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.records = self._read() if self.path.exists() else []
        self._by_hash = {record.sha256: record for record in self.records}

    def _read(self) -> list[KeyRecord]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return [KeyRecord(str(k["name"]), str(k["prefix"]), str(k["sha256"])) for k in data["keys"]]
        except (ValueError, KeyError, TypeError) as error:
            raise InvalidInputError(
                f"API key file {self.path} is not {{'keys': [{{name, prefix, sha256}}]}}: {error!r}"
            ) from None

    def tenant(self, token: str) -> Tenant | None:
        record = self._by_hash.get(token_hash(token))  # a hash of a random token: its lookup time tells nothing
        return None if record is None else Tenant(record.name, record.prefix)

    def add(self, prefix: str, name: str | None = None) -> str:
        """Make a key for ``prefix``, save its hash, and return the token (the only time it is seen)."""
        prefix = unicodedata.normalize("NFC", prefix)
        name = name or f"key-{len(self.records) + 1}"
        if any(record.name == name for record in self.records):
            raise InvalidInputError(f"API key file {self.path} has a key named {name!r} already")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.records.append(KeyRecord(name, prefix, token_hash(token)))
        self._save()
        return token

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps({"keys": [asdict(r) for r in self.records]}, indent=2) + "\n")
        temporary.chmod(0o600)
        temporary.replace(self.path)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
