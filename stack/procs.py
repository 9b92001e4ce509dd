"""Start, find and stop the processes the stack owns, by pid file, without a service manager.

A pid file records the pid *and* the process start time (field 22 of /proc/<pid>/stat), so a pid
reused by an unrelated process after a reboot or crash is recognised as stale, never signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path


class StackError(RuntimeError):
    """A condition the user must act on; the CLI prints the message, no traceback."""


@dataclass(frozen=True)
class Running:
    pid: int
    started: float  # wall-clock time the pid file was written
    command: list[str]


def _proc_start_ticks(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may contain spaces and parentheses: split after the last ')'
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # a zombie is as good as gone
        return None
    return int(fields[19])


def pid_file(run_dir: Path, name: str) -> Path:
    return run_dir / f"{name}.pid"


def read_pid_file(path: Path) -> tuple[Running | None, str | None]:
    """(the live process, None) or (None, why the pid file is stale) or (None, None) if there is none."""
    if not path.exists():
        return None, None
    try:
        data = json.loads(path.read_text())
        pid, ticks = int(data["pid"]), int(data["start_ticks"])
    except (ValueError, KeyError, TypeError, OSError):
        return None, f"unreadable pid file {path}"
    current = _proc_start_ticks(pid)
    if current is None:
        return None, f"process {pid} from {path} is not running"
    if current != ticks:
        return None, f"pid {pid} from {path} now belongs to another process"
    return Running(pid=pid, started=float(data.get("started", 0)), command=list(data.get("command", []))), None


def start(
    name: str,
    command: Sequence[str],
    run_dir: Path,
    stdout_path: Path,
    cwd: Path,
    env: dict[str, str] | None = None,
) -> Running:
    """Start `command` detached in its own session (it outlives this process) and write its pid file."""
    run_dir.mkdir(parents=True, exist_ok=True)
    stdout_path.parent.mkdir(parents=True, exist_ok=True)
    with open(stdout_path, "ab") as out:
        proc = subprocess.Popen(
            list(command),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    ticks = _proc_start_ticks(proc.pid)
    if ticks is None:
        raise StackError(f"{name} exited at once; see {stdout_path}")
    record = {"pid": proc.pid, "start_ticks": ticks, "started": time.time(), "command": list(command)}
    tmp = pid_file(run_dir, name).with_suffix(".tmp")
    tmp.write_text(json.dumps(record))
    tmp.replace(pid_file(run_dir, name))
    return Running(pid=proc.pid, started=record["started"], command=list(command))


def _alive(running: Running, ticks: int | None) -> bool:
    return ticks is not None and _proc_start_ticks(running.pid) == ticks


def stop(name: str, run_dir: Path, timeout: float = 30.0) -> str:
    """SIGTERM the process of `name`'s pid file, wait up to `timeout`, then SIGKILL. Returns what happened."""
    path = pid_file(run_dir, name)
    running, stale = read_pid_file(path)
    if running is None:
        path.unlink(missing_ok=True)
        return f"{name}: not running" + (f" (removed stale pid file: {stale})" if stale else "")
    ticks = _proc_start_ticks(running.pid)
    _signal(running.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(running, ticks):
        _reap(running.pid)
        time.sleep(0.2)
    how = "stopped"
    if _alive(running, ticks):
        _signal(running.pid, signal.SIGKILL)
        how = f"killed (no exit {timeout:.0f}s after SIGTERM)"
        while _alive(running, ticks):
            _reap(running.pid)
            time.sleep(0.1)
    path.unlink(missing_ok=True)
    return f"{name}: {how} (pid {running.pid})"


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # exited between the check and the signal
        os.kill(pid, sig)


def _reap(pid: int) -> None:
    """Collect the exit status if `pid` is our child (when started in this same process), else no-op."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def port_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_owner(port: int) -> str:
    """Best effort 'pid N (cmd)' of the process listening on `port`, from /proc; '' if unknown."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:  # 0A = LISTEN
                inodes.add(cols[9])
    if not inodes:
        return ""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                    return f"pid {proc.name} ({cmd.strip()[:120]})"
        except OSError:
            continue
    return ""


def check_ports_free(host: str, ports: dict[int, str]) -> None:
    """Raise a StackError naming every taken port, its purpose and (if visible) its owner."""
    taken = []
    for port, purpose in ports.items():
        if port_in_use(host, port):
            owner = port_owner(port)
            taken.append(f"{host}:{port} ({purpose})" + (f" is held by {owner}" if owner else ""))
    if taken:
        raise StackError(
            "port already in use by a process `motcua stack` did not start: "
            + "; ".join(taken)
            + ". Stop it, or move the stack with MOTCUA_PORT_OFFSET=<n> (or the MOTCUA_*_PORT variables)."
        )


def tail(path: Path, lines: int = 40) -> str:
    """The last `lines` lines of a text file ('' if missing), read from the end so big logs stay cheap."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 256 * 1024))
            data = fh.read()
    except OSError:
        return ""
    return "\n".join(data.decode(errors="replace").splitlines()[-lines:])


def wait_until(
    what: str,
    probe: Callable[[], bool],
    timeout: float,
    alive: Callable[[], str | None],
    interval: float = 0.5,
    hint: str = "",
) -> None:
    """Poll `probe` until it is true; fail fast with `alive()`'s message when the process died."""
    deadline = time.monotonic() + timeout
    while True:
        died = alive()
        if died:
            raise StackError(f"{what} stopped while starting: {died}")
        if probe():
            return
        if time.monotonic() > deadline:
            raise StackError(f"{what} did not answer within {timeout:.0f}s{hint}")
        time.sleep(interval)
