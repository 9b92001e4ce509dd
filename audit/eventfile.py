"""Reading event files (JSON lines) for the audit commands: every line valid, reported or skipped, never lost."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from audit.dossiers import DossierPass, InvalidHandler, ReadStats
from dossier.contract import ParsedEvent

CHUNK_BYTES = 8 << 20
BOM = b"\xef\xbb\xbf"


def file_chunks(path: Path) -> Iterator[tuple[int, list[bytes]]]:
    """(number of the first line, lines) of a JSON-lines file read in chunks; line numbers are 1-based, a
    leading BOM and CR LF line ends are fine. Raises ``OSError`` when the file cannot be read."""
    with path.open("rb") as f:
        number, pending = 1, b""  # pending: the start of a line that the chunks read so far do not end
        at_start = True
        while chunk := f.read(CHUNK_BYTES):
            if at_start:
                chunk, at_start = chunk.removeprefix(BOM), False
            lines = chunk.split(b"\n")
            carried, lines[0] = pending, pending + lines[0]
            pending = lines.pop()
            if b"\r" in chunk or carried[-1:] == b"\r":
                lines = [line.removesuffix(b"\r") for line in lines]
            if lines:
                yield number, lines
                number += len(lines)
        if pending:  # the last line, without a final newline
            yield number, [pending.removesuffix(b"\r")]


def file_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, line) of a JSON-lines file (see ``file_chunks``)."""
    for first, lines in file_chunks(path):
        yield from enumerate(lines, first)


def read_dossiers(path: Path, on_invalid: InvalidHandler) -> DossierPass:
    """A file's lines sorted into a ``DossierPass`` (bounded memory: large files spill to disk).

    The caller iterates its ``dossiers()`` inside ``with``. Raises ``OSError`` when the file cannot be read.
    """
    dossiers = DossierPass(path.stat().st_size, on_invalid)
    try:
        for first, lines in file_chunks(path):
            dossiers.add_many(range(first, first + len(lines)), lines)
    except BaseException:
        dossiers.__exit__(None, None, None)
        raise
    return dossiers


@dataclass(slots=True)
class EventLog:
    """Valid events grouped by dossier, deduplicated by ``event_id`` (the first received wins), all in memory.

    Each dossier's dict keeps its events in arrival order, which breaks ties of ``occurred_at``. For small
    inputs and tests; the commands read through ``read_dossiers`` instead.
    """

    by_dossier: dict[str, dict[str, ParsedEvent]] = field(default_factory=dict)
    stats: ReadStats = field(default_factory=ReadStats)


def read_event_file(path: Path, on_invalid: InvalidHandler) -> EventLog:
    """Read a whole JSON-lines event file into memory. Raises ``OSError`` when the file cannot be read."""
    with read_dossiers(path, on_invalid) as dossiers:
        return _event_log(dossiers)


def read_event_lines(data: bytes, on_invalid: InvalidHandler) -> EventLog:
    """``read_event_file`` of a buffer."""
    lines = data.removeprefix(BOM).split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    with DossierPass(0, on_invalid) as dossiers:
        dossiers.add_many(range(1, len(lines) + 1), [line.removesuffix(b"\r") for line in lines])
        return _event_log(dossiers)


def _event_log(dossiers: DossierPass) -> EventLog:
    by_dossier = {events[0].record.dossier_id: {e.record.event_id: e for e in events} for events in dossiers.dossiers()}
    return EventLog(by_dossier, dossiers.stats)


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of acyclic objects are built.

    Its generational passes would otherwise walk the objects held again and again, which costs more than
    decoding them. Reference counting still frees everything as usual.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
