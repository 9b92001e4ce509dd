"""The demo's replay progress as a rich progress bar (above `motcua top`'s live view) or a plain line (a
piped demo): the simulator's events sent, their rate and simulated day, and the pipeline catching up (the
events the sink has landed in ClickHouse, from its health endpoint)."""

from __future__ import annotations

import json
import time
import urllib.request
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from rich.console import RenderableType
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

from producers.simulator.stream import Emission

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
RATE_WINDOW = 3.0  # seconds over which a rate is measured


@dataclass
class Meter:
    """A counter's rate over the last few seconds, sampled when asked."""

    _samples: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=64))

    def rate(self, count: int) -> float:
        now = time.monotonic()
        self._samples.append((now, count))
        while len(self._samples) > 2 and self._samples[0][0] < now - RATE_WINDOW:
            self._samples.popleft()
        (t0, n0), (t1, n1) = self._samples[0], self._samples[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0


@dataclass
class Replay:
    """Written by the simulator thread (plain ints), read by the view."""

    first: int  # the history's first simulated instant (epoch seconds)
    live: int  # where the paced live day starts
    health_url: str = ""  # the sink's /health: events landed
    sent: int = 0
    at: int = 0  # the latest simulated instant sent
    history: int = 0  # events of the history, known once the simulator reaches the live day
    sent_meter: Meter = field(default_factory=Meter)
    landed_meter: Meter = field(default_factory=Meter)

    def counted(self, emissions: Iterable[Emission]) -> Iterator[Emission]:
        for emission in emissions:
            self.at = emission.at
            if emission.at >= self.live and not self.history:
                self.history = self.sent
            if emission.key is not None:
                self.sent += 1
            yield emission

    @property
    def replaying(self) -> bool:
        return self.at < self.live

    def day(self) -> str:
        return datetime.fromtimestamp(self.at or self.first, LOCAL).strftime("%Y-%m-%d %H:%M")

    def landed(self) -> int:
        """Events the sink has stored (0 while it does not answer)."""
        try:
            with urllib.request.urlopen(self.health_url, timeout=0.5) as answer:
                return int(json.load(answer).get("rows_total", {}).get("events", 0))
        except (OSError, ValueError):
            return 0

    def line(self) -> str:
        stage = "replaying history" if self.replaying else "live day"
        landed = self.landed()
        return (f"{stage}: simulated {self.day()}, {self.sent:,} events sent ({self.sent_meter.rate(self.sent):,.0f}"
                f" events/s), {landed:,} in ClickHouse ({self.landed_meter.rate(landed):,.0f} events/s)")


class ReplayBar:
    """Two bars: the simulator through the history (simulated time), the pipeline through its events."""

    def __init__(self, replay: Replay) -> None:
        self.replay = replay
        self.progress = Progress(TextColumn("[bold]{task.description:<28}"), BarColumn(), TaskProgressColumn(),
                                 TextColumn("{task.fields[detail]}"), auto_refresh=False)
        self.simulator = self.progress.add_task("simulator", total=max(1, replay.live - replay.first), detail="")
        self.pipeline = self.progress.add_task("pipeline (in ClickHouse)", total=1, detail="")

    def __rich__(self) -> RenderableType:
        r = self.replay
        landed = r.landed()
        self.progress.update(self.simulator, completed=min(max(r.at, r.first), r.live) - r.first,
                             description="simulator: history" if r.replaying else "simulator: live day",
                             detail=f"{r.day()}  ·  {r.sent_meter.rate(r.sent):,.0f} events/s  ·  {r.sent:,} sent")
        self.progress.update(self.pipeline, total=max(1, r.history or r.sent), completed=landed,
                             detail=f"{r.landed_meter.rate(landed):,.0f} events/s  ·  {landed:,} landed")
        return self.progress
