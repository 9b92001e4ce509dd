#!/usr/bin/env bash
# `make test` after set-up: start the local stack, run pytest, stop the stack again even when the
# tests fail or are interrupted, and exit with pytest's status. A stack that was already running
# is used as it is and left running. Without arguments, two pytest processes run at once (the
# tests of tests/serial.txt in one, every other test in the other); with arguments, one pytest
# process gets them.
set -uo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
MOTCUA="$VENV/bin/motcua"
started_here=0

stop_stack() {
    if [ "$started_here" = 1 ]; then
        echo "--- stopping the stack"
        "$MOTCUA" stack down || echo "warning: 'motcua stack down' failed" >&2
    fi
}
trap stop_stack EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if "$MOTCUA" stack status --check >/dev/null 2>&1; then
    echo "--- the stack is already up: using it, and leaving it up"
else
    started_here=1
    echo "--- starting the stack"
    if ! "$MOTCUA" stack up; then
        echo "error: 'motcua stack up' failed; the end of each log follows" >&2
        "$MOTCUA" stack logs kafka -n 60 >&2 || true
        "$MOTCUA" stack logs clickhouse -n 60 >&2 || true
        exit 1
    fi
fi

PYTEST=("$VENV/bin/python" -m pytest --timeout=900 --durations=15)
serial_pid=
stop_serial() {
    if [ -n "$serial_pid" ] && kill -0 "$serial_pid" 2>/dev/null; then
        kill -TERM "$serial_pid" 2>/dev/null || true
        wait "$serial_pid" 2>/dev/null || true
    fi
}
trap 'stop_serial; stop_stack' EXIT

if [ "$#" -gt 0 ]; then
    echo "--- pytest $*"
    "${PYTEST[@]}" "$@"
    status=$?
else
    # Two pytest processes at once: the tests of tests/serial.txt (they kill processes, pause servers or
    # measure one) one at a time in the background, every other test in the foreground.
    mapfile -t serial < <(grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' tests/serial.txt)
    ignored=()
    for path in "${serial[@]}"; do ignored+=("--ignore=$path"); done
    serial_log=$(mktemp "${TMPDIR:-/tmp}/motcua-serial-tests.XXXXXX")
    echo "--- pytest, the tests of tests/serial.txt (in the background; their output follows the others')"
    "${PYTEST[@]}" "${serial[@]}" >"$serial_log" 2>&1 &
    serial_pid=$!
    echo "--- pytest, every other test"
    "${PYTEST[@]}" "${ignored[@]}"
    others=$?
    wait "$serial_pid"
    serial_status=$?
    serial_pid=
    echo "--- pytest, the tests of tests/serial.txt"
    cat "$serial_log"
    rm -f "$serial_log"
    echo "--- pytest exit statuses: every other test $others, the tests of tests/serial.txt $serial_status"
    status=$others
    if [ "$status" = 0 ]; then status=$serial_status; fi
fi
if [ "$status" = 5 ]; then
    echo "error: pytest collected no tests (exit 5): that is a failure here, not a pass" >&2
fi
exit "$status"
