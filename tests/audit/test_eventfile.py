"""Reading an event file in chunks gives the lines (and line numbers) of reading it whole."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit import eventfile

PIECES = [b"", b"a", b"bc", b"\r", b"\n", b"\r\n", eventfile.BOM, b'{"x":1}']


def whole_file_lines(data: bytes) -> list[tuple[int, bytes]]:
    """The lines of a file read at once: a leading BOM dropped, the final newline ending the last line, one CR
    before each line end dropped."""
    lines = data.removeprefix(eventfile.BOM).split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return list(enumerate((line.removesuffix(b"\r") for line in lines), 1))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(st.sampled_from(PIECES), max_size=16), chunk_bytes=st.integers(3, 9))  # a chunk holds a BOM
def test_lines_read_in_chunks_are_the_lines_of_the_whole_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pieces: list[bytes], chunk_bytes: int
) -> None:
    data = b"".join(pieces)
    path = tmp_path / "events.jsonl"
    path.write_bytes(data)
    monkeypatch.setattr(eventfile, "CHUNK_BYTES", chunk_bytes)
    assert list(eventfile.file_lines(path)) == whole_file_lines(data)
