#!/bin/sh
# Secrets reach the workload intact (a file bound read-only from memory, a variable set
# at exec) and nothing else: the output of nook run, the frames and logs show
# [REDACTED:<ref>] instead of the value and its encodings; sources and refusals as
# docs/cli.md says; the contract's prepare_secrets in the samples' shapes.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
mkdir -p "$ROOT/run"

V="Tk$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')Zq" # 28 bytes, random
SUM=$(printf %s "$V" | sha256sum | cut -d' ' -f1)
export NOOK_T_SECRET="$V"

# ---- the CLI: a file and a variable from one source, read once ----------------------
run_nook --secret-source tok=env:NOOK_T_SECRET run --network none --rootfs "$ROOT" --secret tok \
        --secret tok,type=env,target=TOK -- sh -c '
        sha256sum </run/secrets/tok | cut -d" " -f1
        printf %s "$TOK" | sha256sum | cut -d" " -f1
        ls -ln /run/secrets/tok | cut -c1-10
        grep " /run/secrets/tok " /proc/self/mountinfo
        echo "raw:$TOK"
        printf %s "$TOK" | base64
        printf %s "$TOK" | od -An -tx1 | tr -d " \n"; echo
        printf "%s" "$TOK" | head -c 9; sleep 0.3; printf "%s\n" "$TOK" | tail -c +10'
assert_eq 0 "$RC" "run with secrets: $ERR"
set -- $OUT
assert_eq "$SUM" "$1" "the file holds the value"
assert_eq "$SUM" "$2" "the variable holds the value"
assert_eq "-r--------" "$3" "the file is 0400"
mi=$(printf '%s\n' "$OUT" | grep ' /run/secrets/tok ')
assert_contains "$mi" " ro,nosuid,nodev,noexec" "the file is bound read-only, nosuid, nodev, noexec"
assert_contains "$mi" " - ramfs " "the file lives in memory that is never swapped"
assert_contains "$OUT" "raw:[REDACTED:tok]" "the value is masked in the output"
assert_not_contains "$OUT" "$V" "no value in the output"
assert_not_contains "$OUT" "$(printf %s "$V" | base64 | cut -c1-32)" "no base64 of the value"
assert_not_contains "$OUT" "$(printf %s "$V" | od -An -tx1 | tr -d ' \n')" "no hex of the value"
assert_not_contains "$OUT" "$(printf %s "$V" | head -c 9)" "a value written in two parts is masked whole"
assert_eq 4 "$(printf '%s\n' "$OUT" | grep -c 'REDACTED:tok')" "every form is marked"
ok "a file and a variable from one env: source, masked in the output"

# the named store's stand-in: a source per ref; mode, owner and target as podman's
printf '%s' "$V" >"$T/key.pem"
run_nook run --network none --rootfs "$ROOT" \
        --secret "src=file:$T/key.pem,target=/etc/app/key.pem,mode=0440,uid=0,gid=0" -- sh -c \
        'ls -ln /etc/app/key.pem | cut -c1-10; stat -c "%u %g" /etc/app/key.pem; sha256sum </etc/app/key.pem | cut -d" " -f1; { echo x >/etc/app/key.pem; } 2>/dev/null && echo writable; exit 0'
assert_eq 0 "$RC" "src=file: $ERR"
assert_eq "-r--r----- 0 0 $SUM" "$(printf '%s\n' "$OUT" | tr '\n' ' ' | sed 's/ $//')" "mode, owner and value of a src=file: secret"

# an owner the session maps (a subuid range), or a clear refusal (one id mapped)
run_nook run --network none --rootfs "$ROOT" --secret "src=file:$T/key.pem,target=/k,uid=1,gid=1" -- stat -c "%u %g" /k
if grep -q "^$(id -un):" /etc/subuid 2>/dev/null; then
        assert_eq "0 1 1" "$RC $OUT" "uid=1 with a subuid range: $ERR"
else
        assert_eq 125 "$RC" "uid=1 with one id mapped"
        assert_contains "$ERR" "owner 1:1 is not mapped in this session" "the refusal says why"
fi
ok "mode, owner and target of a src=file: secret"

# refusals name what is wrong, never a value
run_nook run --network none --rootfs "$ROOT" --secret nosuch -- true
assert_eq 125 "$RC" "a secret without a source"
assert_contains "$ERR" "secret nosuch" "the error names the ref"
assert_contains "$ERR" "--secret-source" "the error says how to give a value"
run_nook run --network none --rootfs "$ROOT" --secret "a,type=env,target=1BAD" -- true
assert_eq 125 "$RC" "a bad variable name"
assert_contains "$ERR" "1BAD is not an environment variable name" "the bad name is named"
run_nook run --network none --rootfs "$ROOT" --secret "a,type=file" -- true
assert_eq 125 "$RC" "an unknown type"
run_nook --secret-source "x=file:relative/none" run --network none --rootfs "$ROOT" --secret x -- true
assert_eq 125 "$RC" "a source file that does not exist"
assert_contains "$ERR" "relative/none" "the missing file is named"
ok "refusals"

# a value too short to mask is reported, and still given
export NOOK_T_SHORT=abc
run_nook --secret-source short=env:NOOK_T_SHORT run --network none --rootfs "$ROOT" \
        --secret short,type=env,target=S -- sh -c 'echo "[$S]"'
assert_eq 0 "$RC" "a short secret: $ERR"
assert_contains "$ERR" "warning: secret short:" "the downgrade is said on stderr"
assert_eq "[abc]" "$OUT" "a short secret is given, unmasked (as warned)"
ok "a value too short to mask is a warning"

# ---- a session: every process gets the env secrets; logs are masked ---------------
export NOOK_T_SECRET="$V"
run_nook --secret-source tok=env:NOOK_T_SECRET session create --name "sec$$" --network none --rootfs "$ROOT" \
        --secret tok,type=env,target=TOK
assert_eq 0 "$RC" "session create --secret: $ERR"
echo "sec$$" >>"$T/envs"
run_nook exec "sec$$" sh -c 'printf %s "$TOK" | sha256sum | cut -d" " -f1; echo "v=$TOK"'
assert_eq 0 "$RC" "exec in the session: $ERR"
assert_eq "$SUM
v=[REDACTED:tok]" "$OUT" "exec gets the session's env secret, masked in its output"
run_nook exec -d "sec$$" sh -c 'echo "$TOK" >&2'
ref=$OUT
sleep 0.5
run_nook logs "$ref"
assert_eq "[REDACTED:tok]" "$OUT$ERR" "nook logs shows the masked line"
run_nook session inspect "sec$$" --json
assert_not_contains "$OUT" "$V" "session inspect"
assert_contains "$OUT" "tok:env:TOK" "session inspect names the secret and where it goes"
run_nook session rm "sec$$"
assert_eq 0 "$RC" "session rm: $ERR"
ok "a session's processes get its secrets"

# ---- the contract ------------------------------------------------------------------
E="sec-$$"
echo "$E" >>"$T/envs"
SECS='"secrets":{"ambient":"explicit_refs_only","secret_mounts":[{"secret_ref":"secret.api_token","mount_ref":"secret.mount.api_token","destination":{"kind":"external_runtime","id":"/run/secrets/api_token","privacy":"content_refs_only","retention":"host_policy"},"redaction_policy_ref":{"kind":"redaction","id":"policy.redaction.secrets"}}],"env_secrets":[{"secret_ref":"secret.db_password","env_key":"DB_PASSWORD","destination":{"kind":"external_runtime","id":"env.DB_PASSWORD","privacy":"content_refs_only","retention":"host_policy"},"redaction_policy_ref":{"kind":"redaction","id":"policy.redaction.secrets"}}],"teardown_required":true}'
CENV="{\"environment_id\":\"$E\",\"spec\":{\"filesystem\":{\"root\":\"writable_layer\"},\"ownership\":{\"detach_policy\":{\"allowed\":true}},$SECS,\"io_policy\":{\"stdout\":{\"default_capture\":\"raw_content_if_policy_allows\",\"max_bytes\":65536},\"stderr\":{\"default_capture\":\"raw_content_if_policy_allows\",\"max_bytes\":65536}}}}"
W="Db$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')Pw"
WSUM=$(printf %s "$W" | sha256sum | cut -d' ' -f1)
call_ok prepare_session "{\"environment\":$CENV,\"nook\":{\"network\":\"none\"}}"
call_ok prepare_rootfs "{\"rootfs\":{\"rootfs_ref\":\"testroot\"},\"environment_id\":\"$E\"}"
PS="{\"environment\":$CENV,\"secret_values\":{\"secret.api_token\":{\"env\":\"NOOK_T_SECRET\"},\"secret.db_password\":{\"value\":\"$W\"}}}"
call_ok prepare_secrets "$PS"
assert_eq '{"secret_mount_refs": ["secret.mount.api_token"], "teardown_required": true}' "$(printf '%s\n' "$OUT" | json_query j)" "the samples' result"
# the same call again (a retry) answers the same; other secrets are refused
call_ok prepare_secrets "$PS"
run_nook_in "{\"environment\":$CENV,\"secret_values\":{\"secret.api_token\":{\"value\":\"other-value-123456\"},\"secret.db_password\":{\"value\":\"$W\"}},\"idempotency_key\":\"k2\"}" call prepare_secrets
assert_eq 125 "$RC" "other secrets for a session that holds some"
assert_eq InvalidStateTransition "$(printf '%s\n' "$OUT" | json_query 'j["Classified"]["kind"]')" "the refusal's kind"
assert_not_contains "$OUT$ERR" "other-value-123456" "the refusal shows no value"
call_ok prepare_environment "{\"environment\":$CENV}"
SENV=$CENV
run_in '["sh","-c","sha256sum </run/secrets/api_token | cut -d\" \" -f1; printf %s \"$DB_PASSWORD\" | sha256sum | cut -d\" \" -f1; echo \"$DB_PASSWORD $X\""]' \
        '"env":[{"name":"X","value_ref":"secret.api_token","redacted_value":"[x]","raw_value_present":false}]'
assert_eq "$SUM
$WSUM
[REDACTED:secret.db_password] [REDACTED:secret.api_token]" "$STDOUT" "values reach the process (file, env secret, value_ref), masked in the frames"
hash=$(printf '%s\n' "$OUT" | json_query 'j["io_frames"][0]["content_hash"]')
want=$(printf '%s\n' "$OUT" | json_query '__import__("hashlib").sha256(j["io_frames"][0]["data"].encode()).hexdigest()')
assert_contains "$hash" "$want" "content_hash is over the masked bytes"
run_nook journal --json
assert_not_contains "$OUT" "$W" "the journal holds no value"
assert_contains "$OUT" "redacted_keys" "the journal keeps the secret_values' refs only"
# a value_ref the session does not hold fails before anything runs
start_in '["true"]' '"env":[{"name":"Y","value_ref":"secret.none","redacted_value":"[y]","raw_value_present":false}]'
assert_eq 125 "$RC" "a value_ref to a secret not held"
assert_contains "$OUT" "does not hold" "the refusal says why"
# detach keeps the secrets with the session; reclaim ends them with it
holder=$(holder_pid "$(session_ref "$E")")
call_ok detach "{\"environment\":$CENV}"
ticket=$(printf '%s\n' "$OUT" | json_query 'j["host_ack_ref"]')
run_in '["sh","-c","printf %s \"$DB_PASSWORD\" | sha256sum | cut -d\" \" -f1"]'
assert_eq "$WSUM" "$STDOUT" "a detached session keeps its secrets"
call_ok reclaim "{\"ticket_ref\":\"$ticket\"}"
sleep 0.2
alive "$holder" && fail "the holder (and the secrets it holds) outlived reclaim"
ok "prepare_secrets through the contract; detach keeps the secrets, reclaim ends them"

# after prepare_environment, secrets come too late
E2="sec2-$$"
session_up "$E2"
run_nook_in "{\"environment\":{\"environment_id\":\"$E2\",\"spec\":{$SECS}},\"secret_values\":{\"secret.api_token\":{\"value\":\"$W\"},\"secret.db_password\":{\"value\":\"$W\"}}}" call prepare_secrets
assert_eq 125 "$RC" "prepare_secrets after prepare_environment"
assert_eq InvalidStateTransition "$(printf '%s\n' "$OUT" | json_query 'j["Classified"]["kind"]')" "too late: the kind"
session_down "$E2"
ok "prepare_secrets comes before prepare_environment"

# an image whose User is not root: its processes can read their secret files
if grep -q "^$(id -un):" /etc/subuid 2>/dev/null; then
        python3 "$NOOK_SOURCE_ROOT/tests/images/mkimage.py" "$T/img-user" --user 1000:1000 --name nook-user >/dev/null ||
                fail "mkimage.py --user"
        run_nook image import --quiet --name sec-user "$T/img-user/oci-archive.tar"
        assert_eq 0 "$RC" "import: $ERR"
        run_nook --secret-source tok=env:NOOK_T_SECRET run --network none --userns subuid --secret tok sec-user \
                sh -c 'id -u; stat -c "%u %g %a" /run/secrets/tok; sha256sum </run/secrets/tok | cut -d" " -f1'
        assert_eq 0 "$RC" "run an image with User 1000 and a secret: $ERR"
        assert_eq "1000 1000 1000 400 $SUM" "$(printf '%s\n' "$OUT" | tr '\n' ' ' | sed 's/ $//')" \
                "the secret file belongs to the image's User, who reads it"
        ok "secret files belong to the image's User"
fi

# the named store: --secret NAME with no other source reads `nook secret create NAME`
name="sec-store-$$"
printf %s "$V" | "$NOOK" secret create "$name" - >/dev/null || fail "nook secret create"
run_nook run --network none --rootfs "$ROOT" --secret "$name" --secret "$name,type=env,target=S" -- sh -c \
        'sha256sum </run/secrets/'"$name"' | cut -d" " -f1; echo "$S"'
"$NOOK" secret rm "$name" >/dev/null || fail "nook secret rm"
assert_eq 0 "$RC" "a secret of the named store: $ERR"
assert_eq "$SUM
[REDACTED:$name]" "$OUT" "the named store's value reaches the sandbox, masked in its output"
ok "--secret NAME reads the named store"

# a destination through a symlink of the root that leads out of it (S4), or under /proc
# or /sys (S6), is refused: nothing is written outside
mkdir -p "$T/outside"
ln -s "$T/outside" "$ROOT/esc"
ln -s ../../../../../../../.."$T/outside" "$ROOT/esc2"
for t in /esc/x /esc2/x /proc/x /sys/x; do
        run_nook --secret-source x=env:NOOK_T_SECRET run --network none --rootfs "$ROOT" --secret "x,target=$t" -- true
        assert_eq 125 "$RC" "a secret at $t"
done
assert_eq "" "$(ls -A "$T/outside")" "nothing written outside the root"
rm -f "$ROOT/esc" "$ROOT/esc2"
ok "secret destinations stay in the root"
