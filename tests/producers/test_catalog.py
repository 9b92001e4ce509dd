"""The administrative catalogue: 34 provinces with QĐ 19/2025 codes, units, procedures."""

from __future__ import annotations

from dossier import catalog


def test_the_34_provinces_of_july_2025() -> None:
    provinces = catalog.provinces()
    assert len(provinces) == 34 and len({p.code for p in provinces}) == 34
    assert [p.code for p in provinces] == sorted(p.code for p in provinces)
    assert catalog.province("24").name == "Bắc Ninh" and catalog.province("24").formed_from == ("27", "24")
    assert sum(p.kind == "tp" for p in provinces) == 6
    assert sum(len(p.formed_from) for p in provinces) == 63


def test_units_and_procedures() -> None:
    units = catalog.units("79", communes=5)
    assert units[0].code == "000.00.00.H79" and len(units) == 1 + len(catalog.departments()) + 5
    assert len({u.code for u in units}) == len(units)
    departments = {d.key for d in catalog.departments()}
    for p in catalog.procedures():
        assert p.deadline_unit in ("working_days", "working_hours", "calendar_days")
        assert 0.5 <= p.deadline_value * (1 / 8 if p.deadline_unit == "working_hours" else 1) <= 30
        assert p.online_level in ("full", "partial", "none")
        assert (p.level == "commune" and not p.department) or p.department in departments
