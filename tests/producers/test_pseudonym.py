"""Keyed HMAC pseudonyms: stable, key-dependent, and the key stays out of the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from producers.pseudonym import KeyConfigError, Pseudonymiser
from wire.settings import REPO_ROOT


def test_same_key_same_pseudonym_other_key_other_pseudonym() -> None:
    a, b = Pseudonymiser(b"a" * 16), Pseudonymiser(b"b" * 16)
    assert a("079123456789") == a(" 079123456789 ") != b("079123456789")
    assert len(a("x")) == 32 and "079123456789" not in a("079123456789")


def test_key_from_env_or_a_file_outside_the_repository(tmp_path: Path) -> None:
    key_file = tmp_path / "hmac.key"
    key_file.write_text("0123456789abcdef0123\n")
    by_file = Pseudonymiser.from_env({"MOTCUA_HMAC_KEY_FILE": str(key_file)})
    assert by_file("x") == Pseudonymiser.from_env({"MOTCUA_HMAC_KEY": "0123456789abcdef0123"})("x")
    with pytest.raises(KeyConfigError, match="inside the repository"):
        Pseudonymiser.from_env({"MOTCUA_HMAC_KEY_FILE": str(REPO_ROOT / "pyproject.toml")})
    with pytest.raises(KeyConfigError, match="MOTCUA_HMAC_KEY"):
        Pseudonymiser.from_env({})
    with pytest.raises(KeyConfigError, match="at least"):
        Pseudonymiser.from_env({"MOTCUA_HMAC_KEY": "short"})
