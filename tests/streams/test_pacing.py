"""When KPI rows are emitted: every interval; a costly backlog spaces them out, one slow emission does not."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.pacing import COSTS_KEPT, EmissionPacer


def test_cheap_emissions_follow_the_interval() -> None:
    pacer = EmissionPacer(interval=0.5)
    assert pacer.due(0.0)
    pacer.emitted(0.0, 0.01)
    assert not pacer.due(0.49) and pacer.due(0.5)


def test_one_slow_emission_among_cheap_ones_does_not_space_out_the_next() -> None:
    pacer = EmissionPacer(interval=0.5)
    for n in range(COSTS_KEPT - 1):
        pacer.emitted(n * 0.5, 0.02)
    pacer.emitted(10.0, 0.8)  # a full garbage collection during this one
    assert pacer.due(10.5)


def test_costly_emissions_take_their_share_of_the_time_at_most_and_never_wait_past_the_cap() -> None:
    pacer = EmissionPacer(interval=0.5)
    assert pacer.share == 0.3
    for n in range(COSTS_KEPT):
        pacer.emitted(n * 3.0, 0.3)
    assert not pacer.due(18.0 + 0.99) and pacer.due(18.0 + 1.0)
    for n in range(COSTS_KEPT):
        pacer.emitted(100.0 + n * 10, 5.0)  # 16.7 s at 30%: capped
    assert pacer.due(160.0 + 10.0)


@given(st.lists(st.floats(min_value=0.0, max_value=30.0), min_size=1, max_size=40))
def test_the_gap_is_always_between_the_interval_and_the_cap(costs: list[float]) -> None:
    pacer = EmissionPacer(interval=0.5)
    for cost in costs:
        pacer.emitted(0.0, cost)
        assert not pacer.due(0.4999) and pacer.due(10.0)
