"""A faust worker that only reads ``dossier.events``: faust's own cost per message, for bench/bench_streams.py.

Same broker, batch size and batch wait as `motcua streams worker` (``streams.config``), one agent that
takes the records in batches (``stream.take_events``) and does nothing with them; faust acknowledges and
commits them as usual. The gap between this and a raw aiokafka consumer is what faust costs per message;
the gap between this and the worker is the worker's own work.
Run (with the worker's environment variables): ``python -m bench.faust_floor``.
"""

from __future__ import annotations

import faust

from streams.config import StreamsConfig
from streams.service_worker import ServiceWorker


def main() -> None:
    config = StreamsConfig.from_env()
    app = faust.App(
        config.app_id,
        broker=[f"kafka://{server}" for server in config.bootstrap.split(",")],
        datadir=str(config.datadir),
        topic_partitions=config.partitions,
        topic_replication_factor=1,
        broker_session_timeout=config.session_timeout,
        web_enabled=False,
        autodiscover=False,
    )
    topic = app.topic(config.topics.events, key_serializer="raw", value_serializer="raw")

    async def read(stream: faust.StreamT) -> None:
        async for _ in stream.take_events(config.batch, within=config.batch_within):
            pass

    app.agent(topic, name="read", concurrency=1)(read)
    ServiceWorker(app, loglevel=config.loglevel, stop_seconds=config.stop_seconds).execute_from_commandline()


if __name__ == "__main__":
    main()
