"""Keeping ``open_dossiers`` (migration 0008): a snapshot after each batch, a sweep now and then.

**Snapshot.** After a batch's transitions are stored (and with them, by materialized view, their
``dossiers`` rows), the writer sends the ids of the dossiers whose standing they touch, with the first
acceptance instant the batch holds for each, as an external table, and ClickHouse writes, for each, the
``dossiers_current`` row computed from *every* ``dossiers`` row of the dossier, and the earliest
acceptance known (the batch's or the table's). A transition delivered twice (a re-read batch, the
streams re-sending after a crash) or late (a pause reported after the end) cannot reopen a finished
dossier: ``dossiers`` holds its ``finished`` row, so its snapshot is ``finished`` again. Each snapshot
row is a whole current row; the latest of a (province, dossier) key is the truth, and versions only
grow, so ``FINAL`` (or a merge) keeps it. A dossier that ever had another province gets a closed row
under that one.

**Sweep** (every ``SWEEP_EVERY`` seconds while batches arrive): rows of keys whose latest row is closed
are deleted by two mutations, waited for one after the other. The first deletes the open rows of keys
that have a closed row; the second the closed rows, written more than ``KEEP_CLOSED`` seconds ago, of
keys left with no open row. A reader never sees a closed key without its closed row, even while a
mutation is half applied (a part at a time), because the closed row goes only once no open row is left,
and no open row of that key is written afterwards (a snapshot of a finished dossier is closed). The
closed row also outlives the key's open rows by ``KEEP_CLOSED``, every sweep in between deleting any open
row of the key again: a write that lands late (an ``INSERT ... SELECT`` the server finishes after its
sink was killed) cannot reopen it. The cost is two rewrites of a table of the open dossiers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any, Protocol

from sinks.tables import TRANSITIONS

log = logging.getLogger(__name__)

#: The transition kinds that move a dossier's standing (the ``dossiers`` materialized view's).
STANDING_KINDS = frozenset({"accepted", "paused", "resumed", "due_soon", "overdue", "finished"})
SWEEP_EVERY = 60.0
KEEP_CLOSED = 600.0
TOUCHED = "touched"  # the external table's name
TOUCHED_STRUCTURE = [("dossier_id", "String"), ("accepted", "UInt32")]

SNAPSHOT = """
INSERT INTO {db}.open_dossiers
    (province, dossier_id, unit, procedure_code, procedure_field, officer, standing, since, due_at, accepted_at,
     open, _version)
SELECT
    arrayJoin(provinces) AS key_province,
    dossier_id, current_unit, current_procedure_code, current_procedure_field, current_officer, current_standing,
    current_since, current_due_at, toDateTime(first_accepted, 'Asia/Ho_Chi_Minh'),
    current_standing != 'finished' AND key_province = current_province,
    version
FROM
(
    SELECT
        dossier_id,
        argMax(province, _version) AS current_province,
        argMax(unit, _version) AS current_unit,
        argMax(procedure_code, _version) AS current_procedure_code,
        argMax(procedure_field, _version) AS current_procedure_field,
        argMax(officer, _version) AS current_officer,
        argMax(standing, _version) AS current_standing,
        argMax(since, _version) AS current_since,
        argMax(due_at, _version) AS current_due_at,
        max(_version) AS version,
        groupUniqArray(province) AS provinces
    FROM {db}.dossiers
    PREWHERE dossier_id IN (SELECT dossier_id FROM {touched})
    GROUP BY dossier_id
) AS current
ANY LEFT JOIN
(
    SELECT dossier_id, minIf(accepted, accepted > 0) AS first_accepted
    FROM
    (
        SELECT dossier_id, accepted FROM {touched}
        UNION ALL
        SELECT dossier_id, toUInt32(accepted_at) AS accepted
        FROM {db}.open_dossiers
        PREWHERE dossier_id IN (SELECT dossier_id FROM {touched})
    )
    GROUP BY dossier_id
) AS acceptance USING dossier_id
"""
"""``{touched}``: a table of (dossier_id String, accepted UInt32: the batch's first acceptance, 0 if none)."""

SWEEP = (
    "ALTER TABLE {db}.open_dossiers DELETE WHERE open = 1 AND (province, dossier_id) IN "
    "(SELECT province, dossier_id FROM {db}.open_dossiers WHERE open = 0)",
    "ALTER TABLE {db}.open_dossiers DELETE WHERE open = 0 AND _written_at <= now() - {keep} "
    "AND (province, dossier_id) NOT IN (SELECT province, dossier_id FROM {db}.open_dossiers WHERE open = 1)",
)


class Executor(Protocol):
    def execute(self, query: str, *args: Any, **kwargs: Any) -> Any: ...


def touched(columns: Sequence[Sequence[Any]]) -> list[tuple[str, int]]:
    """(dossier id, first ``accepted`` instant in these rows or 0) of the dossiers whose standing the
    ``transitions`` rows (``sinks.tables.TRANSITIONS`` column order) touch, in first-seen order."""
    ids, kinds, ats = (columns[TRANSITIONS.columns.index(name)] for name in ("dossier_id", "kind", "at"))
    first: dict[str, int] = {}
    for dossier_id, kind, at in zip(ids, kinds, ats, strict=True):
        if kind not in STANDING_KINDS:
            continue
        known = first.setdefault(dossier_id, 0)
        if kind == "accepted" and (known == 0 or at < known):
            first[dossier_id] = at
    return list(first.items())


def snapshot(client: Executor, database: str, dossiers: Sequence[tuple[str, int]]) -> None:
    """Write the current row of these dossiers (``touched``'s pairs) into ``open_dossiers``."""
    if dossiers:
        client.execute(SNAPSHOT.format(db=database, touched=TOUCHED), external_tables=[{
            "name": TOUCHED, "structure": TOUCHED_STRUCTURE,
            "data": [{"dossier_id": d, "accepted": a} for d, a in dossiers],
        }])


class Sweeper:
    """The two-phase sweep, advanced by ``step`` between batches: never waits on ClickHouse's mutations."""

    def __init__(self, database: str, every: float = SWEEP_EVERY, keep_closed: float = KEEP_CLOSED) -> None:
        self.database, self.every, self.keep_closed = database, every, keep_closed
        self.phase = 0  # 0: idle; 1 or 2: that phase's mutation was issued
        self.started = -every  # time.monotonic() of the last sweep's start: the first batch sweeps
        self.sweeps = 0

    def step(self, client: Executor) -> None:
        """Issue the next phase when the previous one is done (or start a sweep when one is due)."""
        if self.phase == 0:
            if time.monotonic() - self.started < self.every:
                return
            self.started = time.monotonic()
            if not client.execute(f"SELECT count() FROM {self.database}.open_dossiers WHERE open = 0")[0][0]:
                return
        elif self._mutating(client):
            return
        if self.phase == len(SWEEP):
            self.phase, self.sweeps = 0, self.sweeps + 1
            return
        client.execute(SWEEP[self.phase].format(db=self.database, keep=int(self.keep_closed)))
        self.phase += 1

    def _mutating(self, client: Executor) -> bool:
        return bool(client.execute(
            f"SELECT count() FROM system.mutations WHERE database = '{self.database}' "
            "AND table = 'open_dossiers' AND is_done = 0")[0][0])

    def finish(self, client: Executor, timeout: float = 30.0) -> None:
        """Run a whole sweep now, waiting for its mutations (tests, benchmarks)."""
        self.phase, self.started = 0, -self.every
        deadline = time.monotonic() + timeout
        self.step(client)
        while self.phase and time.monotonic() < deadline:
            time.sleep(0.05)
            self.step(client)
        if self.phase:
            raise TimeoutError(f"open_dossiers sweep phase {self.phase} not done after {timeout} s")
