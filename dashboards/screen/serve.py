"""Running the viewer: the aiohttp server on host:port until interrupted."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from typing import Any

from aiohttp import web

from dashboards.screen.server import Pool, Screen, app, load_dashboards, now_function

POOL_SIZE = 4


async def _serve(clickhouse: dict[str, Any], host: str, port: int, now: str, echo: Callable[[str], None]) -> None:
    pool = Pool(clickhouse, POOL_SIZE)
    screen = Screen(load_dashboards(), pool, now_function(now))
    runner = web.AppRunner(app(screen), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    echo(f"screen: http://{host}:{bound}/  ({len(screen.boards)} dashboards, ClickHouse "
         f"{clickhouse['host']}:{clickhouse['port']}/{clickhouse.get('database', '')}, now = {now})")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        screen.executor.shutdown(wait=False, cancel_futures=True)
        pool.close()


def serve(clickhouse: dict[str, Any], host: str, port: int, now: str, echo: Callable[[str], None]) -> None:
    asyncio.run(_serve(clickhouse, host, port, now, echo))
