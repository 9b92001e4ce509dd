"""One partition of the summaries topic: the live KPI rows of its provinces (pure: no Kafka, no wall clock).

Every dossier summary of a province comes to one partition (the key is the province), with the watermark
of every source partition of ``dossier.events``. A province's watermark is the minimum over the source
partitions, known once each of them has sent one: only then has event time reached it everywhere.
"""

from __future__ import annotations

import math
from typing import Any

from dossier.calendar import WorkingCalendar
from dossier.lifecycle import DossierSummary
from dossier.live_kpis import LiveKpis


class KpiPartition:
    def __init__(self, partition: int, calendar: WorkingCalendar, source_partitions: int) -> None:
        self.partition = partition
        self.source_watermarks: dict[int, float] = {}
        self._source_partitions = source_partitions
        self._calendar = calendar
        self._provinces: dict[str, LiveKpis] = {}

    @property
    def watermark(self) -> float:
        """The minimum over every source partition (-inf until each has sent a watermark)."""
        if len(self.source_watermarks) < self._source_partitions:
            return -math.inf
        return min(self.source_watermarks.values())

    def on_summary(self, s: DossierSummary) -> None:
        live = self._provinces.get(s.province)
        if live is None:
            live = self._provinces[s.province] = LiveKpis(self._calendar)
            if self.watermark > -math.inf:
                live.advance(self.watermark)
        live.update(s.dossier_id, s)

    def on_watermark(self, source_partition: int, watermark: float, source_partitions: int) -> None:
        self._source_partitions = source_partitions
        if watermark <= self.source_watermarks.get(source_partition, -math.inf):
            return
        self.source_watermarks[source_partition] = watermark
        province_watermark = self.watermark
        if province_watermark > -math.inf:
            for live in self._provinces.values():
                live.advance(province_watermark)

    def changed_rows(self) -> list[tuple[str, dict[str, Any]]]:
        """(province, kpi-row/1 row) of every row changed since the last call."""
        return [(province, row) for province, live in self._provinces.items() for row in live.changed_rows()]
