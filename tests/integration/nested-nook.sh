#!/bin/sh
# nook in nook (docs/nested.md): the installed nook (an install moved elsewhere, as in
# nested-helpers) is bound into an outer session started with --security-opt
# seccomp=unconfined, and makes a session there, with the outer identities this user
# has (auto, root, keep-id; a user without a subuid range has root and keep-id only):
# the inner command's output, and namespaces that differ from the outer session's and
# from ours.  What cannot work inside fails explicitly: under the outer session's
# default seccomp filter (exit 125, an error, and `nook caps` naming the fix), an inner
# --userns subuid (no ranges in there), the default network without /dev/net/tun.
. "$NOOK_TEST_LIB/lib.sh"
. "$NOOK_TEST_LIB/install.sh"
mk_rootfs "$ROOT"
unset NOOK_HELPERS_DIR
install_to "$T/dest"
mv "$INSTALLED" "$T/nook"
N=$T/nook/bin/nook
mkdir -p "$T/in"
NSES="user mnt pid uts ipc net cgroup"

# The script the outer session runs: its namespaces, then the inner nook's session.
cat >"$T/in/outer.sh" <<SH
#!/bin/sh
for n in $NSES; do echo "outer \$n \$(readlink /proc/self/ns/\$n)"; done
exec "$N" run --network none --rootfs "$ROOT" "\$@" -- /bin/sh -c 'echo inner; for n in $NSES; do echo "inner \$n \$(readlink /proc/self/ns/\$n)"; done'
SH
chmod +x "$T/in/outer.sh"

# In the ASan build the inner nook is instrumented too: LeakSanitizer stops the world
# with ptrace(2), which the outer session's default filter denies (its fatal error would
# replace nook's exit code).  Leaks are the outer nook's to find; ignored elsewhere.
NO_LSAN=ASAN_OPTIONS=detect_leaks=0

# outer IDENTITY [OUTER OPTIONS] -- [INNER OPTIONS]: nook in nook, the exact command of
# docs/nested.md (the host's / as the outer root; nook, the inner root and a writable
# dir for the inner nook's data and run dirs bound at their own paths)
outer() {
        id=$1
        shift
        oo=
        while [ $# -gt 0 ] && [ "$1" != -- ]; do
                oo="$oo $1"
                shift
        done
        [ $# -gt 0 ] && shift
        set +e
        # shellcheck disable=SC2086 # $oo: options, split on purpose
        "$N" run --userns "$id" --network none --rootfs / $oo \
                -v "$T/nook:$T/nook:ro" -v "$ROOT:$ROOT:ro" -v "$T/in:$T/in" \
                -e XDG_DATA_HOME="$T/in/data" -e NOOK_RUNTIME_DIR="$T/in/run" -e "$NO_LSAN" \
                -- "$T/in/outer.sh" "$@" >"$T/out" 2>"$T/err"
        RC=$?
        set -e
        OUT=$(cat "$T/out")
        ERR=$(cat "$T/err")
}

ids="root keep-id"
if "$N" caps --json | json_query '[f["ok"] for f in j["findings"] if f["name"]=="subuid"][0]' | grep -q true; then
        ids="auto $ids" # auto is subuid with a range
fi
for id in $ids; do
        outer "$id" --security-opt seccomp=unconfined --
        assert_eq 0 "$RC" "nook in nook with the outer identity $id ($ERR)"
        printf '%s\n' "$OUT" | grep -qx inner || fail "no 'inner' line with the outer identity $id: $OUT"
        for n in $NSES; do
                host=$(readlink "/proc/self/ns/$n")
                o=$(printf '%s\n' "$OUT" | sed -n "s/^outer $n //p")
                i=$(printf '%s\n' "$OUT" | sed -n "s/^inner $n //p")
                case "$o" in "$n:["*"]") ;; *) fail "the outer session's $n namespace: '$o'" ;; esac
                case "$i" in "$n:["*"]") ;; *) fail "the inner session's $n namespace: '$i'" ;; esac
                [ "$o" != "$host" ] || fail "outer $n namespace is ours ($o), identity $id"
                [ "$i" != "$o" ] || fail "inner $n namespace is the outer one ($i), identity $id"
                [ "$i" != "$host" ] || fail "inner $n namespace is ours ($i), identity $id"
        done
        ok "nook in nook, outer identity $id: 'inner', and its own $NSES namespaces"
done

# Under the outer session's default seccomp filter: refused, said, and caps says why.
outer root --
assert_eq 125 "$RC" "inner run under the default filter"
assert_contains "$ERR" "creating the session's namespaces: Operation not permitted" "the inner error"
assert_contains "$ERR" "nook runs under a seccomp filter" "the inner hint"
assert_contains "$ERR" "start the outer one with --security-opt seccomp=unconfined" "the switch in the hint"
assert_contains "$ERR" "nook caps" "caps in the hint"
assert_not_contains "$OUT" "inner" "the inner command"
set +e
"$N" run --network none --rootfs / -v "$T/nook:$T/nook:ro" \
        -e XDG_DATA_HOME=/tmp/d -e NOOK_RUNTIME_DIR=/tmp/r -e "$NO_LSAN" -- "$N" caps --json >"$T/caps.json" 2>"$T/caps.err"
rc=$?
set -e
assert_eq 0 "$rc" "nook caps inside ($(cat "$T/caps.err"))"
assert_eq false "$(json_query '[f["ok"] for f in j["findings"] if f["name"]=="userns"][0]' <"$T/caps.json")" \
        "the userns finding inside"
assert_contains "$(json_query '[f.get("remedy", "") for f in j["findings"] if f["name"]=="userns"][0]' <"$T/caps.json")" \
        "--security-opt seccomp=unconfined" "the userns fix inside a nook session"
assert_contains "$(json_query 'j["health"]' <"$T/caps.json")" "unsupported_host" "health inside"
ok "under the outer default filter: exit 125, the error, and caps naming the userns finding and --security-opt seccomp=unconfined"

# No subordinate ids in there: an inner --userns subuid is refused, not downgraded.
outer root --security-opt seccomp=unconfined -- --userns subuid
assert_eq 125 "$RC" "inner --userns subuid"
assert_contains "$ERR" "identity subuid needs /etc/subuid and /etc/subgid ranges" "the inner subuid error"
assert_not_contains "$OUT" "inner" "the inner command with --userns subuid"
ok "inner --userns subuid: refused with its reason"

# No /dev/net/tun in the outer session: the default network is refused, with what to do.
outer root --security-opt seccomp=unconfined -- --network slirp4netns
assert_eq 125 "$RC" "inner default network"
assert_contains "$ERR" "there is no /dev/net/tun here" "the inner network error"
assert_contains "$ERR" "--network none" "the inner network hint"
ok "inner default network without /dev/net/tun: refused with --network none offered"
