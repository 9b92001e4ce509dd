"""``streams.ordering.OffsetGate``: records applied once, in offset order, without holes."""

from __future__ import annotations

from streams.ordering import OffsetGate


def test_records_in_order_are_applied_and_re_reads_are_not_applied_twice() -> None:
    gate = OffsetGate(retry_after=5)
    assert gate.next_offset("p") is None
    gate.start("p", 100)
    assert [o for o in (100, 101, 102) if gate.admit("p", o)] == [100, 101, 102]
    assert gate.next_offset("p") == 103
    assert not gate.admit("p", 101)  # read again: applied already
    assert gate.take_holes(0.0, {"p"}) == {}


def test_a_record_past_a_hole_waits_until_the_partition_is_read_again_from_the_hole() -> None:
    """The two-worker SIGKILL test: 1796 (a dossier's acceptance) missing, 1797 on delivered."""
    gate = OffsetGate(retry_after=5)
    gate.start("p", 1796)
    assert not gate.admit("p", 1797) and not gate.admit("p", 1798)
    assert gate.take_holes(10.0, {"p"}) == {"p": 1796}
    assert not gate.admit("p", 1799)  # fetched before the read-again: skipped, not read again yet
    assert gate.take_holes(11.0, {"p"}) == {}
    assert gate.take_holes(16.0, {"p"}) == {"p": 1796}  # still missing after 5 s, nothing delivered since: again
    assert not gate.admit("p", 1800)
    assert gate.take_holes(17.0, {"p"}) == {}  # read again a second ago
    assert [o for o in (1796, 1797, 1798, 1799, 1800) if gate.admit("p", o)] == [1796, 1797, 1798, 1799, 1800]
    assert gate.take_holes(30.0, {"p"}) == {}


def test_a_partition_not_started_has_every_record_applied_and_a_reassignment_restarts() -> None:
    gate = OffsetGate(retry_after=5)
    assert gate.admit("p", 40) and gate.admit("p", 41)  # not this worker's: the agent skips it
    gate.start("p", 30)  # assigned: the group's committed offset, or the log start where never committed
    assert not gate.admit("p", 41) and gate.take_holes(0.0, {"p"}) == {"p": 30}
    gate.start("q", 7)
    assert not gate.admit("q", 5) and gate.admit("q", 7)


def test_the_hole_of_a_partition_no_longer_held_is_dropped_not_read_again() -> None:
    """Revoked while a record was missing: its new owner reads it from the committed offset, and this worker
    must not seek it (aiokafka refuses a seek of a partition not assigned)."""
    gate = OffsetGate(retry_after=5)
    gate.start("p", 30)
    assert not gate.admit("p", 32)
    assert gate.take_holes(0.0, set()) == {}
    assert gate.take_holes(10.0, {"p"}) == {}  # dropped, not kept for later
    gate.start("p", 40)  # assigned again: from the committed offset
    assert not gate.admit("p", 41) and gate.take_holes(20.0, {"p"}) == {"p": 40}
