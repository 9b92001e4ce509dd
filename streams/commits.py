"""faust's offset commits made strict: a commit never passes an offset the worker has not applied.

faust (0.15.3) commits, per partition, the first run of consecutive acknowledged offsets, with two
leniencies meant for compacted and transactional topics, whose offsets have holes:

* a run may start one past the committed offset (``min(acked) - committed > 1`` is the only guard), so
  a single record at the head that was never delivered is committed over and lost (faust-streaming
  issue #606, fix proposed in pull request #707);
* a jump in the offsets the fetcher hands over is recorded as a *gap* and counted as acknowledged. After
  a rebalance the read position can come from a record of the previous assignment, and the records
  between it and the next one delivered were then counted as done.

Both lost events here: the two-worker SIGKILL test once ended with one dossier missing from every row,
its acceptance (one record) never processed while the records around it were, and committed.

The worker's source topics (``dossier.events``, the summaries and partials topics) are written by
idempotent, non-transactional producers and never compacted: their offsets have no holes, so neither
leniency is needed. ``install`` replaces faust's computation with one that commits only a run starting
exactly at the committed offset, and ending before the next offset the worker is to apply
(``streams.ordering``: faust acknowledges the records the worker left out as well); a record never
delivered now holds its partition's commit, and the worker reads the partition again from there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from faust.transport.consumer import Consumer


def strict_new_offset(consumer: Any, tp: Any, applied_until: int | None) -> int | None:
    """The offset to commit for ``tp`` (one past the run of acknowledged offsets that starts at the committed
    one, and never past ``applied_until``, the next offset the worker is to apply), or None; the offsets
    committed leave the consumer's bookkeeping, as faust's own method does.

    faust acknowledges every record an agent's batch held, applied or not (``streams.ordering`` does not
    apply a record past a hole until the partition is read again): ``applied_until`` keeps those out of
    the commit (None: the worker applies none of this partition's records, nothing is committed).
    Offsets below the committed one (acknowledged again after a rebalance) and repeats are dropped: a
    repeat ends faust's run of consecutive numbers, so that each commit moved one offset. faust knows no
    committed offset for a partition its group never committed (nor for one committed at 0): nothing is
    committed until the worker gives it the partition's first offset (``StreamsApp``).
    """
    acked: list[int] = consumer._acked[tp]
    committed: int | None = consumer._committed_offset[tp]
    if not acked or committed is None or applied_until is None:
        return None
    offsets = sorted({o for o in acked if o >= committed})
    run = 0
    while run < len(offsets) and offsets[run] == committed + run and committed + run < applied_until:
        run += 1
    acked[:] = offsets[run:]
    index: set[int] = consumer._acked_index[tp]
    index.clear()
    index.update(acked)
    return committed + run if run else None


async def _no_gap(consumer: Any, tp: Any, offset_from: int, offset_to: int) -> None:
    """A jump in fetched offsets is not taken as done: the offsets in between must be delivered."""


def install(applied_until: Callable[[Any], int | None]) -> None:
    """Make every faust consumer of this process commit strictly (see the module's docstring);
    ``applied_until(tp)``: the next offset of ``tp`` the worker is to apply (None: it applies none)."""

    def new_offset(consumer: Any, tp: Any) -> int | None:
        return strict_new_offset(consumer, tp, applied_until(tp))

    Consumer._new_offset = new_offset
    Consumer._add_gap = _no_gap
