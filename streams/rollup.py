"""The second KPI stage: a row is the sum of its provinces' partial rows (pure: no Kafka, no wall clock).

``LiveKpis`` counts one province's dossiers, but a procedure or a procedure field (and, in principle, a
unit code) has dossiers in many provinces, while ``motcua kpi`` and the KPI topic have one row per scope
id and period. Counts add, so every province's row for a key is a *partial* row, re-keyed by the row key to
this stage, which sums the latest partial of each province and derives the rates from the sums. A row is
provisional while any of its partials is, and is computed up to the least of their watermarks.

When a worker rebuilds a province's live KPIs (after a crash or a rebalance), it cannot know which rows the
previous owner sent and it would now delete (rows that existed only in a transient state): it sends a
*reset* of its summaries partition first, which drops every partial of that partition's provinces, then
every row it has.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from dossier.kpi import COUNT_FIELDS, kpi_row
from dossier.periods import make_period

Partial = dict[str, Any]


def row_key(row: dict[str, Any]) -> str:
    return f"{row['scope']}/{row['scope_id']}/{row['period']}/{row['period_start']}"


class Rollup:
    """The latest partial row of every (row key, province), and the rows whose sum changed."""

    def __init__(self) -> None:
        self._partials: dict[str, dict[str, Partial]] = {}
        self._dirty: set[str] = set()

    def on_partial(self, province: str, row: Partial) -> None:
        key = row_key(row)
        by_province = self._partials.setdefault(key, {})
        if row["to_process"]:
            by_province[province] = row
        else:
            by_province.pop(province, None)  # to_process 0: that province's row no longer exists
        self._dirty.add(key)

    def reset(self, of_source: Callable[[str], bool]) -> list[tuple[str, str]]:
        """Drop the partials of every province ``of_source`` selects; returns the (row key, province) dropped."""
        dropped = []
        for key, by_province in self._partials.items():
            for province in [p for p in by_province if of_source(p)]:
                del by_province[province]
                dropped.append((key, province))
                self._dirty.add(key)
        return dropped

    def provinces(self, key: str) -> list[str]:
        return sorted(self._partials.get(key, ()))

    def changed_rows(self) -> list[dict[str, Any]]:
        """The summed row (kpi-row/1 fields, provisional, watermark) of every key changed since the last call.

        A key none of whose provinces has a row any more comes back once with ``to_process`` 0 (a deletion).
        """
        rows = []
        for key in sorted(self._dirty):
            partials = list(self._partials.get(key, {}).values())
            if not partials:
                scope, scope_id, kind, start = key.split("/", 3)
                rows.append(_row(scope, scope_id, kind, start, [0] * len(COUNT_FIELDS), False, None))
                del self._partials[key]
                continue
            counts = [sum(p[name] for p in partials) for name in COUNT_FIELDS]
            watermarks = [p["watermark"] for p in partials if p["watermark"] is not None]
            first = partials[0]
            rows.append(
                _row(
                    first["scope"],
                    first["scope_id"],
                    first["period"],
                    first["period_start"],
                    counts,
                    any(p["provisional"] for p in partials),
                    min(watermarks) if watermarks else None,  # RFC 3339 in +07:00: text order is time order
                )
            )
        self._dirty.clear()
        return rows


def _row(
    scope: str, scope_id: str, kind: str, start: str, counts: list[int], provisional: bool, watermark: str | None
) -> dict[str, Any]:
    row = kpi_row(scope, scope_id, make_period(kind, date.fromisoformat(start)), counts)  # type: ignore[arg-type]
    row["provisional"] = provisional
    row["watermark"] = watermark
    return row
