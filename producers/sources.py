"""Sending systems (sources): their province, API token hash, and how their unit names map to codes.

A sources file is JSON:
`{"sources": [{"id": "mc-79", "province": "79", "token_sha256": "<hex>", "default_unit": "...",
"units": {"Sở Tư pháp": "000.00.01.H79"}, "online_levels": {"1.001193": "full"}}]}`.
Tokens are random (256 bits) and only their SHA-256 is stored; `motcua ingest token` makes one.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from dossier import catalog
from producers.edge import Grant


@dataclass(frozen=True, slots=True)
class Source:
    id: str
    province: str
    token_sha256: str = ""
    default_unit: str | None = None
    units: Mapping[str, str] = field(default_factory=dict)  # DonViXuLy / PhongBanXuLy (name or code) -> unit
    online_levels: Mapping[str, str] = field(default_factory=dict)  # MaTTHC -> full | partial | none

    def unit_for(self, name: object) -> str | None:
        """The unit code for a DonViXuLy value: mapped, else already a configured code, else the default."""
        if isinstance(name, str) and name.strip():
            key = name.strip()
            if key in self.units:
                return self.units[key]
            if key in self.units.values():
                return key
        return self.default_unit

    @property
    def grant(self) -> Grant:
        """What this source's token may write (producers.edge): its id, its province, its configured units."""
        configured = {*self.units.values(), *([self.default_unit] if self.default_unit else [])}
        return Grant(self.id, self.province, frozenset(configured))

    def online_level(self, procedure_code: str) -> str:
        """The procedure's online level: the source's map, else the catalogue, else "none"."""
        if procedure_code in self.online_levels:
            return self.online_levels[procedure_code]
        return next((p.online_level for p in catalog.procedures() if p.code == procedure_code), "none")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def load_sources(path: Path) -> dict[str, Source]:
    """Sources by id; raises ValueError on a malformed file."""
    data = orjson.loads(path.read_bytes())
    out: dict[str, Source] = {}
    for raw in data.get("sources", []):
        try:
            source = Source(
                id=raw["id"],
                province=raw["province"],
                token_sha256=raw.get("token_sha256", ""),
                default_unit=raw.get("default_unit"),
                units=dict(raw.get("units", {})),
                online_levels=dict(raw.get("online_levels", {})),
            )
        except (KeyError, TypeError) as error:
            raise ValueError(f"{path}: bad source entry {raw!r}: {error!r}") from None
        out[source.id] = source
    return out


class TokenRegistry:
    """Finds the source that owns a bearer token (by the token's SHA-256, never the token itself)."""

    def __init__(self, sources: Mapping[str, Source]) -> None:
        self._by_hash = {s.token_sha256: s for s in sources.values() if s.token_sha256}

    def authenticate(self, token: str) -> Source | None:
        return self._by_hash.get(hash_token(token))
