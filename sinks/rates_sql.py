"""The rates of ``dossier.kpi.RATES`` as ClickHouse SQL: views recompute every rate from the counts with it."""

from __future__ import annotations

from dossier.kpi import RATES, Rate


def rate_sql(rate: Rate, count: str = "{}") -> str:
    """``if(denominator = 0, NULL, (numerator) / denominator)`` over the columns (``count``: how a count is read,
    e.g. ``sum({})``); NULL, never 0, for a zero denominator (DOMAIN.md section 4)."""
    numerator = " + ".join(count.format(name) for name in rate.plus)
    numerator += "".join(f" - {count.format(name)}" for name in rate.minus)
    denominator = count.format(rate.denominator)
    return f"if({denominator} = 0, NULL, ({numerator}) / {denominator})"


def rates_sql(count: str = "{}") -> str:
    """Every rate, ``<expression> AS <name>``, comma-separated, in the rows' order."""
    return ",\n        ".join(f"{rate_sql(rate, count)} AS {rate.name}" for rate in RATES)
