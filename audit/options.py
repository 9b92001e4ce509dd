"""The options the audit commands share, and their checks: a bad value is a usage error (exit 2) naming the option.

Kept apart from the commands so that a command taking one of these options (``motcua db``, for instance) does
not load the audit's reading path with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Annotated, NoReturn

import typer

from dossier.contract import RFC3339_PATTERN, parse_timestamp
from dossier.kpi import SCOPES, Scope
from dossier.merger import HIERARCHIES, Hierarchy
from dossier.periods import PERIOD_KINDS, PeriodKind

USAGE_ERROR = 2


def usage_error(message: str) -> NoReturn:
    typer.echo(f"motcua: {message}", err=True)
    raise typer.Exit(USAGE_ERROR)


def parse_datetime(option: str, value: str) -> float:
    if re.match(RFC3339_PATTERN, value) is None:
        usage_error(f"{option}: {value!r} is not an RFC 3339 datetime with an offset (e.g. 2025-01-24T10:00:00+07:00)")
    try:
        return parse_timestamp(value)
    except ValueError as error:
        usage_error(f"{option}: {value!r}: {error}")


def parse_date(option: str, value: str) -> date:
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    usage_error(f"{option}: {value!r} is not a date (YYYY-MM-DD)")


PeriodOption = Annotated[str, typer.Option("--period", help="day, month, quarter or year.")]
FromOption = Annotated[str, typer.Option("--from", help="First local day (YYYY-MM-DD) of the range.")]
ToOption = Annotated[str, typer.Option("--to", help="Local day (YYYY-MM-DD) after the range.")]
ScopeOption = Annotated[str, typer.Option("--scope", help="province, unit, procedure or field.")]
HierarchyOption = Annotated[
    str,
    typer.Option(
        "--hierarchy",
        help="legacy: province codes as sent (the 63 former provinces before 2025-07-01); "
        "2025: province rows re-aggregated into the 34 provinces (counts summed, rates recomputed).",
    ),
]


@dataclass(frozen=True, slots=True)
class RowsQuery:
    """Which KPI rows: those of ``scope`` for every ``period`` overlapping the local days [first, last)."""

    period: PeriodKind
    scope: Scope
    first: date
    last: date
    hierarchy: Hierarchy


def checked_hierarchy(hierarchy: str) -> Hierarchy:
    """The value of ``--hierarchy``, checked (a usage error exits 2)."""
    if hierarchy not in HIERARCHIES:
        usage_error(f"--hierarchy: {hierarchy!r} is not one of {', '.join(HIERARCHIES)}")
    return hierarchy  # type: ignore[return-value]


def rows_query(period: str, from_: str, to: str, scope: str, hierarchy: str) -> RowsQuery:
    """The options every command printing KPI rows takes, checked (a usage error exits 2)."""
    if period not in PERIOD_KINDS:
        usage_error(f"--period: {period!r} is not one of {', '.join(PERIOD_KINDS)}")
    if scope not in SCOPES:
        usage_error(f"--scope: {scope!r} is not one of {', '.join(SCOPES)}")
    checked = checked_hierarchy(hierarchy)
    first, last = parse_date("--from", from_), parse_date("--to", to)
    if first > last:
        usage_error(f"--from {first} is after --to {last}")
    return RowsQuery(period, scope, first, last, checked)  # type: ignore[arg-type]
