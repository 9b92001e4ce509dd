"""The sink's counters, and the HTTP endpoint that shows them (``/health`` as JSON, ``/metrics`` for Prometheus)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field

import orjson

RATE_WINDOW = 10.0  # seconds over which rows/s is measured
LATENCIES_KEPT = 200  # batches whose latency the percentiles look at
STALE_AFTER = 60.0  # seconds without a loop turn before /health says the sink is stuck


@dataclass
class SinkMetrics:
    """Written by the sink's loop and its writer thread; read by the health endpoint (plain ints and floats)."""

    started: float = field(default_factory=time.monotonic)
    rows_total: dict[str, int] = field(default_factory=dict)
    records_total: int = 0
    batches_total: int = 0
    refused_total: int = 0  # records sent to the DLQ (invalid, or refused by ClickHouse)
    skipped_total: int = 0  # clock ticks and compaction tombstones
    retries_total: int = 0
    clickhouse_up: bool = True
    last_error: str = ""
    lag: dict[str, int] = field(default_factory=dict)  # "topic/partition" -> highwater - committed
    last_loop: float = field(default_factory=time.monotonic)
    _landed: deque[tuple[float, int]] = field(default_factory=deque)
    _latencies: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCIES_KEPT))

    def retried(self, error: BaseException) -> None:
        self.retries_total += 1
        self.clickhouse_up = False
        self.last_error = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"

    def inserted(self, table: str, rows: int) -> None:
        self.rows_total[table] = self.rows_total.get(table, 0) + rows
        self.clickhouse_up = True

    def committed(self, records: int, rows: int, refused: int, skipped: int, latency: float) -> None:
        """A batch is stored and its offsets committed; ``latency`` is from its first record to the commit."""
        now = time.monotonic()
        self.batches_total += 1
        self.records_total += records
        self.refused_total += refused
        self.skipped_total += skipped
        self._latencies.append(latency)
        self._landed.append((now, rows))
        while self._landed and self._landed[0][0] < now - RATE_WINDOW:
            self._landed.popleft()

    def rows_per_second(self) -> float:
        now = time.monotonic()
        recent = sum(rows for at, rows in self._landed if at >= now - RATE_WINDOW)
        return recent / min(RATE_WINDOW, max(1e-9, now - self.started))

    def latency(self, quantile: float) -> float | None:
        if not self._latencies:
            return None
        ordered = sorted(self._latencies)
        return ordered[min(len(ordered) - 1, int(quantile * len(ordered)))]

    def healthy(self) -> bool:
        return self.clickhouse_up and time.monotonic() - self.last_loop < STALE_AFTER

    def snapshot(self) -> dict[str, object]:
        return {
            "status": "ok" if self.healthy() else "degraded",
            "clickhouse_up": self.clickhouse_up,
            "last_error": self.last_error,
            "rows_per_second": round(self.rows_per_second(), 1),
            "rows_total": dict(self.rows_total),
            "records_total": self.records_total,
            "batches_total": self.batches_total,
            "refused_total": self.refused_total,
            "skipped_total": self.skipped_total,
            "retries_total": self.retries_total,
            "batch_latency_p50_s": self.latency(0.5),
            "batch_latency_p99_s": self.latency(0.99),
            "lag": dict(self.lag),
            "lag_total": sum(self.lag.values()),
        }

    def prometheus(self) -> str:
        lines = [
            f"motcua_sink_up {int(self.healthy())}",
            f"motcua_sink_clickhouse_up {int(self.clickhouse_up)}",
            f"motcua_sink_rows_per_second {self.rows_per_second():.1f}",
            f"motcua_sink_records_total {self.records_total}",
            f"motcua_sink_batches_total {self.batches_total}",
            f"motcua_sink_refused_total {self.refused_total}",
            f"motcua_sink_skipped_total {self.skipped_total}",
            f"motcua_sink_retries_total {self.retries_total}",
        ]
        lines += [f'motcua_sink_rows_total{{table="{t}"}} {n}' for t, n in sorted(self.rows_total.items())]
        for q in (0.5, 0.99):
            value = self.latency(q)
            if value is not None:
                lines.append(f'motcua_sink_batch_latency_seconds{{quantile="{q}"}} {value:.4f}')
        for tp, lag in sorted(self.lag.items()):
            topic, partition = tp.rsplit("/", 1)
            lines.append(f'motcua_sink_lag{{topic="{topic}",partition="{partition}"}} {lag}')
        return "\n".join(lines) + "\n"


async def serve_metrics(metrics: SinkMetrics, host: str, port: int) -> asyncio.Server:
    """Answer ``GET /health`` (200 or 503, JSON) and ``GET /metrics`` (Prometheus text) on host:port."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            path = request.split()[1].decode() if len(request.split()) > 1 else "/"
            if path.startswith("/metrics"):
                status, kind, body = 200, "text/plain; version=0.0.4", metrics.prometheus().encode()
            elif path.startswith("/health"):
                status = 200 if metrics.healthy() else 503
                kind, body = "application/json", orjson.dumps(metrics.snapshot())
            else:
                status, kind, body = 404, "text/plain", b"try /health or /metrics\n"
            reason = {200: "OK", 503: "Service Unavailable", 404: "Not Found"}[status]
            head = f"HTTP/1.1 {status} {reason}\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
            writer.write(head.encode() + b"Connection: close\r\n\r\n" + body)
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(answer, host, port)
