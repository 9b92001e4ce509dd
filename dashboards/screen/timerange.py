"""Grafana's time-range expressions (``now-1h``, ``now/d``, ``now-7d/d``, epoch milliseconds, ISO dates) as
instants, in the dashboard's time zone: the start of a rounded unit for ``from``, its last millisecond for
``to`` (``dateMath.parse(text, roundUp)`` in Grafana)."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

_EXPRESSION = re.compile(r"now((?:[+-]\d+[smhdwMy])*)(?:/([smhdwMy]))?")
_STEP = re.compile(r"([+-])(\d+)([smhdwMy])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks", "M": "months", "y": "years"}


class TimeRangeError(ValueError):
    pass


def _start_of(t: datetime, unit: str) -> datetime:
    if unit == "s":
        return t.replace(microsecond=0)
    if unit == "m":
        return t.replace(second=0, microsecond=0)
    if unit == "h":
        return t.replace(minute=0, second=0, microsecond=0)
    day = datetime.combine(t.date(), time(0), t.tzinfo)
    if unit == "d":
        return day
    if unit == "w":  # the dashboards' week starts on Monday
        return day - timedelta(days=t.weekday())
    if unit == "M":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def parse(text: str, now: datetime, zone: ZoneInfo, round_up: bool = False) -> datetime:
    """One end of a range; ``now`` is the instant ``now`` means (the pipeline's event time, or the clock)."""
    text = text.strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, zone)
    match = _EXPRESSION.fullmatch(text)
    if match is None:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise TimeRangeError(f"not a time Grafana understands: {text!r} (now-1h, now/d, epoch ms, ISO)") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)
    t = now.astimezone(zone)
    for sign, count, unit in _STEP.findall(match.group(1)):
        t += relativedelta(**{_UNITS[unit]: int(count) * (1 if sign == "+" else -1)})
    unit = match.group(2)
    if unit:
        t = _start_of(t, unit)
        if round_up:
            t = t + relativedelta(**{_UNITS[unit]: 1}) - timedelta(milliseconds=1)
    return t


def time_range(text_from: str, text_to: str, now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start, end = parse(text_from, now, zone), parse(text_to, now, zone, round_up=True)
    if end < start:
        raise TimeRangeError(f"the range ends ({text_to}) before it starts ({text_from})")
    return start, end
