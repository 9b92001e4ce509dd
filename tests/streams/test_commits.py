"""``streams.commits``: what a commit may pass, on faust's own bookkeeping structures."""

from __future__ import annotations

from collections import defaultdict

from faust.transport.consumer import Consumer

from streams import commits
from streams.commits import strict_new_offset


class Bookkeeping:
    """The attributes of faust's ``Consumer`` that the offset computation reads and trims."""

    def __init__(self, committed: int | None, acked: list[int]) -> None:
        self._acked: defaultdict[str, list[int]] = defaultdict(list, {"tp": list(acked)})
        self._acked_index: defaultdict[str, set[int]] = defaultdict(set, {"tp": set(acked)})
        self._committed_offset: defaultdict[str, int | None] = defaultdict(lambda: None, {"tp": committed})


def test_a_run_from_the_committed_offset_is_committed_and_leaves_the_bookkeeping() -> None:
    consumer = Bookkeeping(100, [102, 100, 101, 105, 106])
    assert strict_new_offset(consumer, "tp", 200) == 103
    assert consumer._acked["tp"] == [105, 106] and consumer._acked_index["tp"] == {105, 106}


def test_one_offset_missing_at_the_head_holds_the_commit() -> None:
    """faust 0.15.3 returns 104 here (its guard is ``min(acked) - committed > 1``): offset 100 was lost."""
    consumer = Bookkeeping(100, [101, 102, 103])
    assert strict_new_offset(consumer, "tp", 200) is None
    assert consumer._acked["tp"] == [101, 102, 103]
    consumer._acked["tp"].append(100)  # delivered at last (the worker read the partition again)
    assert strict_new_offset(consumer, "tp", 200) == 104


def test_acknowledged_records_the_worker_did_not_apply_are_not_committed() -> None:
    """faust acknowledged 1333-1340 (a batch past a hole, not applied); 0-1332 came when read again. A commit
    of 1341 lost 1333-1340 when the partition then moved to another worker (two-worker SIGKILL test)."""
    consumer = Bookkeeping(0, [*range(1333, 1341), *range(0, 1333)])
    assert strict_new_offset(consumer, "tp", 1333) == 1333
    assert consumer._acked["tp"] == list(range(1333, 1341))
    consumer._committed_offset["tp"] = 1333  # as faust notes it once committed
    assert strict_new_offset(consumer, "tp", 1341) == 1341  # applied when read again


def test_repeats_and_offsets_below_the_commit_are_dropped_not_committed_one_by_one() -> None:
    """A repeat ends faust's run of consecutive numbers: each commit moved one offset (robinhood/faust#625)."""
    consumer = Bookkeeping(100, [99, 100, 100, 101, 101, 102])
    assert strict_new_offset(consumer, "tp", 200) == 103
    assert consumer._acked["tp"] == [] and consumer._acked_index["tp"] == set()


def test_nothing_is_committed_without_a_committed_offset_or_where_the_worker_applies_nothing() -> None:
    """faust's first delivered record may not be the partition's first: a run from it would pass the others."""
    consumer = Bookkeeping(None, [7, 8, 10])
    assert strict_new_offset(consumer, "tp", 200) is None and consumer._acked["tp"] == [7, 8, 10]
    assert strict_new_offset(Bookkeeping(7, [7, 8]), "tp", None) is None
    assert strict_new_offset(Bookkeeping(5, []), "tp", 200) is None


def test_install_replaces_fausts_offset_computation_and_ignores_jumps() -> None:
    commits.install(lambda tp: 9)
    consumer = Bookkeeping(7, [7, 8, 9, 10])
    assert Consumer._new_offset(consumer, "tp") == 9  # type: ignore[arg-type]
    assert Consumer._add_gap is commits._no_gap
