"""KPI rows of DOMAIN.md sections 4 and 7: counts with numerators and denominators, rates derived.

Every count is a number of dossiers, so counts add: dossiers are first counted per *cell* (province, unit,
procedure, field) and period, and a scope's row is the sum of its cells. Rolling units up into a province
therefore gives the province row by construction, and rates are always computed from summed counts.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from dossier.calendar import WorkingCalendar
from dossier.lifecycle import DossierSummary
from dossier.merger import Hierarchy, scope_id_in
from dossier.periods import Period
from dossier.sla import open_status

Scope = Literal["province", "unit", "procedure", "field"]
SCOPES: tuple[Scope, ...] = ("province", "unit", "procedure", "field")

COUNT_FIELDS: tuple[str, ...] = (
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
)
(
    RECEIVED,
    CARRIED_OVER,
    TO_PROCESS,
    FINISHED,
    FINISHED_EARLY,
    FINISHED_ON_TIME,
    FINISHED_LATE,
    RESULT_FINISHED,
    OPEN_OVERDUE,
    OPEN_WITHIN_DUE,
    OPEN_DUE_SOON,
    ONLINE_RECEIVED,
    FULL_ONLINE_FINISHED,
    FULL_ONLINE_ELIGIBLE_FINISHED,
    E_RESULT_FINISHED,
    DIGITIZED_RECEIVED,
    FEE_RECEIVED,
    PAID_ONLINE_RECEIVED,
    SATISFACTION_FAILED_FINISHED,
    LATE_FINISHED_WITH_TIMELY_APOLOGY,
) = range(len(COUNT_FIELDS))

_OUTCOME_INDEX = {"early": FINISHED_EARLY, "on_time": FINISHED_ON_TIME, "late": FINISHED_LATE}


@dataclass(frozen=True, slots=True)
class Rate:
    """A rate of DOMAIN.md section 4 as counts: (sum of ``plus`` - sum of ``minus``) / ``denominator``.

    The one definition of every rate: the audit's rows, the live rows and the SQL views derive from it.
    """

    name: str
    plus: tuple[str, ...]
    denominator: str
    minus: tuple[str, ...] = ()


RATES: tuple[Rate, ...] = (
    Rate("on_time_rate", ("finished_early", "finished_on_time", "open_within_due"), "to_process"),
    Rate("overdue_rate", ("finished_late", "open_overdue"), "to_process"),
    Rate("online_rate", ("online_received",), "received"),
    Rate("online_completion_rate", ("full_online_finished",), "full_online_eligible_finished"),
    Rate("e_result_rate", ("e_result_finished",), "result_finished"),
    Rate("digitization_rate", ("digitized_received",), "received"),
    Rate("online_payment_rate", ("paid_online_received",), "fee_received"),
    Rate("satisfaction_rate", ("finished",), "finished", minus=("satisfaction_failed_finished",)),
    Rate("apology_compliance_rate", ("late_finished_with_timely_apology",), "finished_late"),
)
RATE_FIELDS: tuple[str, ...] = tuple(r.name for r in RATES)

Counts = list[int]
Cell = tuple[str, str, str, str | None]
"""(province, unit, procedure_code, procedure_field): the finest grain every scope is a sum of."""

def _compile_rates() -> Callable[[Sequence[int]], tuple[float | None, ...]]:
    """``rates`` as one expression over the counts, written out from ``RATES`` (the one definition).

    A loop of generator sums over each rate's indices cost ~20 us a row, a quarter of the live KPI stages'
    time: every live row is computed twice, once per province and once summed over provinces.
    """
    terms = []
    for r in RATES:
        numerator = " + ".join(f"c[{COUNT_FIELDS.index(f)}]" for f in r.plus)
        numerator += "".join(f" - c[{COUNT_FIELDS.index(f)}]" for f in r.minus)
        denominator = f"c[{COUNT_FIELDS.index(r.denominator)}]"
        terms.append(f"({numerator}) / {denominator} if {denominator} else None")
    return cast(Callable[[Sequence[int]], tuple[float | None, ...]], eval(f"lambda c: ({', '.join(terms)},)"))


_rates = _compile_rates()


def rates(counts: Sequence[int]) -> tuple[float | None, ...]:
    """Every rate of a row; None (JSON null) where its denominator is 0, never 0."""
    return _rates(counts)


def add_contribution(
    c: Counts, s: DossierSummary, start_ts: float, end_ts: float, calendar: WorkingCalendar, sign: int = 1
) -> None:
    """Add (or, with ``sign=-1``, remove) one dossier's part in the row of the period [start_ts, end_ts).

    The caller guarantees the dossier is to be processed in the period: accepted before its end and not
    finished before its start. Only events before ``end_ts`` are looked at.
    """
    c[TO_PROCESS] += sign
    if s.accepted_ts >= start_ts:
        c[RECEIVED] += sign
        if s.channel == 2:
            c[ONLINE_RECEIVED] += sign
        if s.digitized:
            c[DIGITIZED_RECEIVED] += sign
        if s.fee_ts is not None and s.fee_ts < end_ts:
            c[FEE_RECEIVED] += sign
            if s.paid_online_ts is not None and s.paid_online_ts < end_ts:
                c[PAID_ONLINE_RECEIVED] += sign
    else:
        c[CARRIED_OVER] += sign
    if s.end_ts is not None and s.end_ts < end_ts:
        c[FINISHED] += sign
        c[_OUTCOME_INDEX[s.outcome]] += sign  # type: ignore[index]
        late = s.outcome == "late"
        if late or (s.dissatisfied_ts is not None and s.dissatisfied_ts < end_ts):
            c[SATISFACTION_FAILED_FINISHED] += sign
        if late and s.timely_apology_ts is not None and s.timely_apology_ts < end_ts:
            c[LATE_FINISHED_WITH_TIMELY_APOLOGY] += sign
        if s.end_type == "resolved" or s.end_type == "returned":
            c[RESULT_FINISHED] += sign
            e_result = s.e_result_ts is not None and s.e_result_ts < end_ts
            if e_result:
                c[E_RESULT_FINISHED] += sign
            if s.online_level == "full":
                c[FULL_ONLINE_ELIGIBLE_FINISHED] += sign
                if e_result and s.channel == 2:
                    c[FULL_ONLINE_FINISHED] += sign
        return
    status = open_status(end_ts, s.due_ts, s.pauses, s.request_times, calendar)
    if status == "overdue":
        c[OPEN_OVERDUE] += sign
    else:
        c[OPEN_WITHIN_DUE] += sign
        if status == "due_soon":
            c[OPEN_DUE_SOON] += sign


def contribution(s: DossierSummary, period: Period, calendar: WorkingCalendar) -> Counts | None:
    """One dossier's counts in the row of ``period``; None when it is not to be processed in that period."""
    if s.accepted_ts >= period.end_ts or (s.end_ts is not None and s.end_ts < period.start_ts):
        return None
    counts = [0] * len(COUNT_FIELDS)
    add_contribution(counts, s, period.start_ts, period.end_ts, calendar)
    return counts


def cell_of(s: DossierSummary) -> Cell:
    return (s.province, s.unit, s.procedure_code, s.procedure_field)


def scope_id_of(cell: Cell, scope: Scope) -> str | None:
    """The id a cell rolls up to in a scope; None for the field scope of a dossier without a field."""
    province, unit, procedure, field = cell
    if scope == "province":
        return province
    if scope == "unit":
        return unit
    if scope == "procedure":
        return procedure
    if scope == "field":
        return field
    raise ValueError(f"unknown scope {scope!r}")


class PeriodTable:
    """Counts of dossiers in a list of consecutive periods; subclasses decide what a count goes into.

    The batch audit fills a fixed list; the live aggregation appends periods as event time advances.
    """

    def __init__(self, periods: Sequence[Period], calendar: WorkingCalendar) -> None:
        self.periods: list[Period] = []
        self._starts: list[float] = []
        self._ends: list[float] = []
        self._calendar = calendar
        for period in periods:
            self.append_period(period)

    def append_period(self, period: Period) -> int:
        """Add the period that follows the last one; returns its index. Nobody is counted in it yet."""
        if self.periods and period.start != self.periods[-1].end:
            raise ValueError(f"period {period.start} does not follow {self.periods[-1].start}")
        self.periods.append(period)
        self._starts.append(period.start_ts)
        self._ends.append(period.end_ts)
        return len(self.periods) - 1

    def span(self, s: DossierSummary) -> range:
        """The indices of the periods in which the dossier is to be processed."""
        first = bisect_right(self._ends, s.accepted_ts)
        last = len(self.periods) - 1 if s.end_ts is None else bisect_right(self._starts, s.end_ts) - 1
        return range(first, last + 1)

    def add(self, s: DossierSummary, sign: int = 1) -> None:
        """Count (or with ``sign=-1`` uncount) a dossier in every period in which it is to be processed."""
        for i in self.span(s):
            self.add_to_period(s, i, sign)

    def add_to_period(self, s: DossierSummary, i: int, sign: int = 1) -> None:
        """Count a dossier in period ``i``, which the caller knows it is to be processed in."""
        raise NotImplementedError


class KpiTable(PeriodTable):
    """KPI counts per cell and period; a scope's row is the sum of its cells."""

    def __init__(self, periods: Sequence[Period], calendar: WorkingCalendar) -> None:
        self.cells: dict[Cell, dict[int, Counts]] = {}
        super().__init__(periods, calendar)

    def add(self, s: DossierSummary, sign: int = 1) -> None:
        span = self.span(s)
        if span:
            self._add_to_periods(s, span, sign)

    def add_to_period(self, s: DossierSummary, i: int, sign: int = 1) -> None:
        self._add_to_periods(s, (i,), sign)

    def _add_to_periods(self, s: DossierSummary, periods: Iterable[int], sign: int) -> None:
        cell = cell_of(s)
        by_period = self.cells.get(cell)
        if by_period is None:
            by_period = self.cells[cell] = {}
        starts, ends, calendar = self._starts, self._ends, self._calendar
        for i in periods:
            counts = by_period.get(i)
            if counts is None:
                counts = by_period[i] = [0] * len(COUNT_FIELDS)
            add_contribution(counts, s, starts[i], ends[i], calendar, sign)

    def merge(self, cells: dict[Cell, dict[int, Counts]]) -> None:
        """Add the cells of another table over the same periods (dossiers counted elsewhere: counts add)."""
        for cell, by_period in cells.items():
            mine = self.cells.setdefault(cell, {})
            for i, counts in by_period.items():
                _add_counts(mine, i, counts)

    def add_all(self, summaries: Iterable[DossierSummary]) -> None:
        for s in summaries:
            self.add(s)

    def rows(self, scope: Scope, hierarchy: Hierarchy = "legacy") -> list[dict[str, Any]]:
        """The rows of a scope (those with ``to_process`` > 0), sorted by scope id, then period start.

        In the ``2025`` hierarchy a province row sums the counts of the former provinces it took in.
        """
        totals: dict[tuple[str, int], Counts] = {}
        for cell, by_period in self.cells.items():
            scope_id = scope_id_of(cell, scope)
            if scope_id is None:
                continue
            scope_id = scope_id_in(hierarchy, scope, scope_id)
            for i, counts in by_period.items():
                _add_counts(totals, (scope_id, i), counts)
        return [
            kpi_row(scope, scope_id, self.periods[i], counts)
            for (scope_id, i), counts in sorted(totals.items())
            if counts[TO_PROCESS] > 0
        ]


def _add_counts(totals: dict[Any, Counts], key: Any, counts: Counts) -> None:
    total = totals.get(key)
    if total is None:
        totals[key] = list(counts)
    else:
        for k, value in enumerate(counts):
            total[k] += value


def kpi_row(scope: Scope, scope_id: str, period: Period, counts: Sequence[int]) -> dict[str, Any]:
    """A KPI row with exactly the fields of DOMAIN.md section 7, in that order."""
    row: dict[str, Any] = {
        "scope": scope,
        "scope_id": scope_id,
        "period": period.kind,
        "period_start": period.start.isoformat(),
    }
    row.update(zip(COUNT_FIELDS, counts, strict=True))
    row.update(zip(RATE_FIELDS, rates(counts), strict=True))
    return row
