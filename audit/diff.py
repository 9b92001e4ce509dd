"""What differs between the KPI rows ClickHouse holds and the rows a replay recomputes, and which dossiers.

A row is compared measure by measure (every count, and every rate, which follows from the counts). For a
row that differs, each dossier of the row is looked at twice, through the same core: as the replay saw it
(its events in the log or the file) and as ClickHouse's event archive holds it; the dossiers whose
contribution to a differing measure is not the same are named, with their event ids and the events one side
has and the other lacks. When the archive agrees with the log for every dossier (the stored row itself is
wrong, e.g. it was altered, or the live worker counted differently), the dossiers the replay counts in that
measure are named instead. Pure: the sources are read by the caller.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import orjson

from dossier.calendar import WorkingCalendar
from dossier.contract import ParsedEvent
from dossier.kpi import COUNT_FIELDS, RATE_FIELDS, Scope, cell_of, contribution, rates, scope_id_of
from dossier.lifecycle import DossierSummary, in_state_machine_order, summarize
from dossier.merger import Hierarchy, scope_id_in
from dossier.periods import Period

Format = Literal["text", "markdown", "csv", "json"]
FORMATS: tuple[Format, ...] = ("text", "markdown", "csv", "json")
MEASURES = (*COUNT_FIELDS, *RATE_FIELDS)


@dataclass(frozen=True, slots=True)
class Evidence:
    """One dossier as a source shows it: its summary and its event ids in arrival order."""

    summary: DossierSummary
    event_ids: tuple[str, ...]


def collect(
    dossiers: Iterable[Sequence[ParsedEvent]],
    calendar: WorkingCalendar,
    scope: Scope,
    hierarchy: Hierarchy,
    scope_ids: frozenset[str],
) -> dict[str, Evidence]:
    """The evidence of every accepted dossier whose row (in ``scope``, ``hierarchy``) is one of ``scope_ids``."""
    found = {}
    for events in dossiers:
        summary = summarize(in_state_machine_order(events), calendar)
        if summary is None:
            continue
        scope_id = scope_id_of(cell_of(summary), scope)
        if scope_id is not None and scope_id_in(hierarchy, scope, scope_id) in scope_ids:
            found[summary.dossier_id] = Evidence(summary, tuple(e.record.event_id for e in events))
    return found


@dataclass(slots=True)
class DossierDiff:
    dossier_id: str
    stored: float | int | None  # its contribution as ClickHouse's archive shows it (None: not archived)
    replayed: float | int | None  # as the replay shows it (None: not in the replayed range)
    event_ids: list[str]  # as the replay saw them (the archive's when the replay has none)
    missing_from_archive: list[str] = field(default_factory=list)
    only_in_archive: list[str] = field(default_factory=list)


@dataclass(slots=True)
class MeasureDiff:
    measure: str
    stored: float | int | None  # None: no such row stored, or a null rate
    replayed: float | int | None
    basis: str = ""  # how the dossiers below were found
    dossiers: list[DossierDiff] = field(default_factory=list)
    more_dossiers: int = 0  # left out of the report (the limit)


@dataclass(slots=True)
class RowDiff:
    scope: str
    scope_id: str
    period: str
    period_start: str
    stored_row: bool
    replayed_row: bool
    measures: list[MeasureDiff]


@dataclass(slots=True)
class Report:
    scope: str
    period: str
    first: str
    last: str
    hierarchy: str
    source: str
    database: str
    compared: int
    differing: list[RowDiff]
    provisional: list[str]  # stored rows left out: their period is not over for the live pipeline
    unexplained: int = 0  # differing rows whose dossiers were not looked at (the limit)

    @property
    def differs(self) -> bool:
        return bool(self.differing)


Key = tuple[str, str]  # (scope_id, period_start)


def compare(stored: dict[Key, tuple[list[int], bool]], replayed: dict[Key, list[int]], scope: str,
            period: str) -> tuple[list[RowDiff], list[Key], int]:
    """The rows that differ (provisional stored rows left out), the provisional keys, how many were compared."""
    differing, provisional, compared = [], [], 0
    for key in sorted(set(stored) | set(replayed)):
        stored_counts, is_provisional = stored.get(key, (None, False))
        if is_provisional:
            provisional.append(key)
            continue
        compared += 1
        replayed_counts = replayed.get(key)
        before = _measures(stored_counts)
        after = _measures(replayed_counts)
        measures = [MeasureDiff(m, before[m], after[m]) for m in MEASURES if before[m] != after[m]]
        if measures:
            differing.append(RowDiff(scope, key[0], period, key[1], stored_counts is not None,
                                     replayed_counts is not None, measures))
    return differing, provisional, compared


def _measures(counts: list[int] | None) -> dict[str, Any]:
    if counts is None:
        return dict.fromkeys(MEASURES)
    return {**dict(zip(COUNT_FIELDS, counts, strict=True)), **dict(zip(RATE_FIELDS, rates(counts), strict=True))}


def explain(
    row: RowDiff,
    period: Period,
    replayed: dict[str, Evidence],
    archived: dict[str, Evidence],
    calendar: WorkingCalendar,
    scope: Scope,
    hierarchy: Hierarchy,
    limit: int,
) -> None:
    """Name the dossiers behind each differing measure of ``row`` (at most ``limit`` per measure)."""

    def in_row(evidence: dict[str, Evidence]) -> dict[str, dict[str, Any]]:
        out = {}
        for dossier_id, e in evidence.items():
            scope_id = scope_id_of(cell_of(e.summary), scope)
            if scope_id is None or scope_id_in(hierarchy, scope, scope_id) != row.scope_id:
                continue
            counts = contribution(e.summary, period, calendar)
            if counts is not None:
                out[dossier_id] = _measures(counts)
        return out

    log_side, archive_side = in_row(replayed), in_row(archived)
    for measure in row.measures:
        name = measure.measure
        if name in RATE_FIELDS:
            measure.basis = "a rate: see the counts it is made of"
            continue
        differ = sorted(d for d in set(log_side) | set(archive_side)
                        if log_side.get(d, {}).get(name, 0) != archive_side.get(d, {}).get(name, 0))
        if differ:
            measure.basis = "their contribution differs between the log and ClickHouse's event archive"
        else:
            differ = sorted(d for d, m in log_side.items() if m[name])
            measure.basis = ("the archive agrees with the log for every dossier of the row (the stored row itself "
                             "differs): the dossiers the replay counts in it")
        measure.more_dossiers = max(0, len(differ) - limit)
        for dossier_id in differ[:limit]:
            log_e, archive_e = replayed.get(dossier_id), archived.get(dossier_id)
            log_ids = list(log_e.event_ids) if log_e else []
            archive_ids = list(archive_e.event_ids) if archive_e else []
            measure.dossiers.append(DossierDiff(
                dossier_id,
                archive_side[dossier_id][name] if dossier_id in archive_side else None,
                log_side[dossier_id][name] if dossier_id in log_side else None,
                log_ids or archive_ids,
                [i for i in log_ids if i not in archive_ids] if archive_e else [],
                [i for i in archive_ids if i not in log_ids] if log_e else [],
            ))


# -------------------------------------------------------------------------------------------------- output


def render(report: Report, fmt: Format) -> str:
    return {"text": _text, "markdown": _markdown, "csv": _csv, "json": _json}[fmt](report)


def _value(value: Any) -> str:
    if value is None:
        return "absent"
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _row_name(row: RowDiff) -> str:
    sides = "" if row.stored_row and row.replayed_row else " (not stored)" if row.replayed_row else " (not replayed)"
    return f"{row.scope} {row.scope_id} {row.period} {row.period_start}{sides}"


def _dossier_line(d: DossierDiff) -> str:
    text = f"{d.dossier_id}: stored {_value(d.stored)}, replayed {_value(d.replayed)}; events {', '.join(d.event_ids)}"
    if d.missing_from_archive:
        text += f"; not in the archive: {', '.join(d.missing_from_archive)}"
    if d.only_in_archive:
        text += f"; only in the archive: {', '.join(d.only_in_archive)}"
    return text


def _headline(report: Report) -> str:
    verdict = f"{len(report.differing)} of {report.compared} rows differ" if report.differs else (
        f"no difference in {report.compared} rows")
    text = (f"motcua audit diff: {report.scope} rows per {report.period}, {report.first} to {report.last} "
            f"({report.hierarchy} hierarchy): {report.source} against {report.database}: {verdict}")
    if report.provisional:
        text += f"; {len(report.provisional)} provisional stored rows not compared"
    if report.unexplained:
        text += f"; dossiers not looked up for {report.unexplained} rows (--explain)"
    return text


def _text(report: Report) -> str:
    lines = [_headline(report)]
    for row in report.differing:
        lines.append(f"\n{_row_name(row)}")
        for m in row.measures:
            lines.append(f"  {m.measure}: stored {_value(m.stored)}, replayed {_value(m.replayed)}")
            if m.dossiers:
                lines.append(f"    {m.basis}:")
                lines += [f"      {_dossier_line(d)}" for d in m.dossiers]
            if m.more_dossiers:
                lines.append(f"      ... and {m.more_dossiers} more")
    return "\n".join(lines) + "\n"


def _markdown(report: Report) -> str:
    lines = [f"# KPI audit: {report.scope} per {report.period}, {report.first} to {report.last}", "",
             _headline(report).removeprefix("motcua audit diff: ") + "."]
    for row in report.differing:
        lines += ["", f"## {_row_name(row)}", "", "| measure | stored | replayed | dossiers |", "|---|---:|---:|---|"]
        for m in row.measures:
            named = "<br>".join(_dossier_line(d) for d in m.dossiers)
            if m.more_dossiers:
                named += f"<br>... and {m.more_dossiers} more"
            lines.append(f"| {m.measure} | {_value(m.stored)} | {_value(m.replayed)} | {named or m.basis} |")
    return "\n".join(lines) + "\n"


def _csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["scope", "scope_id", "period", "period_start", "measure", "stored", "replayed", "dossier_id",
                     "dossier_stored", "dossier_replayed", "event_ids", "missing_from_archive", "only_in_archive"])
    for row in report.differing:
        head = [row.scope, row.scope_id, row.period, row.period_start]
        for m in row.measures:
            values = [m.measure, _value(m.stored), _value(m.replayed)]
            if not m.dossiers:
                writer.writerow([*head, *values, "", "", "", "", "", ""])
            for d in m.dossiers:
                writer.writerow([*head, *values, d.dossier_id, _value(d.stored), _value(d.replayed),
                                 " ".join(d.event_ids), " ".join(d.missing_from_archive), " ".join(d.only_in_archive)])
    return out.getvalue()


def _json(report: Report) -> str:
    return orjson.dumps({**asdict(report), "differs": report.differs}, option=orjson.OPT_INDENT_2).decode() + "\n"
