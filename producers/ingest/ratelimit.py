"""A per-source token bucket of records: a source may send `rate` records a second, in bursts of `burst`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(slots=True)
class Bucket:
    level: float
    at: float


@dataclass(slots=True)
class RateLimit:
    """Records per second per source. A request is let in while its source's bucket is not empty; its records
    are then taken out, possibly below zero, so that a large request makes the next ones wait. Pure: the
    caller passes the clock."""

    rate: float
    burst: float
    buckets: dict[str, Bucket] = field(default_factory=dict)

    def _bucket(self, source: str, now: float) -> Bucket:
        bucket = self.buckets.setdefault(source, Bucket(self.burst, now))
        bucket.level = min(self.burst, bucket.level + (now - bucket.at) * self.rate)
        bucket.at = now
        return bucket

    def retry_after(self, source: str, now: float) -> int | None:
        """None when the source may send now, else the seconds to wait (at least 1)."""
        level = self._bucket(source, now).level
        return None if level > 0 else max(1, math.ceil((1 - level) / self.rate))

    def take(self, source: str, records: int, now: float) -> None:
        self._bucket(source, now).level -= records
