# nook tests — shared shell helpers for the integration, security and fault suites.
# Each test gets its own data and config dirs under a private temp dir, removed on exit.
# Source it:  . "$NOOK_TEST_LIB/lib.sh"
set -eu

: "${NOOK:?NOOK must name the nook binary (meson test sets it)}"

T=$(mktemp -d "${TMPDIR:-/tmp}/nook-test.XXXXXX")
export XDG_DATA_HOME="$T/data"
export XDG_CONFIG_HOME="$T/config"
unset NOOK_STORAGE NOOK_FAULT NOOK_ADAPTER 2>/dev/null || true
trap 'rm -rf "$T"' EXIT

fail() {
        echo "FAIL: $*" >&2
        exit 1
}

# Exit 77 (meson's skip); the test must then be listed in tests/expected-skips.
skip() {
        echo "SKIP: $*"
        exit 77
}

ok() {
        echo "ok - $*"
}

assert_eq() { # expected actual what
        [ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"
}

assert_contains() { # haystack needle what
        case "$1" in
        *"$2"*) ;;
        *) fail "$3: '$2' not found in: $1" ;;
        esac
}

assert_not_contains() { # haystack needle what
        case "$1" in
        *"$2"*) fail "$3: '$2' must not appear in: $1" ;;
        *) ;;
        esac
}

# Runs nook, capturing stdout in $OUT, stderr in $ERR and the exit code in $RC.
run_nook() {
        set +e
        "$NOOK" "$@" >"$T/out" 2>"$T/err"
        RC=$?
        set -e
        OUT=$(cat "$T/out")
        ERR=$(cat "$T/err")
}

# Like run_nook, with stdin from the string $1.
run_nook_in() {
        input=$1
        shift
        set +e
        printf '%s' "$input" | "$NOOK" "$@" >"$T/out" 2>"$T/err"
        RC=$?
        set -e
        OUT=$(cat "$T/out")
        ERR=$(cat "$T/err")
}

# json_query 'python expression over j' <<< json  — prints the value (JSON for
# containers, plain text for strings and numbers).
json_query() {
        python3 -c '
import json, sys
j = json.load(sys.stdin)
v = eval(sys.argv[1], {"j": j})
print(v if isinstance(v, str) else json.dumps(v, sort_keys=True))
' "$1"
}

# Counts rows of the journal (calls) through the CLI.
journal_count() {
        "$NOOK" journal --json | json_query 'len(j)'
}
