"""Command-line details: province choice, token issuing, simulate's checks."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import typer
from typer.testing import CliRunner

from motcua.cli import app
from producers.cli import choose_provinces
from producers.sources import TokenRegistry, hash_token, load_sources

runner = CliRunner()


def test_choose_provinces() -> None:
    assert choose_provinces(2, None) == ["01", "04"]
    assert choose_provinces(1, "79, 01") == ["79", "01"]
    for count, codes in ((0, None), (35, None), (1, "99")):
        with pytest.raises(typer.BadParameter):
            choose_provinces(count, codes)


def test_token_is_printed_once_and_only_its_hash_is_stored(tmp_path: Path) -> None:
    sources = tmp_path / "sources.json"
    first = runner.invoke(app, ["ingest", "token", "--sources", str(sources), "--source", "mc-79", "--province", "79"])
    again = runner.invoke(app, ["ingest", "token", "--sources", str(sources), "--source", "mc-79", "--province", "79"])
    token, new_token = first.output.strip(), again.output.strip()
    assert first.exit_code == again.exit_code == 0 and token != new_token
    stored = sources.read_text()
    assert token not in stored and new_token not in stored and hash_token(new_token) in stored
    registry = TokenRegistry(load_sources(sources))
    assert registry.authenticate(token) is None  # re-issuing revokes the old token
    assert registry.authenticate(new_token).province == "79"
    assert len(orjson.loads(stored)["sources"]) == 1


def test_simulate_rejects_bad_ranges(tmp_path: Path) -> None:
    out = str(tmp_path / "x.jsonl")
    assert (
        runner.invoke(
            app, ["produce", "simulate", "--from", "2025-07-02", "--to", "2025-07-01", "--to-file", out]
        ).exit_code
        == 2
    )
    assert runner.invoke(app, ["produce", "simulate", "--from", "July", "--to-file", out]).exit_code == 2
