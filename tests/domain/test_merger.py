"""The 2025 province merger: its data, and KPI rows in both hierarchies (DOMAIN.md sections 5 and 8)."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.eventfile import read_event_lines
from audit.kpi_report import kpi_table
from dossier import catalog
from dossier.calendar import default_calendar
from dossier.kpi import COUNT_FIELDS, SCOPES, kpi_row
from dossier.merger import MERGER_DAY, former_provinces, province_in
from dossier.periods import make_period
from tests.domain.event_factory import event_stream
from tests.domain.spec_helpers import accepted, ev, parse_rows, run_motcua, write_events

Q2 = make_period("quarter", date(2025, 4, 1))


def test_the_mapping_is_the_63_former_provinces_into_the_34() -> None:
    former = former_provinces()
    assert len(former) == 63 and len({p.code for p in former}) == 63
    new = {p.code: p for p in catalog.provinces()}
    assert len(new) == 34 and {p.new_code for p in former} == set(new)
    for code, province in new.items():
        assert sorted(province.formed_from) == sorted(p.code for p in former if p.new_code == code)
        assert province_in("2025", code) == code, "a code in force since the merger is its seat's former code"
    assert all(p.valid_to == MERGER_DAY and p.valid_from < p.valid_to for p in former)
    assert all("202/2025/QH15" in p.source and "19/2025/QĐ-TTg" in p.source for p in former)
    assert {p.code: p.name for p in former}["27"] == "Bắc Ninh" and province_in("2025", "27") == "24"
    assert province_in("legacy", "27") == "27" and province_in("2025", "XX") == "XX"


def _dossier(dossier_id: str, province: str, resolved_at: str) -> list[dict[str, Any]]:
    """Accepted 2025-04-01 09:00, due 2025-04-04 17:00, resolved at ``resolved_at``."""
    acceptance = accepted(dossier_id, "2025-04-01T09:00:00+07:00", "2025-04-04T17:00:00+07:00", province=province,
                          channel=2, unit=f"000.00.01.H{province}")
    return [acceptance, ev(dossier_id, "res", "resolved", resolved_at, province=province, electronic_result=True)]


def test_a_q2_dossier_in_former_codes_counts_under_both_hierarchies(tmp_path: Path) -> None:
    early, late = "2025-04-02T10:00:00+07:00", "2025-04-08T10:00:00+07:00"
    events = _dossier("000.00.01.H27-250401-0001", "27", early)  # Bắc Ninh (former): one early
    events += _dossier("000.00.01.H24-250401-0001", "24", early)  # Bắc Giang (former): one early, two late
    events += _dossier("000.00.01.H24-250401-0002", "24", late)
    events += _dossier("000.00.01.H24-250401-0003", "24", late)
    path = write_events(tmp_path / "q2.jsonl", events)
    args = ["kpi", "--events", str(path), "--period", "quarter", "--from", "2025-04-01", "--to", "2025-07-01"]
    legacy = parse_rows(run_motcua(*args, "--scope", "province"))
    assert [(r["scope_id"], r["finished_early"], r["finished_late"], r["on_time_rate"]) for r in legacy] == [
        ("24", 1, 2, 1 / 3), ("27", 1, 0, 1.0)]
    assert parse_rows(run_motcua(*args, "--scope", "province", "--hierarchy", "legacy")) == legacy
    [merged] = parse_rows(run_motcua(*args, "--scope", "province", "--hierarchy", "2025"))
    assert [merged[f] for f in ("scope_id", "received", "finished_early", "finished_late")] == ["24", 4, 2, 2]
    assert merged["on_time_rate"] == 0.5  # 2 of 4, not the mean of 1/3 and 1
    assert merged["satisfaction_rate"] == 0.5 and merged["e_result_rate"] == 1.0 and merged["online_rate"] == 1.0
    assert merged == kpi_row("province", "24", Q2, [sum(r[f] for r in legacy) for f in COUNT_FIELDS])
    units = ["--scope", "unit"]
    assert run_motcua(*args, *units, "--hierarchy", "2025").stdout == run_motcua(*args, *units).stdout
    bad = run_motcua(*args, "--hierarchy", "1975")
    assert bad.returncode == 2 and "--hierarchy" in bad.stderr


FORMER = sorted(p.code for p in former_provinces())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), dossiers=st.integers(1, 40), period=st.sampled_from(["month", "quarter"]))
def test_a_merged_provinces_row_is_the_sum_of_its_former_provinces(seed: int, dossiers: int, period: str) -> None:
    rng = random.Random(seed)
    events = event_stream(seed, dossiers)
    province_of = {e["dossier_id"]: rng.choice(FORMER) for e in events}
    data = b"\n".join(orjson.dumps({**e, "province": province_of[e["dossier_id"]]}) for e in events)
    table = kpi_table(read_event_lines(data, lambda n, v: None), period, date(2025, 4, 1), date(2025, 10, 1),  # type: ignore[arg-type]
                      default_calendar())
    legacy = table.rows("province")
    sums: dict[tuple[str, str], list[int]] = {}
    for row in legacy:
        total = sums.setdefault((province_in("2025", row["scope_id"]), row["period_start"]), [0] * len(COUNT_FIELDS))
        for i, field in enumerate(COUNT_FIELDS):
            total[i] += row[field]
    periods = {p.start.isoformat(): p for p in table.periods}
    expected = [kpi_row("province", code, periods[start], counts) for (code, start), counts in sorted(sums.items())]
    assert table.rows("province", "2025") == expected
    for scope in SCOPES[1:]:
        assert table.rows(scope, "2025") == table.rows(scope)
