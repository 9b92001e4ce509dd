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

A dropped partial (``to_process`` 0, or reset) is kept as *vanished* by the caller, not forgotten: the
row's deletion is emitted later than the partial is stored (at most once per interval), and a worker that
dies in between must leave its successor a trace of it. The successor's ``mark_all`` sums every kept
row's key again, the vanished ones' too, so that their deletions are sent again (a transient row
otherwise stayed on the KPI topic for good: found by the two-worker SIGKILL test).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date
from operator import itemgetter
from typing import Any, Protocol

from dossier.kpi import COUNT_FIELDS, kpi_row
from dossier.periods import make_period

Partial = dict[str, Any]
_counts_of: Callable[[Partial], tuple[int, ...]] = itemgetter(*COUNT_FIELDS)


def row_key(row: dict[str, Any]) -> str:
    return f"{row['scope']}/{row['scope_id']}/{row['period']}/{row['period_start']}"


class PartialRows(Protocol):
    """Where the caller keeps the latest partial row of every (row key, province): a row with ``to_process``
    > 0, or a vanished mark once it dropped to 0 or was reset."""

    def of(self, key: str) -> dict[str, Partial]:
        """Province -> its latest partial row for ``key`` (vanished ones left out)."""
        ...

    def every(self) -> Iterable[tuple[str, str]]:
        """(row key, province) of every partial row kept (vanished ones left out)."""
        ...

    def row_keys(self) -> Iterable[str]:
        """The row key of every partial row and vanished mark kept."""
        ...


class Rollup:
    """The rows whose sum changed, summed from the partial rows the caller keeps (in the worker, the
    partials table on disk: memory holds only what changed since the last emission)."""

    def __init__(self, partials: PartialRows) -> None:
        self._partials = partials
        self._dirty: set[str] = set()

    def on_partial(self, row: Partial) -> None:
        """A province's partial row for its key changed (the caller keeps it, or a vanished mark at
        ``to_process`` 0)."""
        self._dirty.add(row_key(row))

    def reset(self, of_source: Callable[[str], bool]) -> list[tuple[str, str]]:
        """The (row key, province) of every partial of a province ``of_source`` selects, for the caller to
        keep as vanished; their rows are summed again at the next ``changed_rows``."""
        dropped = [(key, province) for key, province in self._partials.every() if of_source(province)]
        self._dirty.update(key for key, _ in dropped)
        return dropped

    def mark_all(self) -> None:
        """Every row, and every vanished row's deletion, is emitted again at the next ``changed_rows`` (after a
        rebuild: the previous owner may have died before it emitted them)."""
        self._dirty.update(self._partials.row_keys())

    def provinces(self, key: str) -> list[str]:
        return sorted(self._partials.of(key))

    def changed_rows(self) -> list[dict[str, Any]]:
        """The summed row (kpi-row/1 fields, provisional, watermark) of every key changed since the last call.

        A key none of whose provinces has a row any more comes back with ``to_process`` 0 (a deletion).
        """
        return [row for row, _ in self.changed_sums()]

    def changed_sums(self) -> list[tuple[dict[str, Any], list[str]]]:
        """``changed_rows``, each with the sorted provinces summed in it (read once: the caller's alerts
        name them)."""
        sums = []
        for key in sorted(self._dirty):
            by_province = self._partials.of(key)
            partials = list(by_province.values())
            if not partials:
                scope, scope_id, kind, start = key.split("/", 3)
                sums.append((_row(scope, scope_id, kind, start, [0] * len(COUNT_FIELDS), False, None), []))
                continue
            if len(partials) == 1:  # most keys: a unit's rows are in one province
                counts: Sequence[int] = _counts_of(partials[0])
            else:
                counts = [sum(column) for column in zip(*map(_counts_of, partials), strict=True)]
            watermarks = [p["watermark"] for p in partials if p["watermark"] is not None]
            first = partials[0]
            row = _row(
                first["scope"],
                first["scope_id"],
                first["period"],
                first["period_start"],
                counts,
                any(p["provisional"] for p in partials),
                min(watermarks) if watermarks else None,  # RFC 3339 in +07:00: text order is time order
            )
            sums.append((row, sorted(by_province)))
        self._dirty.clear()
        return sums


def _row(
    scope: str, scope_id: str, kind: str, start: str, counts: Sequence[int], provisional: bool, watermark: str | None
) -> dict[str, Any]:
    row = kpi_row(scope, scope_id, make_period(kind, date.fromisoformat(start)), counts)  # type: ignore[arg-type]
    row["provisional"] = provisional
    row["watermark"] = watermark
    return row
