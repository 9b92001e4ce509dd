"""Pseudonymisation at the edge: personal identifiers become a keyed HMAC before anything is produced.

The key is read from MOTCUA_HMAC_KEY (the key itself) or MOTCUA_HMAC_KEY_FILE (a file holding it),
and a key file inside the repository is refused, so that the key never travels with the code or
the data (DOMAIN.md section 6). The same key gives the same pseudonym for the same identifier, so
dossiers of one applicant stay linkable without revealing who it is.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

from wire.settings import REPO_ROOT, Settings

MIN_KEY_BYTES = 16

# Keys (compared lower-case, without "_" and "-") that carry personal data wherever they appear in an
# event's extra fields: identification numbers, names, phones, e-mail, addresses (contract section 6
# and the sync format's ChuHoSo, SoGiayToChuHoSo, DinhDanhCHS, Email, SoDienThoai, Fax, DiaChi...).
PERSONAL_KEYS = frozenset(
    {
        "id", "cccd", "cmnd", "citizenid", "nationalid", "idnumber", "identitynumber", "passport",
        "sogiaytochuhoso", "sodinhdanh", "dinhdanhchs", "madinhdanh", "sogiayto",
        "name", "fullname", "applicantname", "citizenname", "hoten", "chuhoso", "tennguoinop",
        "phone", "phonenumber", "mobile", "tel", "sodienthoai", "dienthoai", "fax",
        "email", "mail", "address", "diachi", "diachithuongtru", "diachichuhoso",
    }
)  # fmt: skip
_NORMALISE = re.compile(r"[_\-\s]")


class KeyConfigError(RuntimeError):
    """The HMAC key is missing, too short or stored where it must not be."""


def _is_personal(key: str) -> bool:
    return _NORMALISE.sub("", key).lower() in PERSONAL_KEYS


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

    def scrub(self, value: Any) -> Any:
        """`value` with every personal field `k` replaced by `k_hash` (recursively); unchanged if none.

        Returns the very same object when nothing had to change, so callers can keep the raw bytes.
        """
        if isinstance(value, list):
            items = [self.scrub(v) for v in value]
            return value if all(a is b for a, b in zip(items, value, strict=True)) else items
        if not isinstance(value, dict):
            return value
        out: dict[str, Any] | None = None
        for i, (k, v) in enumerate(value.items()):
            if _is_personal(k) and v is not None:
                new_k, new_v = f"{k}_hash", self(v) if not isinstance(v, dict | list) else self(repr(v))
            else:
                new_k, new_v = k, self.scrub(v)
            if out is None and (new_k is not k or new_v is not v):
                out = dict(list(value.items())[:i])
            if out is not None:
                out[new_k] = new_v
        return value if out is None else out
