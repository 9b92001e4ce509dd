"""Two watchdogs that turn a hung worker into an exited one, which a supervisor restarts.

faust commits only after ``producer.flush()``, which waits as long as a batch lives (20 minutes in faust),
and a graceful stop flushes too: a worker whose sends are stuck neither works nor ends (issue 14, item 8).

* **No progress.** Every second the worker notes (on its event loop) whether records are pending (lag on
  the partitions it consumes, or tables being recovered) and a mark of its progress (committed offsets,
  recovery offsets). Work pending while the mark stays the same for ``stall_seconds``, or no note at all
  for that long (the event loop itself is stuck), is a stall: ``/health`` says so, and the process exits
  with ``EXIT_STALLED`` a few seconds later (the uncommitted records are read again: at-least-once).
* **Offsets faust will never deliver.** After a rebalance, a record faust fetched for the previous
  assignment can still reach the agent (its hand-over was waiting on a full stream buffer); faust then
  takes that record's offset as the partition's read position and drops the records read again from the
  committed offset below it. They are never acknowledged, and faust commits only up to the first gap, so
  the partition's commit stays where it is forever while the other partitions go on (seen in the
  two-worker SIGKILL test: one summaries partition committed at ~100 of ~900). ``HeadGaps`` finds a
  partition whose first acknowledged offset stays past its committed one; the worker reads it again from
  there (``StreamsApp._read_again_from``); records read twice are deduplicated downstream, as after any crash. faust
  itself would commit over a single such offset, and over the offsets of a jump in what it fetched;
  ``streams.commits`` makes it wait for them instead, so that this watchdog sees every one.
* **A stop that hangs.** SIGTERM or SIGINT starts a timer: a worker still alive ``stop_seconds`` later
  exits with ``EXIT_STOP_TIMEOUT``.

Wall-clock time here decides only when to give up on the process, never what it computes.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from types import FrameType

log = logging.getLogger(__name__)

EXIT_STALLED = 75  # EX_TEMPFAIL: try again, i.e. restart the worker
EXIT_STOP_TIMEOUT = 124  # as timeout(1)
STALL_GRACE = 5.0  # seconds between saying so on /health and exiting


@dataclass
class Progress:
    """Whether work is pending without progress for ``stall_seconds`` (pure: times are given)."""

    stall_seconds: float
    _mark: Hashable = None
    _since: float | None = None  # since when the mark has not moved while work was pending
    noted_at: float | None = None
    stalled_since: float | None = None

    def note(self, now: float, pending: bool, mark: Hashable) -> None:
        self.noted_at = now
        if not pending or self._since is None or mark != self._mark:
            self._mark, self._since = mark, now
            self.stalled_since = None
        elif self.stalled_since is None and now - self._since >= self.stall_seconds:
            self.stalled_since = now

    def stalled(self, now: float) -> str | None:
        """Why the worker counts as stalled at ``now``, or None."""
        if self.stalled_since is not None:
            return f"records pending and no progress for {self.stall_seconds:g} s"
        if self.noted_at is not None and now - self.noted_at >= self.stall_seconds:
            return f"event loop unresponsive for {now - self.noted_at:.0f} s"
        return None


@dataclass
class HeadGaps:
    """Partitions whose commit waits on offsets that are not coming (pure: times are given).

    A gap at the head (the committed offset not acknowledged, later ones acknowledged) is normal for as
    long as a batch takes; one that stays ``after_seconds`` with the same committed offset is not.
    """

    after_seconds: float
    _since: dict[Hashable, tuple[int, float]] = field(default_factory=dict)

    def note(self, now: float, heads: dict[Hashable, tuple[int | None, int | None]]) -> list[Hashable]:
        """``heads``: per partition, (committed offset, first acknowledged offset not committed). The
        partitions to read again from their committed offset: gapped for ``after_seconds`` (then forgotten,
        so that a read that did not help is tried again later)."""
        stuck = []
        for key, (committed, first_acked) in heads.items():
            gapped = committed is not None and first_acked is not None and first_acked > committed
            seen = self._since.get(key)
            if not gapped:
                self._since.pop(key, None)
            elif seen is None or seen[0] != committed:
                self._since[key] = (committed, now)
            elif now - seen[1] >= self.after_seconds:
                stuck.append(key)
                del self._since[key]
        for key in set(self._since) - set(heads):
            del self._since[key]
        return stuck


def watch_progress(progress: Progress, every: float = 1.0) -> threading.Thread:
    """A daemon thread that exits the process ``STALL_GRACE`` seconds after ``progress`` turned stalled."""

    def run() -> None:
        while (reason := progress.stalled(time.monotonic())) is None:
            time.sleep(every)
        log.error("worker stalled (%s): exiting with %d so that it is restarted", reason, EXIT_STALLED)
        time.sleep(STALL_GRACE)
        os._exit(EXIT_STALLED)

    thread = threading.Thread(target=run, name="progress-watchdog", daemon=True)
    thread.start()
    return thread


def bound_stop(stop_seconds: float) -> None:
    """Make SIGTERM and SIGINT also start a timer that ends the process if the graceful stop hangs.

    To be called after the event loop installed its own handlers: the loop still hears the signal
    (through its wake-up file descriptor) and stops the worker; this handler runs in the main thread
    between bytecodes even when the loop is busy.
    """
    started = threading.Event()

    def hard_exit() -> None:
        log.error("graceful stop took more than %g s: exiting with %d", stop_seconds, EXIT_STOP_TIMEOUT)
        os._exit(EXIT_STOP_TIMEOUT)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if not started.is_set():
            started.set()
            timer = threading.Timer(stop_seconds, hard_exit)
            timer.daemon = True
            timer.start()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
