#!/usr/bin/env bash
# `make test` after set-up: start the local stack, run pytest, stop the stack again even when the
# tests fail or are interrupted, and exit with pytest's status. A stack that was already running
# is used as it is and left running. Extra arguments go to pytest.
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

echo "--- pytest"
# two workers; the fault tests all on one of them (tests/conftest.py: SERIAL)
"$VENV/bin/python" -m pytest -n 2 --dist loadgroup --timeout=900 --durations=15 "$@"
status=$?
if [ "$status" = 5 ]; then
    echo "error: pytest collected no tests (exit 5): that is a failure here, not a pass" >&2
fi
exit "$status"
