#!/bin/sh
# `nook secret create|ls|inspect|rm`, seen from outside: values go into the kernel keyring
# of the user (one key per secret, possessor-only, in /proc/keys), never into a listing,
# an error, or any file; a process that does not possess the user keyring cannot read
# them; where keyctl is refused or hidden (nook's own sandbox, a seccomp profile) every
# verb says so and names the alternatives.
. "$NOOK_TEST_LIB/lib.sh"

P="nt$$"
# every key this test made goes, however it ends (meson's timeout sends SIGTERM)
cleanup_secrets() {
        "$NOOK" secret ls -q 2>/dev/null | grep "^$P-" | while read -r n; do
                "$NOOK" secret rm "$n" >/dev/null 2>&1
        done
}
trap 'exit 143' TERM INT HUP
trap 'cleanup_secrets; cleanup_sessions; chmod -R u+rwx "$T" 2>/dev/null; rm -rf "$T"' EXIT

# run_nook / run_nook_in, with every output kept in $T/transcript for the final check
nk() {
        run_nook "$@"
        printf '%s\n%s\n' "$OUT" "$ERR" >>"$T/transcript"
}
nk_in() {
        run_nook_in "$@"
        printf '%s\n%s\n' "$OUT" "$ERR" >>"$T/transcript"
}
expect_refused() { # what: the last command exited 125 with a message on stderr
        [ "$RC" -eq 125 ] || fail "$1: expected exit 125, got $RC ($OUT $ERR)"
        [ -n "$ERR" ] || fail "$1: refused without a message"
}
# The hex id of the key of secret NAME as /proc/keys shows it.
key_hex() {
        id=$("$NOOK" secret inspect --json "$1" | json_query 'j[0]["key"]')
        printf '%08x' "$id"
}
# the fields of /proc/keys: id flags usage timeout perm uid gid type description: size
proc_key() {
        awk -v id="$1" '$1 == id' /proc/keys
}

rand=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
V1="v1-stdin-$rand"
V2="v2-file-$rand"
V3="v3-env-$rand"
V4="v4-replaced-$rand-longer"
[ -r /proc/keys ] || skip "/proc/keys is not readable here"
# a host whose keyctl is refused (a container under docker's default seccomp profile)
# cannot keep secrets; that case is tested below, inside nook's own sandbox
run_nook secret ls
case "$ERR" in *"keyring is not available here"*) skip "the kernel keyring is unusable here: $ERR" ;; esac
[ "$RC" -eq 0 ] || fail "secret ls ($RC): $ERR"

# ---- create: stdin, a file (its trailing newline kept), an environment variable -----------
nk_in "$V1" secret create "$P-stdin" -
[ "$RC" -eq 0 ] || fail "create from stdin ($RC): $ERR"
assert_eq "$P-stdin" "$OUT" "create prints the name"
printf '%s\n' "$V2" >"$T/value-file"
nk secret create "$P-file" "$T/value-file"
[ "$RC" -eq 0 ] || fail "create from a file ($RC): $ERR"
rm -f "$T/value-file"
SECRET_V3=$V3 nk secret create --env "$P-env" SECRET_V3
[ "$RC" -eq 0 ] || fail "create --env ($RC): $ERR"
ok "created from stdin, a file and --env"

# ---- ls and inspect: names and sizes, never a value ------------------------------------
nk secret ls
[ "$RC" -eq 0 ] || fail "ls ($RC): $ERR"
for n in stdin file env; do
        assert_contains "$OUT" "$P-$n" "ls shows $P-$n"
done
size_of() { "$NOOK" secret ls --json | json_query "[s['size'] for s in j if s['name'] == '$1'][0]"; }
assert_eq "${#V1}" "$(size_of "$P-stdin")" "size of the stdin value"
assert_eq "$((${#V2} + 1))" "$(size_of "$P-file")" "size of the file value (its newline kept)"
assert_eq "${#V3}" "$(size_of "$P-env")" "size of the env value"
nk secret ls --json
assert_eq keyring "$(printf '%s\n' "$OUT" | json_query "[s['driver'] for s in j if s['name'] == '$P-env'][0]")" \
        "ls --json driver"
nk secret ls -q
assert_contains "$OUT" "$P-file" "ls -q"
nk secret inspect "$P-stdin" "$P-file" "$P-env"
[ "$RC" -eq 0 ] || fail "inspect ($RC): $ERR"
assert_contains "$OUT" "Size:         ${#V1} bytes" "inspect size"
assert_contains "$OUT" "memory only, gone at reboot" "inspect says where the value lives"
assert_contains "$OUT" "uid $(id -u)" "inspect names the keyring's uid"
nk secret inspect --json "$P-stdin" "$P-file" "$P-env"
assert_eq 3 "$(printf '%s\n' "$OUT" | json_query 'len(j)')" "inspect --json: one object per NAME"
assert_eq true "$(printf '%s\n' "$OUT" | json_query 'j[1]["possessor_only"]')" "inspect --json possessor_only"
nk secret inspect --showsecret "$P-stdin"
expect_refused "inspect --showsecret"
assert_contains "$ERR" "never shows a secret's value" "--showsecret refused"
ok "ls, ls --json, ls -q, inspect, inspect --json: names and sizes"

# ---- in the kernel: one key per secret, possessor-only ---------------------------------
for n in stdin file env; do
        line=$(proc_key "$(key_hex "$P-$n")")
        [ -n "$line" ] || fail "no key of $P-$n in /proc/keys"
        assert_eq 3f000000 "$(echo "$line" | awk '{ print $5 }')" "permissions of the key of $P-$n"
        assert_eq "user" "$(echo "$line" | awk '{ print $8 }')" "type of the key of $P-$n"
        assert_eq "nook:secret:$P-$n:" "$(echo "$line" | awk '{ print $9 }')" "description of the key of $P-$n"
done
ok "each secret is a 'user' key nook:secret:NAME, permissions 3f000000 (possessor only)"

# A process of the same uid whose session keyring does not link the user keyring (as
# systemd's KeyringMode=private makes) does not possess the key: it can neither read nor
# describe it by its id, and nook there says the keyring is unusable (it does not link
# the user keyring in itself: that isolation is the service manager's choice).
cat >"$T/private-session.py" <<'EOF'
import ctypes, ctypes.util, os, sys
ku = ctypes.CDLL("libkeyutils.so.1", use_errno=True)
if ku.keyctl_join_session_keyring(None) < 0:
    sys.exit("join: " + os.strerror(ctypes.get_errno()))
if sys.argv[1] == "read":
    key = int(sys.argv[2])
    n = ku.keyctl_read(key, None, 0)
    print("read", "ok" if n >= 0 else os.strerror(ctypes.get_errno()))
    buf = ctypes.create_string_buffer(256)
    n = ku.keyctl_describe(key, buf, 256)
    print("describe", "ok" if n >= 0 else os.strerror(ctypes.get_errno()))
else:
    os.execv(sys.argv[2], sys.argv[2:])
EOF
if python3 -c 'import ctypes; ctypes.CDLL("libkeyutils.so.1")' 2>/dev/null; then
        id=$("$NOOK" secret inspect --json "$P-stdin" | json_query 'j[0]["key"]')
        out=$(python3 "$T/private-session.py" read "$id")
        assert_eq "read Permission denied
describe Permission denied" "$out" "a non-possessor reading the key"
        set +e
        python3 "$T/private-session.py" exec "$NOOK" secret ls >"$T/out" 2>"$T/err"
        RC=$?
        set -e
        ERR=$(cat "$T/err")
        expect_refused "ls under a private session keyring"
        assert_contains "$ERR" "does not link your user keyring" "private session keyring: why"
        assert_contains "$ERR" "--secret-source REF=file:PATH" "private session keyring: the alternatives"
        ok "a process without the user keyring can neither read nor describe the key by its id; nook there says why"
else
        fail "libkeyutils.so.1 is not loadable by python3's ctypes (Debian: libkeyutils1, a dependency of libkeyutils-dev)"
fi

# ---- an existing name is refused and keeps its value; --replace replaces ---------------
nk_in "short" secret create "$P-stdin" -
expect_refused "create of an existing name"
assert_contains "$ERR" "exists already" "create of an existing name: why"
assert_eq "${#V1}" "$(size_of "$P-stdin")" "the old value is kept"
nk_in "$V4" secret create --replace "$P-stdin" -
[ "$RC" -eq 0 ] || fail "create --replace ($RC): $ERR"
assert_eq "${#V4}" "$(size_of "$P-stdin")" "--replace stores the new value"
assert_eq 3f000000 "$(proc_key "$(key_hex "$P-stdin")" | awk '{ print $5 }')" "permissions after --replace"
ok "an existing name refused (old value kept), replaced with --replace"

# ---- bad names, empty and oversized values, bad sources --------------------------------
nk_in x secret create ".hidden" -
expect_refused "a name starting with '.'"
assert_contains "$ERR" "starts with '.'" "name starting with '.': why"
nk_in x secret create "a/b" -
expect_refused "a name with '/'"
assert_contains "$ERR" "holds '/'" "name with '/': why"
long=$(printf '%0129d' 0)
nk_in x secret create "$long" -
expect_refused "a 129-byte name"
assert_contains "$ERR" "at most 128" "129-byte name: why"
nk_in "" secret create "$P-empty" -
expect_refused "an empty value"
assert_contains "$ERR" "is empty" "empty value: why"
: >"$T/empty"
nk secret create "$P-empty" "$T/empty"
expect_refused "an empty file"
SECRET_EMPTY="" nk secret create --env "$P-empty" SECRET_EMPTY
expect_refused "an empty variable"
nk secret create --env "$P-empty" NO_SUCH_VARIABLE_$$
expect_refused "an unset variable"
assert_contains "$ERR" "is not set" "unset variable: why"
nk secret create "$P-dir" "$T"
expect_refused "a directory as FILE"
assert_contains "$ERR" "is a directory" "directory: why"
head -c 32768 /dev/zero | tr '\0' z >"$T/big"
nk secret create "$P-big" "$T/big"
expect_refused "a value of 32768 bytes"
assert_contains "$ERR" "more than 32767 bytes" "oversized value: why"
maxbytes=$(cat /proc/sys/kernel/keys/maxbytes)
if [ "$maxbytes" -lt 32767 ]; then
        head -c "$maxbytes" /dev/zero | tr '\0' q >"$T/quota"
        nk secret create "$P-quota" "$T/quota"
        expect_refused "a value of the whole quota ($maxbytes bytes)"
        assert_contains "$ERR" "/proc/sys/kernel/keys/maxbytes" "over the quota: names the limit"
        assert_contains "$ERR" "--secret-source" "over the quota: names the alternatives"
fi
nk secret ls -q
assert_not_contains "$OUT" "$P-empty" "nothing stored by a refused create"
assert_not_contains "$OUT" "$P-big" "nothing stored by a refused create"
assert_not_contains "$OUT" "$P-quota" "nothing stored by a refused create"
nk secret frobnicate
expect_refused "an unknown subcommand"
assert_contains "$ERR" "create, ls, inspect, rm" "unknown subcommand lists the four"
ok "bad names, empty, oversized and over-quota values, bad sources refused, each saying why"

# ---- rm: the key is gone from the store and from the kernel ------------------------------
hex=$(key_hex "$P-file")
nk secret rm "$P-file" "$P-nosuch"
expect_refused "rm of an unknown name"
assert_contains "$ERR" "no secret named '$P-nosuch'" "rm of an unknown name: names it"
assert_eq "$P-file" "$OUT" "rm prints the removed name"
nk secret ls -q
assert_not_contains "$OUT" "$P-file" "ls after rm"
assert_contains "$OUT" "$P-env" "rm removed only its NAME"
# the kernel's garbage collector destroys a key without links at once, in a work item
i=0
while [ -n "$(proc_key "$hex")" ] && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
done
[ -z "$(proc_key "$hex")" ] || fail "the key of $P-file is still in /proc/keys: $(proc_key "$hex")"
nk secret inspect "$P-file"
expect_refused "inspect after rm"
ok "rm destroys the key (gone from ls and /proc/keys); an unknown name is refused, naming it"

# ---- where keyctl is refused or hidden: nook in its own sandbox ------------------------
mk_rootfs "$ROOT"
mkdir -p "$ROOT/usr" "$ROOT/nook"
binds="-v /usr:/usr:ro -v $(dirname "$NOOK"):/nook:ro"
for d in lib lib32 lib64; do
        if [ -L "/$d" ]; then
                ln -s "$(readlink "/$d")" "$ROOT/$d"
        elif [ -d "/$d" ]; then
                mkdir -p "$ROOT/$d"
                binds="$binds -v /$d:/$d:ro"
        fi
done
inner="/nook/$(basename "$NOOK")"
# nook's default seccomp filter refuses keyctl (EPERM, as docker's and podman's do)
# shellcheck disable=SC2086 # $binds is a list of options
nk_in "$V1" run --network none --rootfs "$ROOT" $binds -i -- sh -c "$inner secret create $P-in - 2>&1; echo rc=\$?"
[ "$RC" -eq 0 ] || fail "the sandbox did not run ($RC): $ERR"
assert_contains "$OUT" "rc=125" "create in a sandbox that refuses keyctl"
assert_contains "$OUT" "keyctl is refused" "refused keyctl: why"
assert_contains "$OUT" "--secret-source REF=file:PATH" "refused keyctl: the alternatives"
# shellcheck disable=SC2086
nk run --network none --rootfs "$ROOT" $binds -- sh -c "$inner secret ls 2>&1; echo rc=\$?; $inner secret rm x 2>&1; echo rc=\$?"
assert_eq 2 "$(printf '%s\n' "$OUT" | grep -c '^rc=125$')" "ls and rm in the sandbox: exit codes ($OUT)"
assert_eq 2 "$(printf '%s\n' "$OUT" | grep -c 'keyring is not available here: keyctl is refused')" \
        "ls and rm in the sandbox: why ($OUT)"
# a profile that hides keyctl (ENOSYS)
printf '%s' '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["keyctl","add_key","request_key"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}' >"$T/nokeys.json"
# shellcheck disable=SC2086
nk run --network none --security-opt seccomp="$T/nokeys.json" --rootfs "$ROOT" $binds -- sh -c "$inner secret ls 2>&1; echo rc=\$?"
assert_contains "$OUT" "keyctl fails with ENOSYS" "hidden keyctl: why"
assert_contains "$OUT" "rc=125" "hidden keyctl: exit code"
ok "where keyctl is refused (EPERM) or hidden (ENOSYS), every verb says so and names the alternatives"

# ---- a sandbox allowed keyctl cannot reach the caller's secrets -----------------------
# Started from a login's session keyring, which links the user keyring (pam_keyinit), a
# workload whose profile allows keyctl (seccomp=unconfined) would possess the user's
# keys through that inherited keyring: each session gets a keyring of its own instead.
cat >"$ROOT/probe-keys.py" <<'EOF'
import ctypes, os, sys
ku = ctypes.CDLL("libkeyutils.so.1", use_errno=True)
key = int(sys.argv[1])
def res(n): return "ok" if n >= 0 else os.strerror(ctypes.get_errno())
buf = ctypes.create_string_buffer(256)
print("read", res(ku.keyctl_read(key, buf, 256)))
print("link", res(ku.keyctl_link(key, -1)))
print("join", res(ku.keyctl_join_session_keyring(b"_uid_ses." + sys.argv[2].encode())))
print("search", res(ku.keyctl_search(-3, b"user", b"nook:secret:" + sys.argv[3].encode(), 0)))
print("read", res(ku.keyctl_read(key, buf, 256)))
EOF
cat >"$T/login.py" <<'EOF'
import ctypes, os, sys
ku = ctypes.CDLL("libkeyutils.so.1", use_errno=True)
if ku.keyctl_join_session_keyring(None) < 0 or ku.keyctl_link(-4, -3) < 0:  # @u into a new @s
    sys.exit("login-like session keyring: " + os.strerror(ctypes.get_errno()))
os.execv(sys.argv[1], sys.argv[1:])
EOF
id=$("$NOOK" secret inspect --json "$P-env" | json_query 'j[0]["key"]')
set +e
# shellcheck disable=SC2086
python3 "$T/login.py" "$NOOK" run --network none --security-opt seccomp=unconfined --rootfs "$ROOT" $binds -- \
        /usr/bin/python3 /probe-keys.py "$id" "$(id -u)" "$P-env" >"$T/out" 2>"$T/err"
RC=$?
set -e
OUT=$(cat "$T/out")
ERR=$(cat "$T/err")
printf '%s\n%s\n' "$OUT" "$ERR" >>"$T/transcript"
[ "$RC" -eq 0 ] || fail "the unconfined sandbox did not run ($RC): $OUT $ERR"
assert_eq "read Permission denied
link Permission denied" "$(printf '%s\n' "$OUT" | head -2)" "a workload allowed keyctl, reading the caller's key"
assert_contains "$OUT" "search Required key not available" "a workload searching its session keyring"
assert_eq "read Permission denied" "$(printf '%s\n' "$OUT" | tail -1)" "a workload after joining _uid_ses by name"
ok "a workload allowed keyctl, started from a session keyring linking the user keyring, cannot read the secrets"

# ---- no value anywhere: outputs, files ---------------------------------------------------
for v in "$V1" "$V2" "$V3" "$V4"; do
        if grep -qF -- "$v" "$T/transcript"; then
                fail "a value appears in nook's output: $(grep -F -- "$v" "$T/transcript" | head -3)"
        fi
done
cleanup_secrets
set +e
hits=$(grep -rlsF -e "$V1" -e "$V2" -e "$V3" -e "$V4" -- "$HOME" "$T" /tmp /var/tmp /dev/shm ${XDG_RUNTIME_DIR:+"$XDG_RUNTIME_DIR"} 2>/dev/null)
set -e
[ -z "$hits" ] || fail "a value was written to a file: $hits"
ok "no value in any output, nor in any file under HOME, the XDG dirs, /tmp, /var/tmp, /dev/shm"
