"""What `motcua kpi` prints for the screens' range, and the roll-ups a screen must show of it."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from tests.sinks.pipeline import motcua_kpi


def kpi_rows(events: Path, period: str, start: date, end: date, scope: str = "province",
             hierarchy: str = "legacy") -> list[dict[str, Any]]:
    out = motcua_kpi(["--events", str(events), "--period", period, "--from", start.isoformat(),
                      "--to", end.isoformat(), "--scope", scope, "--hierarchy", hierarchy])
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def rollup(rows: list[dict[str, Any]], provinces: set[str] | None, numerator: str, denominator: str) -> float | None:
    """A rate over the rows of the given provinces (all when None): sum of numerators over sum of denominators."""
    picked = [r for r in rows if provinces is None or r["scope_id"] in provinces]

    def total(expr: str) -> int:
        if " - " in expr:
            a, b = expr.split(" - ")
            return total(a) - total(b)
        return sum(r[c.strip()] for r in picked for c in expr.split("+"))
    den = total(denominator)
    return None if den == 0 else total(numerator) / den
