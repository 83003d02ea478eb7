"""API key files without a server: expiry, revocation, rotation, and a file changed or damaged under a reader."""

from __future__ import annotations

import pytest

from evomem.errors import InvalidInputError
from evomem.service.auth import KeyFile


def test_a_reader_follows_the_file_and_a_damaged_file_refuses_every_key(tmp_path, capsys):
    path = tmp_path / "keys.json"
    writer = KeyFile(path)
    token = writer.add("a:", "first")
    reader = KeyFile(path)  # what a running server holds
    assert reader.tenant(token).prefix == "a:"
    later = writer.add("b:", "second")
    assert reader.tenant(later).name == "second"  # added after the reader opened the file
    path.write_text("{not json")
    assert reader.tenant(token) is None and reader.tenant(later) is None
    assert "every API key is refused until the key file is repaired" in capsys.readouterr().err
    path.unlink()
    assert reader.tenant(token) is None


def test_expiry_revocation_and_rotation(tmp_path):
    keys = KeyFile(tmp_path / "keys.json")
    soon = keys.add("a:", "soon", expires="2999-01-01T00:00:00+02:00")
    past = keys.add("a:", "past", expires=0)
    assert [r.expires for r in keys.records] == ["2998-12-31T22:00:00Z", "1970-01-01T00:00:00Z"]
    assert keys.tenant(soon) is not None and keys.tenant(past) is None
    new = keys.rotate("soon")
    assert keys.tenant(soon) is None and keys.tenant(new).name == "soon"
    assert keys.records[0].expires == "2998-12-31T22:00:00Z"
    assert keys.revoke("soon").name == "soon" and keys.tenant(new) is None
    with pytest.raises(InvalidInputError, match="no key named 'soon'; its keys: past"):
        keys.rotate("soon")
    with pytest.raises(ValueError, match="timestamp"):
        keys.add("a:", "bad", expires="next tuesday")
