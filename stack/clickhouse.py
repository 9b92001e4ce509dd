"""Debian's clickhouse-server (18.16) run directly with the project's config, not through systemd."""

from __future__ import annotations

import shutil
from pathlib import Path
from string import Template

from clickhouse_driver import Client
from clickhouse_driver.errors import Error as ClickHouseError

from stack import services
from stack.procs import StackError, port_answers

NAME = "clickhouse"

MALLOC_CONF = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0"
"""jemalloc options for the server. Debian's clickhouse-server links the system jemalloc, which runs no
background threads by default: an arena gives freed pages back to the system only when its own threads
allocate again. The server's pools of mostly idle threads thus kept what inserts and merges once freed, and
its RSS climbed through a soak (jemalloc: 62 MB allocated, 784 MB resident). With background threads the
pages freed are returned after 1 s: in two 10-minute soaks (same command, the same hour), 5 s of decay left
the server at a 439 MiB peak and 387 MiB median in the last 2 minutes, 1 s at 321 and 309 MiB, for the same
CPU (26% of a core). Current ClickHouse builds configure their bundled jemalloc themselves."""


def environment() -> dict[str, str]:
    """The variables the server is started with (on top of the caller's environment)."""
    return {"MALLOC_CONF": MALLOC_CONF}


def binary() -> str:
    for candidate in ("clickhouse-server", "/usr/sbin/clickhouse-server", "clickhouse"):
        found = shutil.which(candidate)
        if found:
            return found
    raise StackError("clickhouse-server is not installed: run `make setup` (apt-get install -y clickhouse-server)")


def workdir() -> Path:
    return services.clickhouse_workdir()


def log_dir() -> Path:
    return workdir() / "log"


def server_log() -> Path:
    return log_dir() / "clickhouse-server.log"


def error_log() -> Path:
    return log_dir() / "clickhouse-server.err.log"


def stdout_log() -> Path:
    return workdir() / "stdout.log"


def render_config() -> Path:
    """Write config.xml and users.xml into the work dir, with this stack's paths and ports."""
    ports = services.clickhouse_ports()
    data = workdir() / "data"
    for sub in ("", "tmp", "user_files", "format_schemas"):
        (data / sub).mkdir(parents=True, exist_ok=True)
    log_dir().mkdir(parents=True, exist_ok=True)
    users = workdir() / "users.xml"
    shutil.copyfile(services.CONF_DIR / "clickhouse-users.xml", users)
    text = Template((services.CONF_DIR / "clickhouse-config.xml").read_text()).substitute(
        host=services.host(),
        native_port=ports.native,
        http_port=ports.http,
        interserver_port=ports.interserver,
        data_dir=data,
        log_dir=log_dir(),
        users_config=users,
    )
    config = workdir() / "config.xml"
    config.write_text(text)
    return config


def command() -> list[str]:
    exe = binary()
    config = str(workdir() / "config.xml")
    if exe.endswith("/clickhouse"):  # the single multi-tool binary of newer packages
        return [exe, "server", f"--config-file={config}"]
    return [exe, f"--config-file={config}"]


def answers() -> bool:
    """`SELECT version()` over the native protocol succeeds."""
    if not port_answers(services.host(), services.clickhouse_ports().native):
        return False  # spares clickhouse-driver's logged traceback while the server starts
    try:
        version()
    except (ClickHouseError, OSError, EOFError):
        return False
    return True


def version() -> str:
    # the server this stack runs, whatever MOTCUA_CLICKHOUSE_HOST/USER point clients at
    client = Client(services.host(), services.clickhouse_ports().native, connect_timeout=2, send_receive_timeout=5)
    try:
        return str(client.execute("SELECT version()")[0][0])
    finally:
        client.disconnect()
