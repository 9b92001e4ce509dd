"""The worker's watchdogs as pure functions of the times and offsets they are given."""

from __future__ import annotations

from streams.watchdog import HeadGaps, Progress


def test_a_head_gap_that_stays_is_read_again_once_then_watched_anew() -> None:
    gaps = HeadGaps(after_seconds=15)
    stuck = {"s0": (100, 450)}  # committed 100, first acknowledged 450: 100-449 never came
    assert gaps.note(0.0, stuck) == []
    assert gaps.note(14.9, stuck) == []
    assert gaps.note(15.0, stuck) == ["s0"]
    assert gaps.note(16.0, stuck) == []  # forgotten after the read: watched for another 15 s
    assert gaps.note(31.0, stuck) == ["s0"]


def test_a_gap_that_moves_or_closes_is_a_batch_in_progress() -> None:
    gaps = HeadGaps(after_seconds=15)
    assert gaps.note(0.0, {"s0": (100, 450)}) == []
    assert gaps.note(10.0, {"s0": (300, 450)}) == []  # the commit moved: the clock starts again
    assert gaps.note(24.0, {"s0": (300, 450)}) == []
    assert gaps.note(25.0, {"s0": (450, None)}) == []  # nothing acknowledged past the commit
    assert gaps.note(50.0, {"s0": (450, None)}) == []


def test_no_gap_without_a_commit_or_with_the_committed_offset_acknowledged() -> None:
    gaps = HeadGaps(after_seconds=1)
    heads = {"fresh": (None, 40), "acked": (100, 100)}
    assert gaps.note(0.0, heads) == [] and gaps.note(100.0, heads) == []


def test_one_offset_missing_at_the_head_is_a_gap() -> None:
    """faust committed over it (``streams.commits`` no longer does): the record was lost."""
    gaps = HeadGaps(after_seconds=1)
    assert gaps.note(0.0, {"s0": (100, 101)}) == []
    assert gaps.note(1.0, {"s0": (100, 101)}) == ["s0"]


def test_a_partition_no_longer_held_is_forgotten() -> None:
    gaps = HeadGaps(after_seconds=15)
    gaps.note(0.0, {"s0": (100, 450)})
    gaps.note(10.0, {})
    assert gaps.note(20.0, {"s0": (100, 450)}) == []  # held again: watched from 20 s
    assert gaps.note(35.0, {"s0": (100, 450)}) == ["s0"]


def test_progress_stalls_only_when_work_waits_and_the_mark_stays() -> None:
    progress = Progress(stall_seconds=60)
    progress.note(0.0, True, ("a", 1))
    progress.note(59.0, True, ("a", 1))
    assert progress.stalled(59.0) is None
    progress.note(60.0, True, ("a", 1))
    assert "no progress for 60 s" in (progress.stalled(60.0) or "")
    progress.note(61.0, True, ("a", 2))
    assert progress.stalled(61.0) is None
    progress.note(200.0, False, ("a", 2))  # idle: nothing pending is never a stall
    assert progress.stalled(200.0) is None
    assert "unresponsive" in (progress.stalled(300.0) or "")
