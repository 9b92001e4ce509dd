"""The expansion of a panel's SQL, on the ClickHouse plugin's own test cases (pkg/macros/macros_test.go) and
Grafana's variable formatting with the plugin's format function."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dashboards.macros import ALL, MacroError, QueryContext, Variable, expand, interval_ms, seconds_to_hms

FROM = datetime(2014, 11, 12, 11, 45, 26, 123000, tzinfo=UTC)
TO = datetime(2015, 11, 12, 11, 45, 26, 456000, tzinfo=UTC)
VARIABLES = {
    "province": Variable("province", ("01", "79"), (ALL,), multi=True, include_all=True),
    "unit": Variable("unit", ("u1", "u2", "u3"), ("u2", "u3"), multi=True, include_all=True),
    "one": Variable("one", ("u1", "u2"), ("u1",), multi=True, include_all=True),
    "period": Variable("period", ("month", "quarter"), ("quarter",)),
    "custom_all": Variable("custom_all", ("a", "b"), (ALL,), multi=True, include_all=True, all_value=".*"),
    "dossier_id": Variable("dossier_id", ("it's",), ("it's",)),
}
CTX = QueryContext(FROM, TO, 60_000, VARIABLES)

PLUGIN_CASES = [
    ("select * from foo where $__timeFilter(cast(sth as timestamp))",
     "select * from foo where cast(sth as timestamp) >= toDateTime(1415792726) AND cast(sth as timestamp) <= "
     "toDateTime(1447328726)"),
    ("select * from foo where $__timeFilter(cast(sth as timestamp) )",
     "select * from foo where cast(sth as timestamp) >= toDateTime(1415792726) AND cast(sth as timestamp) <= "
     "toDateTime(1447328726)"),
    ("select * from foo where $__timeFilter_ms(cast(sth as timestamp))",
     "select * from foo where cast(sth as timestamp) >= fromUnixTimestamp64Milli(1415792726123) AND "
     "cast(sth as timestamp) <= fromUnixTimestamp64Milli(1447328726456)"),
    ("select * from foo where ( date >= $__fromTime and date <= $__toTime ) limit 100",
     "select * from foo where ( date >= toDateTime(1415792726) and date <= toDateTime(1447328726) ) limit 100"),
    ("select * from foo where ( date >= $__fromTime_ms ) and ( date <= $__toTime_ms ) limit 100",
     "select * from foo where ( date >= fromUnixTimestamp64Milli(1415792726123) ) and ( date <= "
     "fromUnixTimestamp64Milli(1447328726456) ) limit 100"),
    ("SELECT $__timeInterval($__fromTime) AS from_time",
     "SELECT toStartOfInterval(toDateTime(toDateTime(1415792726)), INTERVAL 60 second) AS from_time"),
    ("SELECT $__timeInterval_ms($__fromTime_ms)",
     "SELECT toStartOfInterval(toDateTime64(fromUnixTimestamp64Milli(1415792726123), 3), INTERVAL 60000 millisecond)"),
    ("select * from foo where $__timeFilter(coalesce(closed_at, $__toTime))",
     "select * from foo where coalesce(closed_at, toDateTime(1447328726)) >= toDateTime(1415792726) AND "
     "coalesce(closed_at, toDateTime(1447328726)) <= toDateTime(1447328726)"),
    ("select * from foo where msg = 'it\\'s -- fine' and $__fromTime",
     "select * from foo where msg = 'it\\'s -- fine' and toDateTime(1415792726)"),
    ("select * from foo where msg = 'a\\'/*x' and $__toTime", "select * from foo where msg = 'a\\'/*x' and "
     "toDateTime(1447328726)"),
    ("select * from foo where msg = 'it''s' and $__fromTime",
     "select * from foo where msg = 'it''s' and toDateTime(1415792726)"),
    ("SELECT `it's` AS x, msg FROM t WHERE msg = 'a--b' AND $__timeFilter(ts)",
     "SELECT `it's` AS x, msg FROM t WHERE msg = 'a--b' AND ts >= toDateTime(1415792726) AND ts <= "
     "toDateTime(1447328726)"),
    ("SELECT `a--b`, `c/*d` FROM t WHERE $__fromTime", "SELECT `a--b`, `c/*d` FROM t WHERE toDateTime(1415792726)"),
    ("SELECT $doc$a--b$doc$ AS x FROM t WHERE $__toTime", "SELECT $doc$a--b$doc$ AS x FROM t WHERE "
     "toDateTime(1447328726)"),
]


@pytest.mark.parametrize(("sql", "expected"), PLUGIN_CASES)
def test_the_plugins_own_cases(sql: str, expected: str) -> None:
    assert expand(sql, CTX) == expected


def test_interval_macros_and_the_frontends_scoped_variables() -> None:
    assert expand("$__interval_s $__interval $__interval_ms", CTX) == "60 1m 60000"
    assert expand("$__interval_s", QueryContext(FROM, TO, 200)) == "1"  # never below one second
    assert expand("$__timeGroup(ts, '5m')", CTX) == "toStartOfInterval(toDateTime(ts), INTERVAL 300 second)"
    assert expand("$__dateFilter(d)", CTX) == "d >= toDate('2014-11-12') AND d <= toDate('2015-11-12')"
    assert expand("$__from $__to", CTX) == "1415792726123 1447328726456"


def test_macros_in_comments_and_unknown_macros_are_left_alone() -> None:
    assert expand("-- $__fromTime\nSELECT $__nope(x)", CTX) == "-- $__fromTime\nSELECT $__nope(x)"
    assert expand("/* $__toTime */ 1", CTX) == "/* $__toTime */ 1"
    with pytest.raises(MacroError):
        expand("$__timeFilter(a, b)", CTX)


def test_variables_are_formatted_as_the_plugin_formats_them() -> None:
    assert expand("p IN (${province})", CTX) == "p IN ('01','79')"  # All: every option
    assert expand("u IN ($unit) AND u IN ([[unit]])", CTX) == "u IN ('u2','u3') AND u IN ('u2','u3')"
    assert expand("u IN (${one})", CTX) == "u IN ('u1')"  # multi-value: an array even with one value
    assert expand("'${period}'", CTX) == "'quarter'"  # single value: raw
    assert expand("x ~ '${custom_all}'", CTX) == "x ~ '.*'"  # a custom all value, raw
    assert expand("${unit:csv} ${unit:singlequote} ${dossier_id:sqlstring}", CTX) == "u2,u3 'u2','u3' 'it''s'"
    assert expand("$nobody ${nobody}", CTX) == "$nobody ${nobody}"
    with pytest.raises(MacroError):
        expand("${unit:regex}", CTX)


def test_conditional_all() -> None:
    sql = "$__conditionalAll(p IN (${province}), $province) AND $__conditionalAll(u IN (${unit}), $unit)"
    assert expand(sql, CTX) == "1=1 AND u IN ('u2','u3')"


def test_grafanas_interval() -> None:
    day = QueryContext(FROM, FROM.replace(day=13), 0)
    assert interval_ms(day.time_from, day.time_to, 500) == 120_000  # 86,400 s / 500 = 172.8 s -> 2m
    assert interval_ms(day.time_from, day.time_to, 500, min_interval_ms=600_000) == 600_000
    assert [seconds_to_hms(s) for s in (90, 3600, 86400 * 2, 0.25)] == ["1m", "1h", "2d", "250ms"]
