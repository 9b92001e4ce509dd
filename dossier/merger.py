"""The 2025 province merger (DOMAIN.md section 5): the 63 former provinces and the 34 they became.

Data: ``dossier/data/province-merger-2025.csv``, one line per former province (GSO code) with its name, the
code of the province it became part of (QĐ 19/2025/QĐ-TTg), its validity interval [valid_from, valid_to) and
the legal source (Nghị quyết 202/2025/QH15). The 34 provinces in force since 2025-07-01 are
``dossier.catalog.provinces()``.

Each new province took the code of the former province that hosts its seat, so the mapping is the identity
on every code in force since the merger: a code means one province of the new list whatever the date a
dossier was accepted (``24`` is Bắc Giang before and the merged Bắc Ninh after; both are ``24`` in the
2025 hierarchy). That is why re-aggregating needs no dates, and a test checks the property on the data.

Hierarchies: ``legacy`` keeps province codes as sent on the acceptance (the 63 former provinces for a dossier
accepted before the merger, the 34 after); ``2025`` re-aggregates every province row into the 34 provinces.
Unit, procedure and field rows are the same in both: no official old -> new unit mapping exists in
machine-readable form (research notes, section 5.3), and unit codes did not change with the merger here.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Literal

Hierarchy = Literal["legacy", "2025"]
HIERARCHIES: tuple[Hierarchy, ...] = ("legacy", "2025")
MERGER_DAY = date(2025, 7, 1)
"""The first day of the 34 provinces (two-level local government)."""


@dataclass(frozen=True, slots=True)
class FormerProvince:
    code: str  # GSO code, 2 digits
    name: str
    new_code: str  # the province (QĐ 19/2025 code) it became part of
    valid_from: date
    valid_to: date  # exclusive: the first day it no longer exists
    source: str


@cache
def former_provinces() -> tuple[FormerProvince, ...]:
    """The 63 provinces in force until 2025-06-30, sorted by code."""
    text = (resources.files("dossier") / "data" / "province-merger-2025.csv").read_text(encoding="utf-8")
    return tuple(
        FormerProvince(
            r["old_code"],
            r["old_name"],
            r["new_code"],
            date.fromisoformat(r["valid_from"]),
            date.fromisoformat(r["valid_to"]),
            r["source"],
        )
        for r in csv.DictReader(text.splitlines())
    )


@cache
def _new_codes() -> dict[str, str]:
    return {p.code: p.new_code for p in former_provinces()}


def province_in(hierarchy: Hierarchy, code: str) -> str:
    """The province code a dossier of province ``code`` counts under in ``hierarchy`` (unknown codes as they are)."""
    if hierarchy == "legacy":
        return code
    return _new_codes().get(code, code)


def scope_id_in(hierarchy: Hierarchy, scope: str, scope_id: str) -> str:
    """A KPI row's scope id in ``hierarchy``: only province rows change."""
    return province_in(hierarchy, scope_id) if scope == "province" else scope_id


def codes_in(hierarchy: Hierarchy, scope: str, scope_id: str) -> list[str]:
    """The scope ids as sent that count under ``scope_id`` in ``hierarchy`` (a new province: its former ones)."""
    if scope != "province" or hierarchy == "legacy":
        return [scope_id]
    return sorted({scope_id, *(p.code for p in former_provinces() if p.new_code == scope_id)})
