"""faust's worker, run as a service: a stop that cannot hang, and no terminal spinner."""

from __future__ import annotations

from typing import Any

import faust
from faust.worker import Worker

from streams.watchdog import bound_stop


class ServiceWorker(Worker):
    """faust's ``Worker`` with a bounded stop (``streams.watchdog.bound_stop``) and its logging left as set.

    faust's worker draws a progress spinner while it starts, and for it, whenever the log level is WARNING or
    higher, it sets the *root* logger to DEBUG with a handler of its own. Every ``log.debug`` of aiokafka,
    faust and mode then builds a record and runs the handlers: 3.4% of the worker's CPU in a soak at 1,000
    events/s with ``MOTCUA_STREAMS_LOGLEVEL=warning``. A service has no terminal to spin in.
    """

    def __init__(self, app: faust.App, *, loglevel: str, stop_seconds: float, **kwargs: Any) -> None:
        super().__init__(app, loglevel=loglevel, **kwargs)
        self.stop_seconds = stop_seconds
        self.spinner = None  # faust then leaves the root logger at the level set

    def install_signal_handlers(self) -> None:
        super().install_signal_handlers()
        bound_stop(self.stop_seconds)
