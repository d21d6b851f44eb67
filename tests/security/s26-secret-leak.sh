#!/bin/sh
# S26 (podman #23788, #13417): a secret's value reaches the workload and nothing else.
# After a run that reads, echoes, encodes and splits two secrets (one of two lines),
# no value, nor its hex, base64 (any alignment), URL or JSON form, is in a file under
# the data dir, the run dir, /tmp or /dev/shm, in /proc/*/environ or cmdline of nook's
# processes, in any CLI output or error; another session of the same user sees none.
# Kills at each stage: tests/fault/secrets-killed.sh.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"

rnd() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
# characters that URL and JSON encode differently from the raw value
V="k/$(rnd 10)+q=$(rnd 6) z"
L1="line-one-$(rnd 8)"
L2="line-two-$(rnd 8)"
M="$L1
$L2"
export NOOK_T_V="$V" NOOK_T_M="$M"

# every form looked for: raw, hex (both cases), base64 of the value at the three
# alignments (the characters that depend on the value only), URL and JSON forms, lines
forms() {
        py='
import base64, json, sys, urllib.parse
for v in sys.argv[1:]:
    b = v.encode()
    print(v)
    print(b.hex()); print(b.hex().upper())
    for pad in (b"", b"x", b"xy"):
        e = base64.b64encode(pad + b).decode()
        start = (len(pad) * 4 + 2) // 3 + 1
        print(e[start:start + 16])
        print(e[start:start + 16].replace("+", "-").replace("/", "_"))
    print(urllib.parse.quote(v, safe=""))
    print(json.dumps(v)[1:-1])
    for line in v.split("\n"):
        print(line)
'
        python3 -c "$py" "$@"
}
forms "$V" "$M" | sort -u | awk 'length($0) >= 8' >"$T/forms"
# leaks WHERE...: the files under WHERE holding any form (grep's patterns come from a
# file under $T, which is skipped; so are this test's captured outputs, checked apart)
# (grep's status is not used: other users' unreadable files make it 2 with or without a
# match; the canary below proves the scan finds what is there)
leaks() {
        set +e
        grep -r -l -a -F -f "$T/forms" --exclude-dir="$(basename "$T")" "$@" 2>/dev/null
        set -e
}
printf 'canary %s\n' "$(printf %s "$V" | base64)" >"/dev/shm/nook-canary-$$"
[ "$(leaks /tmp /dev/shm)" = "/dev/shm/nook-canary-$$" ] || fail "the scan does not find a form planted in /dev/shm"
rm -f "/dev/shm/nook-canary-$$"
no_form_in() { # TEXT WHAT
        printf '%s\n' "$1" | grep -a -F -f "$T/forms" >/dev/null && fail "$2 shows a secret: $1"
        true
}

# ---- a session holding both, a process that prints them in every form ---------------
E="s26-$$"
run_nook --secret-source v=env:NOOK_T_V --secret-source m=env:NOOK_T_M session create --name "$E" --network none \
        --rootfs "$ROOT" --secret v,type=env,target=V --secret m --secret v,target=/etc/v
assert_eq 0 "$RC" "session create: $ERR"
echo "$E" >>"$T/envs"
no_form_in "$OUT$ERR" "session create"
run_nook exec "$E" sh -c '
        cat /etc/v; echo; cat /run/secrets/m; echo
        printf %s "$V" | base64; printf x%s "$V" | base64; printf xy%s "$V" | base64
        printf %s "$V" | od -An -tx1 | tr -d " \n"; echo
        printf %s "$V" | head -c 7; sleep 0.3; printf %s "$V" | tail -c +8; echo
        printf "{\"v\":\"%s\"}\n" "$V"
        sed -n 2p /run/secrets/m >&2'
assert_eq 0 "$RC" "exec: $ERR"
no_form_in "$OUT$ERR" "nook exec's attached output"
assert_contains "$OUT" "[REDACTED:v]" "the value is replaced by its marker"
assert_contains "$ERR" "[REDACTED:m]" "a line of a multi-line value is replaced on stderr"
run_nook exec -d "$E" sh -c 'echo "$V"; sleep 60'
P=$OUT
sleep 0.5

# nook's own processes while the session lives: environment and command line
for pid in $(pgrep -u "$(id -u)" '^(nook|nook-holder|nook-monitor|slirp4netns|fuse-overlayfs|nook-netd)$'); do
        for f in environ cmdline; do
                [ -r "/proc/$pid/$f" ] || continue
                tr '\0' '\n' <"/proc/$pid/$f" 2>/dev/null | grep -a -F -f "$T/forms" >/dev/null &&
                        fail "/proc/$pid/$f ($(cat "/proc/$pid/comm")) holds a secret"
        done
done
ok "no secret in the environment or command line of nook's processes"

# every listing and log a person or a program reads
for cmd in "ps -a" "ps -a --json" "session inspect $E" "session inspect --json $E" "session ls" "journal --json" \
        "logs $P" "stats $P" "stats --json $P"; do
        run_nook $cmd
        no_form_in "$OUT$ERR" "nook $cmd"
done
ok "no secret in listings, logs, the journal or stats"

# another session of the same user sees none of them
run_nook run --network none --rootfs "$ROOT" -- sh -c '
        cat /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null | tr "\0" "\n"
        ls -la /run/secrets /etc/v 2>&1; cat /run/secrets/* /etc/v 2>&1
        grep -r -a -l -e "line-one" -e "line-two" /run /tmp /etc /dev/shm 2>/dev/null'
no_form_in "$OUT$ERR" "another session"
ok "another session of the same user sees no secret"

# an error never quotes a value
run_nook --secret-source v=env:NOOK_T_V run --network none --rootfs "$ROOT" --secret v,type=env,target=V \
        --secret v,type=env,target=V -- true
[ "$RC" -ne 0 ] || fail "two secrets on one variable were accepted"
no_form_in "$OUT$ERR" "the refusal of two secrets on one variable"
# nor does the refusal of a malformed request that carries one (an unterminated string,
# an unquoted token: the JSON parser would quote the text near the error)
X=$(rnd 6 | tr 0-9 g-p) # 12 letters: a token the parser quotes whole
echo "$X" >>"$T/forms"
for req in "{\"environment\":{\"environment_id\":\"x\",\"spec\":{}},\"secret_values\":{\"v\":{\"value\":\"$X" \
        "{\"environment\":{\"environment_id\":\"x\",\"spec\":{}},\"secret_values\":{\"v\":{\"value\":$X}}}"; do
        run_nook_in "$req" call prepare_secrets
        assert_eq 125 "$RC" "a malformed request"
        no_form_in "$OUT$ERR" "the refusal of a malformed request"
done
ok "no secret in an error"

# the disk: data dir (journal and its WAL), run dir, /tmp, /dev/shm, while the session
# lives and after it is gone
found=$(leaks "$XDG_DATA_HOME" "$(run_dir)" /tmp /dev/shm)
[ -z "$found" ] || fail "secret found on disk while the session lives: $found"
run_nook session rm "$E"
assert_eq 0 "$RC" "session rm: $ERR"
found=$(leaks "$XDG_DATA_HOME" "$(run_dir)" /tmp /dev/shm)
[ -z "$found" ] || fail "secret found on disk after the session: $found"
ok "no secret on disk"
