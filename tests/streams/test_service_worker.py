"""The worker's logging as configured: a WARNING level must not turn every library's debug call into a record."""

from __future__ import annotations

import subprocess
import sys

import pytest

CHECK = """
import logging, sys
import faust
from faust.worker import Worker
from streams.service_worker import ServiceWorker

kind = {"service": ServiceWorker, "faust": Worker}[sys.argv[1]]
options = {"stop_seconds": 30.0} if kind is ServiceWorker else {}
app = faust.App("test-service-worker", broker="kafka://127.0.0.1:9", autodiscover=False, web_enabled=False)
kind(app, loglevel=sys.argv[2], redirect_stdouts=False, **options)._setup_logging()
aiokafka = logging.getLogger("aiokafka")
print(aiokafka.isEnabledFor(logging.DEBUG), aiokafka.isEnabledFor(logging.INFO))
"""


def debug_and_info_enabled(kind: str, level: str) -> tuple[bool, bool]:
    """Whether aiokafka's debug and info calls build records once a worker of ``kind`` set up logging."""
    out = subprocess.run([sys.executable, "-c", CHECK, kind, level], capture_output=True, text=True, check=True)
    debug, info = out.stdout.split()
    return debug == "True", info == "True"


@pytest.mark.parametrize(("level", "expected"), [("warning", (False, False)), ("info", (False, True))])
def test_the_service_worker_keeps_the_configured_level(level: str, expected: tuple[bool, bool]) -> None:
    assert debug_and_info_enabled("service", level) == expected


def test_faust_own_worker_lowers_the_root_logger_to_debug_at_warning() -> None:
    """The trap ``ServiceWorker`` avoids (if faust stops doing this, its override can go)."""
    assert debug_and_info_enabled("faust", "warning") == (True, True)
