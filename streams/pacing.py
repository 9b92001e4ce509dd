"""When the worker next sends its changed KPI rows: every interval, less often while that is costly.

An emission's computing holds the event loop. While a backlog makes every emission costly (the first
minutes after a recovery), emitting at a fixed interval would spend most of the worker's time there, so
the gap grows to ``1 / share`` times the cost. The cost taken is the median of the last few emissions:
one slow emission (a full garbage collection, a period's first rows) must not hold back the next rows by
many times its own cost (a 0.6 s emission made a 6 s gap, the freshness benchmark's p99 tail).

The share is 0.3. At 0.1, steady state paid too: on the loaded 2-core machine an emission costs 0.05-0.25 s,
so the gap grew to 0.5-2.5 s where the interval is 0.5 s (six-minute soaks back to back, 2026-12-07: p50
0.86 s and p99 1.98 s at 0.3, against 1.30 s and 3.61 s at 0.1, the worker at 62% and 66% of a core).
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass, field

COSTS_KEPT = 7


@dataclass
class EmissionPacer:
    """Pure: the caller gives the monotonic times."""

    interval: float
    share: float = 0.3  # of the worker's time the emissions may take while they are costly
    max_gap: float = 10.0  # however costly, rows are sent at least this often
    _costs: deque[float] = field(default_factory=lambda: deque(maxlen=COSTS_KEPT))
    _next: float = 0.0

    def due(self, now: float) -> bool:
        return now >= self._next

    def emitted(self, started: float, cost: float) -> None:
        """An emission started at ``started`` computed for ``cost`` seconds."""
        self._costs.append(cost)
        self._next = started + self.gap()

    def gap(self) -> float:
        """Seconds from an emission's start to the next one's, at the typical cost now."""
        typical = statistics.median(self._costs) if self._costs else 0.0
        return max(self.interval, min(typical / self.share, self.max_gap))

    def state(self) -> dict[str, float]:
        """For ``/health``: the last and the median cost of an emission, and the gap they give."""
        return {"last_cost_s": round(self._costs[-1], 4) if self._costs else 0.0,
                "median_cost_s": round(statistics.median(self._costs), 4) if self._costs else 0.0,
                "gap_s": round(self.gap(), 3)}
