#!/usr/bin/env bash
# Self-test for the T-SQL checkers: proves they pass good SQL and can fail.
#
#   tests/tsql/selftest.sh            (or: make tsql-selftest)
#
# samples/good/*.sql must pass check_tsql.py (all in one run) and, one file
# at a time, check_dacfx.py. Each samples/bad/*.sql names its checker and the
# output it must produce in header comments:
#   -- selftest: check_tsql
#   -- expect: <substring that must appear in the output>   (one or more)
# and must make that checker exit 1. The checkers must also exit 2 on misuse.
# Uses $TSQL_PYTHON, by default the repo's .venv-tsql (see tsql.mk).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${TSQL_PYTHON:-$root/.venv-tsql/bin/python}"
if [ ! -x "$python" ]; then
    echo "tsql-selftest: $python not found; run 'make tsql-venv'" >&2
    exit 2
fi

out="$(mktemp)"
trap 'rm -f "$out"' EXIT
passed=0
failed=0

# run CHECKER ARGS...: run tests/tsql/CHECKER.py; output goes to $out, exit code to $status.
run() {
    local checker="$1"
    shift
    status=0
    "$python" "$here/$checker.py" "$@" >"$out" 2>&1 || status=$?
}

pass() {
    passed=$((passed + 1))
    echo "ok   - $1"
}

# fail NAME WHY: count a failure and show the checker's output.
fail() {
    failed=$((failed + 1))
    echo "FAIL - $1: $2"
    sed 's/^/    | /' "$out"
}

# expect_status NAME WANT: pass or fail NAME on the last run's exit code.
expect_status() {
    if [ "$status" -eq "$2" ]; then
        pass "$1"
    else
        fail "$1" "exit $status, expected $2"
    fi
}

# Good samples pass.
run check_tsql "$here"/samples/good/*.sql
expect_status "check_tsql passes samples/good" 0
for file in "$here"/samples/good/*.sql; do
    run check_dacfx "$file"
    expect_status "check_dacfx passes good/$(basename "$file")" 0
done

# Bad samples fail, each with the messages its header expects.
for file in "$here"/samples/bad/*.sql; do
    name="bad/$(basename "$file")"
    checker="$(sed -n 's/^-- selftest: //p' "$file")"
    if [ -z "$checker" ]; then
        fail "$name" "no '-- selftest: CHECKER' header"
        continue
    fi
    run "$checker" "$file"
    why=""
    [ "$status" -eq 1 ] || why="exit $status, expected 1; "
    while IFS= read -r expected; do
        grep -qF -- "$expected" "$out" || why="${why}missing '$expected'; "
    done < <(sed -n 's/^-- expect: //p' "$file")
    if [ -z "$why" ]; then
        pass "$checker fails $name"
    else
        fail "$checker fails $name" "$why"
    fi
done

# Misuse is exit 2, distinct from "problems found".
run check_tsql
expect_status "check_tsql without files exits 2" 2
run check_tsql "$here/samples/no-such-file.sql"
expect_status "check_tsql on a missing file exits 2" 2
run check_dacfx "$here"/samples/good/*.sql
expect_status "check_dacfx with two files exits 2" 2

echo "tsql-selftest: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
