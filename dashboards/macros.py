"""What Grafana and the ClickHouse plugin do to a panel's SQL before ClickHouse sees it, as one pure function.

Three passes, in the order a query goes through them (grafana/clickhouse-datasource, read at commit
1d04063, 2026-08-20):

1. the plugin's frontend ``applyConditionalAll`` (``src/data/CHDatasource.ts``):
   ``$__conditionalAll(phrase, $var)`` becomes ``1=1`` when ``var`` is All (or empty), else ``phrase``;
2. Grafana's ``templateSrv.replace`` with the plugin's format function: ``$var``, ``${var}``,
   ``${var:format}`` and ``[[var]]``. The plugin's function writes an array (a multi-value variable,
   All included) as ``'a','b'`` (values not escaped) and a single value raw, unquoted. All expands to
   every option's value unless the variable has a custom all value, which is written raw. An explicit
   ``${var:format}`` uses Grafana's format instead. ``$__interval``/``$__interval_ms`` are the
   frontend's scoped variables, ``$__from``/``$__to`` the range in epoch milliseconds;
3. the backend's macros (``pkg/macros/macros.go``, macropro): ``$__timeFilter(c)`` ->
   ``c >= toDateTime(F) AND c <= toDateTime(T)`` (whole Unix seconds), ``$__fromTime``/``$__toTime``,
   their ``_ms`` forms, ``$__dateFilter``, ``$__dateTimeFilter``/``$__dt``, ``$__timeInterval(c)``
   (``toStartOfInterval(toDateTime(c), INTERVAL N second)``, N >= 1), ``$__timeInterval_ms``,
   ``$__interval_s``, ``$__timeFrom``, ``$__timeTo``, ``$__timeGroup(c, 5m)``. Nested macros expand
   innermost first; macros inside comments, string literals, backtick identifiers and dollar-quoted
   strings are left alone; unknown macros are left unchanged; a wrong argument count is an error.

The interval is Grafana's: the range divided by the panel's max data points, rounded by
``rangeutil.roundInterval``, never below the panel's minimum interval.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

ALL = "$__all"


class MacroError(ValueError):
    """A macro with the wrong arguments, or a variable format Grafana would not apply."""


@dataclass(frozen=True)
class Variable:
    """A dashboard variable as the dashboard holds it: its options and what is selected now."""

    name: str
    options: tuple[str, ...] = ()
    selected: tuple[str, ...] = ()  # (ALL,) for All
    multi: bool = False
    include_all: bool = False
    all_value: str | None = None

    @property
    def is_all(self) -> bool:
        return self.selected[:1] == (ALL,)

    def value(self) -> str | list[str]:
        """``current.value``: a list for a multi-value variable, else one string."""
        if self.is_all:
            return [ALL] if self.multi else ALL
        if self.multi:
            return list(self.selected)
        return self.selected[0] if self.selected else ""


@dataclass(frozen=True)
class QueryContext:
    """One panel query's time range, interval and the dashboard's variables."""

    time_from: datetime
    time_to: datetime
    interval_ms: int = 1000
    variables: Mapping[str, Variable] = field(default_factory=dict)


def round_interval(ms: float) -> int:
    """Grafana's ``rangeutil.roundInterval``: a raw interval (ms) to the next tidy one."""
    steps = ((10, 1), (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1500, 1000),
             (3500, 2000), (7500, 5000), (12500, 10000), (17500, 15000), (25000, 20000), (45000, 30000),
             (90000, 60000), (210000, 120000), (450000, 300000), (750000, 600000), (1050000, 900000),
             (1500000, 1200000), (2700000, 1800000), (5400000, 3600000), (9000000, 7200000),
             (16200000, 10800000), (32400000, 21600000), (86400000, 43200000), (604800000, 86400000),
             (1814400000, 604800000), (3628800000, 2592000000))
    for below, rounded in steps:
        if ms < below:
            return rounded
    return 31536000000


def interval_ms(time_from: datetime, time_to: datetime, max_data_points: int, min_interval_ms: int = 0) -> int:
    """The ``intervalMs`` Grafana sends with a panel's query (``rangeutil.calculateInterval``)."""
    raw = (time_to - time_from).total_seconds() * 1000 / max(max_data_points, 1)
    return max(round_interval(raw), min_interval_ms)


def seconds_to_hms(seconds: float) -> str:
    """Grafana's ``rangeutil.secondsToHms``: how ``$__interval`` is written (``1m``, ``30s``, ``2h``)."""
    rest = seconds
    for size, suffix in ((31536000, "y"), (86400, "d"), (3600, "h"), (60, "m"), (1, "s")):
        count = int(rest // size)
        if count:
            return f"{count}{suffix}"
        rest %= size
    millis = int(seconds * 1000)
    return f"{millis}ms" if millis else "less than a millisecond"


# 1. $__conditionalAll ---------------------------------------------------------------------------------------

_CONDITIONAL_ALL = "$__conditionalAll("
_VAR_IN_ARG = re.compile(r"(?<=\$\{)[\w\d]+(?=\})|(?<=\$)[\w\d]+")


def _call_args(sql: str, open_paren: int) -> list[str] | None:
    """The plugin's ``getMacroArgs``: arguments split at commas of the outermost parenthesis level."""
    args: list[str] = []
    depth, start = 0, open_paren + 1
    for i in range(open_paren, len(sql)):
        ch = sql[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 1:
            args.append(sql[start:i])
            start = i + 1
        if depth == 0:
            args.append(sql[start:i])
            return args
    return None


def conditional_all(sql: str, variables: Mapping[str, Variable]) -> str:
    """``applyConditionalAll``: from the last call backwards, ``1=1`` for All, else the phrase."""
    index = sql.rfind(_CONDITIONAL_ALL)
    while index != -1:
        args = _call_args(sql, index + len(_CONDITIONAL_ALL) - 1)
        if args is None or len(args) != 2:
            return sql
        phrase = args[0]
        found = _VAR_IN_ARG.search(args[1].strip())
        if found:
            variable = variables.get(found.group(0))
            current = variable.value() if variable is not None else ""
            text = ",".join(current) if isinstance(current, list) else current
            if text in ("", ALL):
                phrase = "1=1"
        sql = sql.replace(f"{_CONDITIONAL_ALL}{args[0]},{args[1]})", phrase, 1)
        index = sql.rfind(_CONDITIONAL_ALL)
    return sql


# 2. templateSrv.replace ---------------------------------------------------------------------------------

_VARIABLE = re.compile(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?\}")


def _plugin_format(value: str | list[str]) -> str:
    """The ClickHouse datasource's ``format``: arrays as ``'a','b'``, a single value raw."""
    if isinstance(value, list):
        return "'" + "','".join(value) + "'"
    return value


def _grafana_format(value: str | list[str], fmt: str) -> str:
    values = value if isinstance(value, list) else [value]
    if fmt in ("raw", "text"):
        return ",".join(values) if isinstance(value, list) else value
    if fmt == "csv":
        return ",".join(values)
    if fmt == "singlequote":
        return ",".join("'" + v.replace("'", "\\'") + "'" for v in values)
    if fmt == "doublequote":
        return ",".join('"' + v.replace('"', '\\"') + '"' for v in values)
    if fmt == "sqlstring":
        return ",".join("'" + v.replace("'", "''") + "'" for v in values)
    if fmt == "pipe":
        return "|".join(values)
    raise MacroError(f"variable format {fmt!r} is not one this project uses (raw, text, csv, singlequote, "
                     "doublequote, sqlstring, pipe)")


def _builtins(ctx: QueryContext) -> dict[str, str]:
    seconds = ctx.interval_ms / 1000
    return {
        "__interval": seconds_to_hms(seconds),
        "__interval_ms": str(ctx.interval_ms),
        "__from": str(int(ctx.time_from.timestamp() * 1000)),
        "__to": str(int(ctx.time_to.timestamp() * 1000)),
    }


def replace_variables(sql: str, ctx: QueryContext) -> str:
    """``templateSrv.replace(sql, scopedVars, plugin.format)``; unknown names are left as written."""
    builtins = _builtins(ctx)

    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        fmt = match.group(3) or match.group(6)
        if name in builtins:
            return builtins[name] if fmt is None else _grafana_format(builtins[name], fmt)
        variable = ctx.variables.get(name)
        if variable is None:
            return match.group(0)
        value = variable.value()
        if variable.is_all:
            if variable.all_value is not None and fmt not in ("text", "percentencode"):
                return replace_variables(variable.all_value, ctx)
            value = "All" if fmt == "text" else list(variable.options)
        return _plugin_format(value) if fmt is None else _grafana_format(value, fmt)

    return _VARIABLE.sub(one, sql)


# 3. the backend's macros (macropro) ---------------------------------------------------------------------

def _unix(t: datetime) -> int:
    return int(t.timestamp() // 1)


def _unix_ms(t: datetime) -> int:
    return int(t.timestamp() * 1000 // 1)


def _date(t: datetime) -> str:
    return f"toDate('{t.astimezone(UTC).strftime('%Y-%m-%d')}')"


def _arity(name: str, want: int, args: Sequence[str]) -> None:
    if len(args) != want:
        raise MacroError(f"$__{name} expected {want} argument(s), received {len(args)}")


def _duration_seconds(text: str) -> int:
    """Go's ``time.ParseDuration`` for the forms a ``$__timeGroup`` interval takes (``5m``, ``1h30m``, ``10s``)."""
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise MacroError(f"$__timeGroup: invalid interval {text!r}")
    seconds = round(sum(float(n) * units[u] for n, u in parts))
    if seconds <= 0:
        raise MacroError(f"$__timeGroup: interval must be positive, got {text!r}")
    return seconds


def _macros(ctx: QueryContext) -> dict[str, Callable[[list[str]], str]]:
    f, t = ctx.time_from, ctx.time_to
    seconds = max(int(ctx.interval_ms / 1000), 1)
    millis = max(ctx.interval_ms, 1)

    def between(low: str, high: str) -> Callable[[list[str]], str]:
        def expand(args: list[str]) -> str:
            return f"{args[0]} >= {low} AND {args[0]} <= {high}"
        return expand

    def one_arg(name: str, body: Callable[[str], str]) -> Callable[[list[str]], str]:
        def expand(args: list[str]) -> str:
            _arity(name, 1, args)
            return body(args[0])
        return expand

    def no_arg(text: str) -> Callable[[list[str]], str]:
        return lambda _args: text

    def time_group(args: list[str]) -> str:
        _arity("timeGroup", 2, args)
        period = _duration_seconds(args[1].strip().strip("'\""))
        return f"toStartOfInterval(toDateTime({args[0].strip()}), INTERVAL {period} second)"

    def date_time_filter(args: list[str]) -> str:
        _arity("dateTimeFilter", 2, args)
        d, c = args
        return (f"({d} >= {_date(f)} AND {d} <= {_date(t)}) AND "
                f"({c} >= toDateTime({_unix(f)}) AND {c} <= toDateTime({_unix(t)}))")

    seconds_filter = between(f"toDateTime({_unix(f)})", f"toDateTime({_unix(t)})")
    millis_filter = between(f"fromUnixTimestamp64Milli({_unix_ms(f)})", f"fromUnixTimestamp64Milli({_unix_ms(t)})")
    date_filter = between(_date(f), _date(t))
    return {
        "timeFilter": one_arg("timeFilter", lambda c: seconds_filter([c])),
        "timeFilter_ms": one_arg("timeFilter_ms", lambda c: millis_filter([c])),
        "dateFilter": one_arg("dateFilter", lambda c: date_filter([c])),
        "dateTimeFilter": date_time_filter,
        "dt": date_time_filter,
        "fromTime": no_arg(f"toDateTime({_unix(f)})"),
        "toTime": no_arg(f"toDateTime({_unix(t)})"),
        "fromTime_ms": no_arg(f"fromUnixTimestamp64Milli({_unix_ms(f)})"),
        "toTime_ms": no_arg(f"fromUnixTimestamp64Milli({_unix_ms(t)})"),
        "timeFrom": one_arg("timeFrom", lambda c: f"{c} >= toDateTime({_unix(f)})"),
        "timeTo": one_arg("timeTo", lambda c: f"{c} <= toDateTime({_unix(t)})"),
        "timeInterval": one_arg(
            "timeInterval", lambda c: f"toStartOfInterval(toDateTime({c}), INTERVAL {seconds} second)"),
        "timeInterval_ms": one_arg(
            "timeInterval_ms", lambda c: f"toStartOfInterval(toDateTime64({c}, 3), INTERVAL {millis} millisecond)"),
        "interval_s": no_arg(str(seconds)),
        "timeGroup": time_group,
    }


_MACRO = re.compile(r"\$__([A-Za-z_][A-Za-z0-9_]*)")


def _skip_quoted(sql: str, i: int) -> int:
    """The index after a comment, string literal, backtick identifier or dollar-quoted string at ``i``
    (``i`` itself when none starts there)."""
    if sql.startswith("--", i):
        end = sql.find("\n", i)
        return len(sql) if end == -1 else end
    if sql.startswith("/*", i):
        end = sql.find("*/", i + 2)
        return len(sql) if end == -1 else end + 2
    ch = sql[i]
    if ch in "'`":
        j = i + 1
        while j < len(sql):
            if sql[j] == "\\":
                j += 2
                continue
            if sql[j] == ch:
                if sql.startswith(ch, j + 1):  # a doubled quote
                    j += 2
                    continue
                return j + 1
            j += 1
        return len(sql)
    dollar = re.match(r"\$([A-Za-z_]\w*)?\$", sql[i:]) if ch == "$" and not sql.startswith("$__", i) else None
    if dollar:
        end = sql.find(dollar.group(0), i + len(dollar.group(0)))
        return len(sql) if end == -1 else end + len(dollar.group(0))
    return i


def _split_args(text: str) -> list[str]:
    """Arguments at the top level of a macro's parentheses (commas inside nested calls or quotes kept)."""
    args, depth, start, i = [], 0, 0, 0
    while i < len(text):
        skipped = _skip_quoted(text, i)
        if skipped != i:
            i = skipped
            continue
        ch = text[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(text[start:i].strip())
            start = i + 1
        i += 1
    args.append(text[start:].strip())
    return [] if args == [""] else args


def _matching_paren(sql: str, open_paren: int) -> int:
    depth, i = 0, open_paren
    while i < len(sql):
        skipped = _skip_quoted(sql, i)
        if skipped != i:
            i = skipped
            continue
        if sql[i] == "(":
            depth += 1
        elif sql[i] == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise MacroError(f"unbalanced parentheses after position {open_paren}")


def expand_macros(sql: str, ctx: QueryContext) -> str:
    """The backend pass: every known ``$__macro`` outside comments and quotes, innermost first."""
    macros = _macros(ctx)
    out: list[str] = []
    i = 0
    while i < len(sql):
        skipped = _skip_quoted(sql, i)
        if skipped != i:
            out.append(sql[i:skipped])
            i = skipped
            continue
        match = _MACRO.match(sql, i)
        if match is None or match.group(1) not in macros:
            token_end = match.end() if match else i + 1
            out.append(sql[i:token_end])
            i = token_end
            continue
        name, end = match.group(1), match.end()
        args: list[str] = []
        if end < len(sql) and sql[end] == "(":
            close = _matching_paren(sql, end)
            args = _split_args(expand_macros(sql[end + 1:close], ctx))
            end = close + 1
        out.append(macros[name](args))
        i = end
    return "".join(out)


def expand(sql: str, ctx: QueryContext) -> str:
    """A panel's SQL as ClickHouse receives it from Grafana and the plugin."""
    return expand_macros(replace_variables(conditional_all(sql, ctx.variables), ctx), ctx)
