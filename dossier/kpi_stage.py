"""One partition of the summaries topic: the live KPI rows of its provinces (pure: no Kafka, no wall clock).

Every dossier summary of a province comes to one partition (the key is the province), with the watermark
of every source partition of ``dossier.events``. A province's watermark is the minimum over the source
partitions, known once each of them has sent one: only then has event time reached it everywhere.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from dossier.calendar import WorkingCalendar
from dossier.lifecycle import DossierSummary
from dossier.live_kpis import Archive, LiveKpis


class KpiPartition:
    def __init__(
        self,
        partition: int,
        calendar: WorkingCalendar,
        source_partitions: int,
        archive: Callable[[str], Archive] | None = None,
    ) -> None:
        """``archive``: a province's ``Archive`` (where the caller keeps its summaries), if any."""
        self.partition = partition
        self._archive = archive
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

    def held(self) -> Counter[str]:
        """``LiveKpis.held`` summed over the partition's provinces."""
        held: Counter[str] = Counter()
        for live in self._provinces.values():
            held.update(live.held())
        return held

    def on_summary(self, s: DossierSummary) -> None:
        self._live(s.province).update(s.dossier_id, s)

    def restore(self, earliest: dict[str, float], summaries: Callable[[], Iterable[DossierSummary]]) -> None:
        """Count the summaries the archive holds (a rebuild): ``earliest`` acceptance per province first."""
        for province, accepted_ts in earliest.items():
            self._live(province).start_at(accepted_ts)
        for s in summaries():
            self._live(s.province).restore(s)

    def _live(self, province: str) -> LiveKpis:
        live = self._provinces.get(province)
        if live is None:
            archive = None if self._archive is None else self._archive(province)
            live = self._provinces[province] = LiveKpis(self._calendar, archive)
            if self.watermark > -math.inf:
                live.advance(self.watermark)
        return live

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
