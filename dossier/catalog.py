"""The administrative catalogue: the 34 provinces (QĐ 19/2025 codes), their units and a procedure list.

Provinces, the pre-merger codes they were formed from and the departments are real (see
`shared/research/domain-research.md` section 5.2; populations are rounded estimates used only to
weight simulated volumes). Procedure codes, fees and deadlines are shaped like real MaTTHC entries of
the national catalogue but are illustrative, and so are the unit codes: they follow the
`000.00.NN.Hpp` pattern of agency electronic ids, with the province code in place of the real agency
number, and commune names are generated. Pure data, no I/O beyond reading the package's CSV files.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

_DATA = Path(__file__).parent / "data"


@dataclass(frozen=True, slots=True)
class Province:
    code: str
    name: str
    kind: str  # "tinh" or "tp" (centrally-run city)
    formed_from: tuple[str, ...]  # pre-July-2025 GSO codes
    population_millions: float


@dataclass(frozen=True, slots=True)
class Department:
    key: str
    number: int
    name: str


@dataclass(frozen=True, slots=True)
class Procedure:
    code: str  # MaTTHC
    name: str
    field_code: str  # MaLinhVuc
    field_name: str
    level: str  # "province" (handled by a department) or "commune"
    department: str  # Department.key for province-level procedures, "" for commune ones
    deadline_value: float
    deadline_unit: str  # working_days | working_hours | calendar_days
    online_level: str  # full | partial | none
    fee: int  # VND
    weight: int  # relative share of dossiers


@dataclass(frozen=True, slots=True)
class Unit:
    code: str
    name: str
    province: str
    level: str  # "province" or "commune"
    department: str  # Department.key, "" for communes and the provincial centre


def _rows(name: str) -> list[dict[str, str]]:
    with open(_DATA / name, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@cache
def provinces() -> tuple[Province, ...]:
    """The 34 provinces in force since 2025-07-01, sorted by code."""
    return tuple(
        Province(r["code"], r["name"], r["kind"], tuple(r["formed_from"].split()), float(r["population_millions"]))
        for r in _rows("catalog-provinces.csv")
    )


@cache
def province(code: str) -> Province:
    for p in provinces():
        if p.code == code:
            return p
    raise KeyError(f"unknown province code {code!r}")


@cache
def departments() -> tuple[Department, ...]:
    return tuple(Department(r["key"], int(r["number"]), r["name"]) for r in _rows("catalog-departments.csv"))


@cache
def procedures() -> tuple[Procedure, ...]:
    return tuple(
        Procedure(
            code=r["code"],
            name=r["name"],
            field_code=r["field_code"],
            field_name=r["field_name"],
            level=r["level"],
            department=r["department"],
            deadline_value=float(r["deadline_value"]),
            deadline_unit=r["deadline_unit"],
            online_level=r["online_level"],
            fee=int(r["fee"]),
            weight=int(r["weight"]),
        )
        for r in _rows("catalog-procedures.csv")
    )


_PREFIXES = ("Phường", "Xã", "Xã", "Xã")
_SYLLABLES = (
    "An",
    "Bình",
    "Châu",
    "Đông",
    "Hòa",
    "Hưng",
    "Long",
    "Minh",
    "Nam",
    "Phú",
    "Phước",
    "Tân",
    "Thạnh",
    "Thành",
    "Thuận",
    "Trung",
    "Vĩnh",
    "Xuân",
    "Hiệp",
    "Lộc",
    "Mỹ",
    "Sơn",
    "Tây",
    "Quang",
)


def _commune_name(province_code: str, index: int) -> str:
    digest = hashlib.sha256(f"{province_code}:{index}".encode()).digest()
    first, second = _SYLLABLES[digest[1] % len(_SYLLABLES)], _SYLLABLES[digest[2] % len(_SYLLABLES)]
    if first == second:
        second = _SYLLABLES[(digest[2] + 1) % len(_SYLLABLES)]
    return f"{_PREFIXES[digest[0] % len(_PREFIXES)]} {first} {second}"


@cache
def units(province_code: str, communes: int = 10) -> tuple[Unit, ...]:
    """The units of a province: its service centre, one unit per department, then `communes` communes."""
    p = province(province_code)
    out = [Unit(f"000.00.00.H{p.code}", f"Trung tâm Phục vụ hành chính công {p.name}", p.code, "province", "")]
    out += [
        Unit(f"000.00.{d.number:02d}.H{p.code}", f"{d.name} {p.name}", p.code, "province", d.key) for d in departments()
    ]
    out += [
        Unit(f"000.{i:02d}.00.H{p.code}", _commune_name(p.code, i), p.code, "commune", "")
        for i in range(1, communes + 1)
    ]
    return tuple(out)
