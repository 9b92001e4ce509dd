"""Helpers for the black-box acceptance tests of `motcua sla due` and `motcua kpi`.

Written from DOMAIN.md alone (sections 2, 3, 4, 7, 8), without reading the implementation.
Nothing here computes an expected value: expectations are literal values in the test tables.
The only arithmetic is `rates()`, which applies the section 4 rate formulas to hand-computed counts.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

MOTCUA = str(Path(sys.executable).parent / "motcua")

# DOMAIN.md section 7: the row fields, in this exact order.
ID_FIELDS = ["scope", "scope_id", "period", "period_start"]
COUNT_FIELDS = [
    "received",
    "carried_over",
    "to_process",
    "finished",
    "finished_early",
    "finished_on_time",
    "finished_late",
    "result_finished",
    "open_overdue",
    "open_within_due",
    "open_due_soon",
    "online_received",
    "full_online_finished",
    "full_online_eligible_finished",
    "e_result_finished",
    "digitized_received",
    "fee_received",
    "paid_online_received",
    "satisfaction_failed_finished",
    "late_finished_with_timely_apology",
]
RATE_FIELDS = [
    "on_time_rate",
    "overdue_rate",
    "online_rate",
    "online_completion_rate",
    "e_result_rate",
    "digitization_rate",
    "online_payment_rate",
    "satisfaction_rate",
    "apology_compliance_rate",
]
ROW_FIELDS = ID_FIELDS + COUNT_FIELDS + RATE_FIELDS


def run_motcua(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MOTCUA, *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
    )


# ---------------------------------------------------------------------------------------------
# Event builders (section 2). Each helper fills the required fields so that the event is valid.
# ---------------------------------------------------------------------------------------------

BASE = {
    "schema": "dossier-event/1",
    "source": "src-test",
    "province": "01",
    "unit": "U1",
    "procedure_code": "P1",
}


def ev(dossier: str, event_id: str, type_: str, at: str, **fields: Any) -> dict[str, Any]:
    """A valid dossier event; type-specific required fields get neutral defaults."""
    e: dict[str, Any] = dict(BASE)
    e.update({"event_id": event_id, "dossier_id": dossier, "type": type_, "occurred_at": at})
    if type_ in ("submitted", "accepted"):
        e.setdefault("online_level", "none")
        e.setdefault("channel", 1)
    if type_ == "resolved":
        e["electronic_result"] = False
    if type_ == "returned":
        e["return_channel"] = 1
    if type_ == "payment_completed":
        e["paid_online"] = False
    if type_ == "rated":
        e["rating"] = "satisfied"
    e.update(fields)
    return e


def accepted(dossier: str, at: str, due_at: str | None = None, event_id: str = "acc", **fields: Any):
    if due_at is not None:
        fields["due_at"] = due_at
    return ev(dossier, event_id, "accepted", at, **fields)


def write_events(path: Path, events: list[Any], *, newline: str = "\n", bom: bool = False) -> Path:
    """Write events as JSON lines. A str item is written verbatim (raw line), a bytes item as bytes."""
    chunks: list[bytes] = []
    for item in events:
        if isinstance(item, bytes):
            chunks.append(item)
        elif isinstance(item, str):
            chunks.append(item.encode("utf-8"))
        else:
            chunks.append(json.dumps(item, ensure_ascii=False).encode("utf-8"))
    data = newline.encode().join(chunks) + newline.encode()
    if bom:
        data = b"\xef\xbb\xbf" + data
    path.write_bytes(data)
    return path


def kpi(
    tmp_path: Path,
    events: list[Any],
    *,
    period: str = "month",
    frm: str = "2025-07-01",
    to: str = "2025-08-01",
    scope: str = "province",
    name: str = "events.jsonl",
    **write_kw: Any,
) -> subprocess.CompletedProcess[str]:
    f = write_events(tmp_path / name, events, **write_kw)
    return run_motcua(
        "kpi", "--events", str(f), "--period", period, "--from", frm, "--to", to, "--scope", scope
    )


def parse_rows(proc: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout={proc.stdout}\nstderr={proc.stderr}"
    rows = []
    for line in proc.stdout.splitlines():
        if line.strip():
            rows.append(json.loads(line))
    return rows


# ---------------------------------------------------------------------------------------------
# Expected rows
# ---------------------------------------------------------------------------------------------


def _ratio(num: int, den: int) -> float | None:
    return None if den == 0 else num / den


def rates(c: dict[str, int]) -> dict[str, float | None]:
    """Section 4 formulas applied to hand-computed counts (null for a zero denominator)."""
    return {
        "on_time_rate": _ratio(
            c["finished_early"] + c["finished_on_time"] + c["open_within_due"], c["to_process"]
        ),
        "overdue_rate": _ratio(c["finished_late"] + c["open_overdue"], c["to_process"]),
        "online_rate": _ratio(c["online_received"], c["received"]),
        "online_completion_rate": _ratio(c["full_online_finished"], c["full_online_eligible_finished"]),
        "e_result_rate": _ratio(c["e_result_finished"], c["result_finished"]),
        "digitization_rate": _ratio(c["digitized_received"], c["received"]),
        "online_payment_rate": _ratio(c["paid_online_received"], c["fee_received"]),
        "satisfaction_rate": _ratio(
            c["finished"] - c["satisfaction_failed_finished"], c["finished"]
        ),
        "apology_compliance_rate": _ratio(c["late_finished_with_timely_apology"], c["finished_late"]),
    }


def row(scope: str, scope_id: str, period: str, start: str, **counts: int) -> dict[str, Any]:
    """Expected row: unspecified counts are 0; to_process defaults to received + carried_over;
    rates follow from the counts. Explicit rate values may be passed to override (not normally)."""
    unknown = set(counts) - set(COUNT_FIELDS) - set(RATE_FIELDS)
    assert not unknown, f"unknown fields {unknown}"
    c = {k: 0 for k in COUNT_FIELDS}
    c.update({k: v for k, v in counts.items() if k in COUNT_FIELDS})
    if "to_process" not in counts:
        c["to_process"] = c["received"] + c["carried_over"]
    r: dict[str, Any] = {"scope": scope, "scope_id": scope_id, "period": period, "period_start": start}
    r.update(c)
    r.update(rates(c))
    r.update({k: v for k, v in counts.items() if k in RATE_FIELDS})
    return r


def july(scope_id: str = "01", **counts: int) -> dict[str, Any]:
    return row("province", scope_id, "month", "2025-07-01", **counts)


def assert_row_equal(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    assert list(actual.keys()) == ROW_FIELDS, f"fields/order differ: {list(actual.keys())}"
    for k in ID_FIELDS:
        assert actual[k] == expected[k], f"{k}: {actual[k]!r} != {expected[k]!r} in {actual}"
    for k in COUNT_FIELDS:
        assert type(actual[k]) is int, f"{k} is not a JSON integer: {actual[k]!r}"
        assert actual[k] == expected[k], (
            f"{expected['scope']}/{expected['scope_id']}/{expected['period_start']} {k}: "
            f"got {actual[k]!r}, expected {expected[k]!r}\nrow={actual}"
        )
    for k in RATE_FIELDS:
        if expected[k] is None:
            assert actual[k] is None, f"{k}: got {actual[k]!r}, expected null\nrow={actual}"
        else:
            assert isinstance(actual[k], (int, float)) and not isinstance(actual[k], bool), (
                f"{k}: {actual[k]!r} is not a number\nrow={actual}"
            )
            assert actual[k] == pytest.approx(expected[k]), (
                f"{k}: got {actual[k]!r}, expected {expected[k]!r}\nrow={actual}"
            )


def assert_rows(proc: subprocess.CompletedProcess[str], expected: list[dict[str, Any]]) -> None:
    rows = parse_rows(proc)
    got_keys = [(r.get("scope_id"), r.get("period_start")) for r in rows]
    exp_keys = [(r["scope_id"], r["period_start"]) for r in expected]
    assert got_keys == exp_keys, f"rows (scope_id, period_start) {got_keys} != {exp_keys}\n{proc.stdout}"
    for a, e in zip(rows, expected, strict=True):
        assert_row_equal(a, e)


def reported_line_numbers(stderr: str) -> set[int]:
    """Line numbers that stderr reports. Accepts the usual spellings: 'line 3', 'line #3',
    'Line: 3', 'events.jsonl:3:' (compiler style)."""
    found: set[int] = set()
    # "(?!...column)": a JSON decoder's own "line 1 column 2" inside a reason is not a line report.
    for m in re.finditer(r"(?i)\bline\s*[#:=]?\s*(\d+)\b(?!\s*,?\s*col)", stderr):
        found.add(int(m.group(1)))
    for m in re.finditer(r"\.jsonl:(\d+)\b", stderr):
        found.add(int(m.group(1)))
    return found
