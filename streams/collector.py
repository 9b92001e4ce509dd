"""Python's cyclic garbage collector, tuned for a worker holding a large, long-lived state.

A worker keeps every open dossier, summary and KPI row in memory: millions of objects that live for the
whole run and form no reference cycles. Each full (generation 2) collection rescans all of them, so its
pause grows with the state: 0.3 s and growing, every 3 to 4 s, in bench/bench_freshness.py, the largest
part of the KPI latency's tail. Freezing the survivors of each full collection (``gc.freeze``) exempts
them from the next ones, which then scan only what was allocated since (pauses of ~0.02 s, measured).

The price: a reference cycle made only of frozen objects is never collected. The state has none, and
short-lived objects (events, futures) are collected young, before any freeze sees them.
"""

from __future__ import annotations

import gc
from typing import Any


def _freeze_after_full_collection(phase: str, info: dict[str, Any]) -> None:
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()


def freeze_survivors_of_full_collections() -> None:
    """From now on, every object a full collection leaves alive is exempt from the following ones."""
    if _freeze_after_full_collection not in gc.callbacks:
        gc.callbacks.append(_freeze_after_full_collection)
