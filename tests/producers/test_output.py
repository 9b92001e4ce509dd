"""Real-time pacing releases each emission at its scaled simulated time."""

from __future__ import annotations

import time

from producers.output import paced
from producers.simulator.stream import Emission


def test_paced_releases_at_simulated_time_over_speedup() -> None:
    emissions = [Emission(at, b"k", b"v") for at in (1000, 1000, 2000, 3000)]
    started = time.monotonic()
    released = []
    for e in paced(emissions, start=1000, speedup=10_000):
        released.append((e.at, time.monotonic() - started))
    assert [at for at, _ in released] == [1000, 1000, 2000, 3000]
    assert released[1][1] < 0.05
    assert 0.09 <= released[2][1] < 0.2 and 0.19 <= released[3][1] < 0.3
