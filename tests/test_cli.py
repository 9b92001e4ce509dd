"""The root command line lists exactly the commands the rooms register, and loads a room only when used."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import typer

from motcua.cli import ROOMS


def _commands_of(module: str) -> set[str]:
    room = typer.Typer()
    room.callback()(lambda: None)
    importlib.import_module(module).register(room)
    return set(typer.main.get_command(room).list_commands(None))  # type: ignore[attr-defined]


def test_every_command_a_room_registers_is_reachable_and_nothing_else():
    registered = {name: module for module in set(ROOMS.values()) for name in _commands_of(module)}
    assert set(registered) == set(ROOMS)
    assert all(name in _commands_of(module) for name, module in ROOMS.items())


def test_the_audit_commands_do_not_load_kafka_or_clickhouse_clients():
    code = (
        "import sys; from motcua.cli import app\n"
        "sys.argv = ['motcua', 'sla', 'due', '--accepted-at', '2025-07-07T09:00:00+07:00', '--deadline', '1',"
        " '--unit', 'working_days']\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('kafka', 'aiokafka', 'clickhouse_driver', 'faust', 'aiohttp') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1]
    ).stdout.splitlines()
    assert out == ["2025-07-08T09:00:00+07:00", "[]"]


def test_the_schema_and_sink_commands_do_not_load_the_audit_reading_path():
    """``motcua db`` and ``motcua sink`` take ``--hierarchy`` like the audit, not its file reader (and numpy)."""
    code = (
        "import sys, sinks.cli\n"
        "print(sorted(m for m in ('numpy', 'audit.spill', 'audit.kpi_report') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1]
    ).stdout.splitlines()
    assert out == ["[]"]
