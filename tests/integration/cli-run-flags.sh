#!/bin/sh
# podman's run flags as nook takes them (issue 14, section 4): --entrypoint, --init,
# --rm with -d, -v :z/:Z, --tmpfs with podman's options, --cap-add/--cap-drop, --ulimit,
# --platform, and podman's flags that nook has not, each answered with what to use.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
cd "$T"
python3 "$NOOK_SOURCE_ROOT/tests/images/mkimage.py" "$T/img" >/dev/null || fail "mkimage.py"
run_nook image import --name flags "$T/img/oci-archive.tar"
assert_eq 0 "$RC" "import: $ERR"
R="-q --network none"

# ---- --entrypoint: replaces the image's, drops its Cmd; '' clears; the JSON form ----
# shellcheck disable=SC2086
run_nook run $R flags
assert_eq hello-from-cmd "$OUT" "the image's Cmd without --entrypoint"
# shellcheck disable=SC2086
run_nook run $R --entrypoint echo flags hi there
assert_eq "0:hi there" "$RC:$OUT" "--entrypoint echo: $ERR"
# shellcheck disable=SC2086
run_nook run $R --entrypoint echo flags
assert_eq "0:" "$RC:$OUT" "--entrypoint drops the image's Cmd, as podman: $ERR"
# shellcheck disable=SC2086
run_nook run $R --entrypoint '["/bin/sh","-c"]' flags 'echo json $0'
assert_eq "json /bin/sh" "$OUT" "--entrypoint as a JSON array: $ERR"
# shellcheck disable=SC2086
run_nook run $R --entrypoint '' flags echo cleared
assert_eq cleared "$OUT" "--entrypoint '': COMMAND alone: $ERR"
# shellcheck disable=SC2086
run_nook run $R --entrypoint '' flags
assert_eq 125 "$RC" "--entrypoint '' and no command"
assert_contains "$ERR" "nothing to run" "what is missing is said"
# shellcheck disable=SC2086
run_nook run $R --entrypoint echo --rootfs "$ROOT" -- from dir
assert_eq "from dir" "$OUT" "--entrypoint on a directory: $ERR"
ok "--entrypoint"

# ---- --init: accepted (the holder reaps); --platform: this machine's only ----
arch=$(uname -m)
case "$arch" in x86_64) oci=amd64 other=arm64 ;; aarch64) oci=arm64 other=amd64 ;; *) oci=$arch other=s390x ;; esac
# shellcheck disable=SC2086
run_nook run $R --init --platform "linux/$oci" --rootfs "$ROOT" -- sh -c 'sleep 0.1 & echo ok'
assert_eq "0:ok" "$RC:$OUT" "--init and --platform linux/$oci: $ERR"
# shellcheck disable=SC2086
run_nook run $R --platform "linux/$other" --rootfs "$ROOT" -- true
assert_eq 125 "$RC" "another architecture"
assert_contains "$ERR" "--platform linux/$other: this machine is linux/$oci" "both architectures named"
ok "--init, --platform"

# ---- --rm with -d: the session goes when the process ends ----
name="rmd$$"
echo "$name" >>"$T/envs"
# shellcheck disable=SC2086
run_nook run $R -d --rm --name "$name" --rootfs "$ROOT" -- sleep 1
assert_eq 0 "$RC" "run -d --rm: $ERR"
run_nook session inspect "$name"
assert_eq 0 "$RC" "the session is there while the process runs: $ERR"
i=0
while "$NOOK" session inspect "$name" >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -lt 100 ] || fail "the session of run -d --rm outlived its process"
        sleep 0.1
done
ok "-d --rm removes the session when the process ends"

# ---- -v :z/:Z accepted with a note; other podman -v options refused by name ----
mkdir -p "$T/vol"
echo v >"$T/vol/f"
run_nook run --network none -v "$T/vol:/v:z" --rootfs "$ROOT" -- cat /v/f
assert_eq "0:v" "$RC:$OUT" "-v :z: $ERR"
assert_eq "nook: note: -v $T/vol:/v:z: 'z' accepted: nook does no SELinux relabelling" "$ERR" "the one-line note"
run_nook run --network none -v "$T/vol:/v:ro,Z" --rootfs "$ROOT" -- sh -c 'cat /v/f; touch /v/g 2>/dev/null || echo ro'
assert_eq "v
ro" "$OUT" "-v :ro,Z keeps ro: $ERR"
# shellcheck disable=SC2086
run_nook run $R -v "$T/vol:/v:O" --rootfs "$ROOT" -- true
assert_eq 125 "$RC" "-v :O"
assert_contains "$ERR" "unknown option 'O'" "named"
ok "-v :z/:Z"

# ---- --tmpfs with podman's options ----
# shellcheck disable=SC2086
run_nook run $R --tmpfs /x:rw,size=1m,mode=700,noexec,notmpcopyup --rootfs "$ROOT" -- sh -c 'grep " /x " /proc/mounts; stat -c %a /x'
assert_eq 0 "$RC" "--tmpfs with rw and notmpcopyup: $ERR"
assert_contains "$OUT" "size=1024k" "the size"
assert_contains "$OUT" "noexec" "noexec"
assert_eq 700 "$(printf '%s\n' "$OUT" | tail -n 1)" "the mode"
for o in tmpcopyup uid=0 nr_inodes=10 ro suid; do
        # shellcheck disable=SC2086
        run_nook run $R --tmpfs "/x:size=1m,$o" --rootfs "$ROOT" -- true
        assert_eq 125 "$RC" "--tmpfs option $o"
        assert_contains "$ERR" "option '$o':" "the refused option is named ($o)"
done
ok "--tmpfs: podman's options taken or refused by name"

# ---- --cap-add / --cap-drop ----
# shellcheck disable=SC2086
run_nook run $R --rootfs "$ROOT" -- sh -c 'grep CapEff /proc/self/status'
full=$OUT
# shellcheck disable=SC2086
run_nook run $R --cap-drop ALL --rootfs "$ROOT" -- sh -c 'grep CapEff /proc/self/status'
assert_eq "CapEff:	0000000000000000" "$OUT" "--cap-drop ALL: $ERR"
# shellcheck disable=SC2086
run_nook run $R --cap-drop ALL --cap-add kill --rootfs "$ROOT" -- sh -c 'grep CapEff /proc/self/status'
assert_eq "CapEff:	0000000000000020" "$OUT" "--cap-drop ALL --cap-add KILL: $ERR"
# shellcheck disable=SC2086
run_nook run $R --cap-drop CAP_CHOWN --rootfs "$ROOT" -- sh -c 'touch /tmp/a; chown 1 /tmp/a'
assert_eq 1 "$RC" "chown without CAP_CHOWN fails: $ERR"
# shellcheck disable=SC2086
run_nook run $R --cap-add NET_BIND_SERVICE --rootfs "$ROOT" -- sh -c 'grep CapEff /proc/self/status'
assert_eq "$full" "$OUT" "adding one of the default set changes nothing"
# shellcheck disable=SC2086
run_nook run $R --cap-add SYS_ADMIN --rootfs "$ROOT" -- true
assert_eq 125 "$RC" "--cap-add SYS_ADMIN"
assert_contains "$ERR" "--cap-add SYS_ADMIN: nook does not grant it" "refused by name"
ok "--cap-add/--cap-drop"

# ---- --ulimit ----
hard=$(ulimit -Hn)
soft=64
[ "$hard" = unlimited ] || [ "$hard" -ge 128 ] || fail "hard nofile limit $hard"
# shellcheck disable=SC2086
run_nook run $R --ulimit nofile=$soft:128 --rootfs "$ROOT" -- sh -c 'ulimit -n; ulimit -Hn'
assert_eq "0:$soft
128" "$RC:$OUT" "--ulimit nofile=$soft:128: $ERR"
# shellcheck disable=SC2086
run_nook run $R --ulimit core=0 --rootfs "$ROOT" -- sh -c 'ulimit -c'
assert_eq 0 "$OUT" "--ulimit core=0: $ERR"
# shellcheck disable=SC2086
run_nook run $R --ulimit nofiles=10 --rootfs "$ROOT" -- true
assert_eq 125 "$RC" "an unknown limit"
assert_contains "$ERR" "--ulimit nofiles=10: expected NAME=SOFT[:HARD]" "named"
if [ "$hard" != unlimited ]; then
        # shellcheck disable=SC2086
        run_nook run $R --ulimit "nofile=$hard:$((hard + 1))" --rootfs "$ROOT" -- true
        assert_eq 125 "$RC" "a hard limit above ours"
        assert_contains "$ERR" "above your own hard limit ($hard)" "ours is named"
fi
ok "--ulimit"

# ---- podman's flags nook has not ----
for f in "--privileged" "--pid host" "--restart=always" "--pod p" "--device /dev/null" "--shm-size 1g"; do
        # shellcheck disable=SC2086
        run_nook run $f --rootfs "$ROOT" -- true
        assert_eq 125 "$RC" "$f"
        flag=${f%% *}
        flag=${flag%%=*}
        assert_contains "$ERR" "$flag is podman's, not nook's: " "$f is answered"
done
run_nook run --shm-size 1g --rootfs "$ROOT" -- true
assert_contains "$ERR" "--tmpfs /dev/shm:size=SIZE" "what to use instead"
run_nook run --privileged=true --rootfs "$ROOT" -- true
assert_contains "$RC:$ERR" "125:nook: --privileged is podman's" "--privileged=true"
run_nook run --rootfs "$ROOT" --pod
assert_contains "$RC:$ERR" "125:nook: --pod is podman's, not nook's" "--pod without its value"
run_nook run -P --rootfs "$ROOT" -- true
assert_contains "$RC:$ERR" "125:nook: -P (--publish-all) is podman's, not nook's" "-P"
# shellcheck disable=SC2086
run_nook run $R -m 64m --rootfs "$ROOT" -- true
assert_eq "0:" "$RC:$ERR" "podman's -m is --memory"
ok "podman's flags nook has not say what to use"

# ---- --label: kept with the session, shown by inspect ----
name="lbl$$"
echo "$name" >>"$T/envs"
# shellcheck disable=SC2086
run_nook run $R -d --name "$name" --label team=infra --label "note=a b=c" --rootfs "$ROOT" -- sleep 30
assert_eq 0 "$RC" "run -d --label: $ERR"
run_nook session inspect --json "$name"
assert_eq '{"note": "a b=c", "team": "infra"}' "$(printf '%s\n' "$OUT" | json_query 'j["labels"]')" "the labels, as given"
run_nook session inspect "$name"
assert_contains "$OUT" "Labels:       team=infra" "inspect shows the first label"
assert_contains "$OUT" "              note=a b=c" "and the next, one a line"
run_nook session rm "$name"
run_nook session create -q --label k=v --name "$name" --network none --rootfs "$ROOT"
assert_eq 0 "$RC" "session create --label: $ERR"
run_nook session inspect --json "$name"
assert_eq '{"k": "v"}' "$(printf '%s\n' "$OUT" | json_query 'j["labels"]')" "session create's label"
run_nook session rm "$name"
# shellcheck disable=SC2086
run_nook run $R --label novalue --rootfs "$ROOT" -- true
assert_eq 125 "$RC" "a label without ="
assert_contains "$ERR" "--label 'novalue': expected KEY=VALUE" "named"
ok "--label"
