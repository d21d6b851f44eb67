# nook tests — shared shell helpers for the integration, security and fault suites.
# Each test gets its own data and config dirs under a private temp dir, removed on exit.
# Source it:  . "$NOOK_TEST_LIB/lib.sh"
set -eu

: "${NOOK:?NOOK must name the nook binary (meson test sets it)}"

T=$(mktemp -d "${TMPDIR:-/tmp}/nook-test.XXXXXX")
export XDG_DATA_HOME="$T/data"
export XDG_CONFIG_HOME="$T/config"
unset NOOK_STORAGE NOOK_FAULT NOOK_ADAPTER NOOK_RUNTIME_DIR 2>/dev/null || true
# Sessions a test prepared are cleaned up however it ends (a failed assertion included).
cleanup_sessions() {
        set +e # other tests of this user remove their sessions meanwhile
        # the environment ids of this test carry its pid ($EID), or were listed in envs
        rd=$(run_dir)
        for st in "$rd"/s-*/state; do
                [ -f "$st" ] || continue
                e=$(sed -n 's/^environment_id=//p' "$st")
                case "$e" in *"$$"*) echo "$e" >>"$T/envs" ;; esac
        done 2>/dev/null
        [ -f "$T/envs" ] || return 0
        sort -u "$T/envs" | while read -r e; do
                printf '%s' "{\"environment\":{\"environment_id\":\"$e\",\"spec\":{}},\"cleanup_plan_ref\":\"exit\"}" |
                        "$NOOK" call cleanup >/dev/null 2>&1 || true
        done
}
# image layers hold read-only directories (0555, as the image made them): the owner
# makes them writable before removing them
trap 'cleanup_sessions; chmod -R u+rwx "$T" 2>/dev/null; rm -rf "$T"' EXIT

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

# ---- sessions through the contract (nook call) --------------------------------------

# A root directory owned by the test user: busybox with every applet, nook-probe, the
# usual dirs.  mk_rootfs DIR
mk_rootfs() {
        d=$1
        mkdir -p "$d/bin" "$d/etc" "$d/proc" "$d/dev" "$d/sys" "$d/tmp" "$d/root" "$d/usr/bin" "$d/work"
        cp /bin/busybox "$d/bin/busybox"
        for a in $(/bin/busybox --list); do
                [ -e "$d/bin/$a" ] || ln -s busybox "$d/bin/$a"
        done
        [ -n "${NOOK_PROBE:-}" ] && cp "$NOOK_PROBE" "$d/bin/nook-probe"
        echo "root:x:0:0:root:/root:/bin/sh" >"$d/etc/passwd"
        echo "daemon:x:1:1:daemon:/:/bin/sh" >>"$d/etc/passwd"
        echo "root:x:0:" >"$d/etc/group"
        chmod 1777 "$d/tmp"
}

ROOT="$T/root"
export NOOK_ALIASES="testroot=$ROOT"

# call_ok METHOD JSON: the call must succeed; its result is in $OUT.
call_ok() {
        run_nook_in "$2" call "$1"
        [ "$RC" -eq 0 ] || fail "$1 failed ($RC): $OUT $ERR"
}

# session_up ENV [IDENTITY] [NETWORK] [ROOT_MODE] — prepare_session, prepare_rootfs and
# prepare_environment on $ROOT.
session_up() {
        SENV="{\"environment_id\":\"$1\",\"spec\":{\"filesystem\":{\"root\":\"${4:-writable_layer}\"},\"io_policy\":{\"stdout\":{\"default_capture\":\"raw_content_if_policy_allows\",\"max_bytes\":1048576},\"stderr\":{\"default_capture\":\"raw_content_if_policy_allows\",\"max_bytes\":1048576}}}}"
        SNOOK="{\"identity\":\"${2:-auto}\",\"network\":\"${3:-none}\"}"
        echo "$1" >>"$T/envs"
        call_ok prepare_session "{\"environment\":$SENV,\"nook\":$SNOOK}"
        SREF=$(printf '%s\n' "$OUT" | json_query 'j')
        call_ok prepare_rootfs "{\"rootfs\":{\"rootfs_ref\":\"testroot\"},\"environment_id\":\"$1\"}"
        call_ok prepare_environment "{\"environment\":$SENV,\"nook\":$SNOOK}"
}

# start_in ARGV_JSON [PROCESS_EXTRA_JSON] [WAIT_MS (0)] — start_process in the session of the
# last session_up; result in $OUT (and $RC).  PROCESS_EXTRA is spliced into the process
# spec (e.g. '"terminal_mode":"pty"').
PN=0
start_in() {
        PN=$((PN + 1))
        extra=${2:-}
        [ -n "$extra" ] && extra=",$extra"
        # without WAIT_MS the call answers once the process runs (a host without ext
        # fields gets a batch process waited for: tested in call-protocol.sh)
        wait=",\"wait_ms\":${3:-0}"
        run_nook_in "{\"environment\":$SENV,\"process\":{\"process_id\":\"p$PN-$$\",\"argv\":$1$extra},\"effect_intent\":{\"effect_id\":\"e$PN-$$\"}$wait}" call start_process
}

# run_in ARGV_JSON [PROCESS_EXTRA_JSON]: start and wait up to 10 s; stdout in $STDOUT,
# stderr in $STDERR, the exit code in $CODE.
run_in() {
        start_in "$1" "${2:-}" 10000
        [ "$RC" -eq 0 ] || fail "start_process failed ($RC): $OUT $ERR"
        STATUS=$(printf '%s\n' "$OUT" | json_query 'j["terminal_status"]')
        STDOUT=$(printf '%s\n' "$OUT" | json_query 'j["io_frames"][0].get("data","") if j.get("io_frames") else ""')
        STDERR=$(printf '%s\n' "$OUT" | json_query 'j["io_frames"][1].get("data","") if j.get("io_frames") else ""')
        CODE=$(printf '%s\n' "$OUT" | json_query 'j["io_frames"][0].get("exit_code","") if j.get("io_frames") else ""')
}

session_down() {
        call_ok cleanup "{\"environment\":{\"environment_id\":\"$1\",\"spec\":{}},\"cleanup_plan_ref\":\"c-$1\"}"
        assert_eq completed "$(printf '%s\n' "$OUT" | json_query 'j["status"]')" "cleanup status"
}

# holder_pid SREF: the holder's pid from the session record.
holder_pid() {
        sed -n 's/^holder_pid=//p' "$(run_dir)/$1/state"
}

# alive PID: the process exists and is not a zombie waiting to be reaped.
alive() {
        st=$(ps -o stat= -p "$1" 2>/dev/null || true)
        [ -n "$st" ] && case "$st" in Z*) false ;; *) true ;; esac
}

# The network helpers of this user still running (slirp4netns, nook-netd, nook-portfwd).
net_helpers() { # slirp4netns, nook-netd and nook-portfwd of this user still running, "pid comm" lines
        for c in slirp4netns nook-netd nook-portfwd; do
                pgrep -u "$(id -u)" -x "$c" 2>/dev/null | while read -r p; do
                        if alive "$p"; then echo "$p $c"; fi
                done
        done
        true
}

# The processes of the session whose holder is PID: the holder and its descendants.
tree_of() {
        ps -e -o pid=,ppid=,stat= | awk -v root="$1" '
                { ppid[$1] = $2; st[$1] = $3 }
                END { for (p in ppid) { q = p; while (q > 1 && q != root) q = ppid[q]; if (q == root && st[p] !~ /^Z/) print p } }'
}

# run_dir: the run dir nook uses here (NOOK_RUNTIME_DIR, $XDG_RUNTIME_DIR/nook, /tmp/nook-<uid>).
run_dir() {
        case "${NOOK_RUNTIME_DIR:-}" in
        /*) echo "$NOOK_RUNTIME_DIR" ;;
        *) if [ -n "${XDG_RUNTIME_DIR:-}" ]; then echo "$XDG_RUNTIME_DIR/nook"; else echo "/tmp/nook-$(id -u)"; fi ;;
        esac
}

# The environment ids tests use carry the shell's pid, so that parallel tests of one
# user never share a session.
EID="t$$"

# session_ref ENV: the ref nook gives an environment id (DESIGN: opaque, stable per user).
session_ref() {
        printf 'nook-session\n%s\n%s' "$(id -u)" "$1" | sha256sum | cut -c1-24 | sed 's/^/s-/'
}

# holders_of SREF: live nook-holder processes of this user serving session SREF (found
# through the session dir they hold open; we own their user namespace, so we may look).
holders_of() {
        for p in $(pgrep -u "$(id -u)" -x nook-holder 2>/dev/null); do
                alive "$p" || continue
                ls -l "/proc/$p/fd/" 2>/dev/null | grep -q "/$1\$" && echo "$p"
        done
        true
}
