"""Pseudonymisation at the edge: personal identifiers become a keyed HMAC before anything is produced.

The key is read from MOTCUA_HMAC_KEY (the key itself) or MOTCUA_HMAC_KEY_FILE (a file holding it),
and a key file inside the repository is refused, so that the key never travels with the code or
the data (DOMAIN.md section 6). The same key gives the same pseudonym for the same identifier, so
dossiers of one applicant stay linkable without revealing who it is. Which fields are pseudonymised,
and what else happens to personal data at the edge, is `producers.edge` (an allowlist).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from wire.settings import REPO_ROOT, Settings

MIN_KEY_BYTES = 16


class KeyConfigError(RuntimeError):
    """The HMAC key is missing, too short or stored where it must not be."""


class Pseudonymiser:
    """Keyed HMAC-SHA256 of identifiers, truncated to 128 bits (32 hex digits)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise KeyConfigError(f"the HMAC key must have at least {MIN_KEY_BYTES} bytes")
        self._key = key

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Pseudonymiser:
        settings = Settings() if env is None else Settings.from_mapping(env)
        if settings.hmac_key:
            return cls(settings.hmac_key.encode())
        path = settings.hmac_key_file
        if not path:
            raise KeyConfigError("set MOTCUA_HMAC_KEY or MOTCUA_HMAC_KEY_FILE (a file outside the repository)")
        resolved = path.resolve()
        if resolved.is_relative_to(REPO_ROOT):
            raise KeyConfigError(f"the HMAC key file {resolved} is inside the repository; keep it outside")
        return cls(resolved.read_bytes().strip())

    def __call__(self, value: object) -> str:
        """The pseudonym of an identifier (surrounding blanks ignored)."""
        return hmac.new(self._key, str(value).strip().encode(), hashlib.sha256).hexdigest()[:32]
