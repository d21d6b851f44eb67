#!/bin/sh
# nook run as a podman user meets it (issue 14): a failing run says its error once and
# suggests no removal of a session it never made; keep-id gives the workload a passwd and
# group entry and a HOME of its own, as podman's keep-id does, without changing the root's
# files on disk.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
cd "$T"
me=$(id -un)
home=$(getent passwd "$me" | cut -d: -f6)
group=$(id -gn)

# ---- a run that fails before any session exists ----
# a data dir nook cannot make: the journal cannot be opened, so no session can be left
: >"$T/afile"
NOOK_STORAGE="$T/afile/nook" run_nook run --rootfs "$ROOT" -- true
assert_eq 125 "$RC" "a run with an unusable data dir"
n=$(printf '%s\n' "$ERR" | grep -c '^nook: ')
assert_eq 1 "$n" "the error is printed once (got: $ERR)"
assert_not_contains "$ERR" "session rm" "no removal suggested for a session that was never made"
NOOK_STORAGE="$T/afile/nook" run_nook session create --rootfs "$ROOT"
assert_eq 125 "$RC" "session create with an unusable data dir"
assert_eq 1 "$(printf '%s\n' "$ERR" | grep -c '^nook: ')" "session create: the error once (got: $ERR)"
assert_not_contains "$ERR" "session rm" "session create: no removal suggested"
# a failure after the session was made: removed quietly, nothing to suggest either
run_nook run --rootfs "$ROOT" -w /no/such/dir -- true
assert_eq 125 "$RC" "a missing working directory"
assert_eq 1 "$(printf '%s\n' "$ERR" | grep -c '^nook: ')" "the start's error once (got: $ERR)"
assert_not_contains "$ERR" "session rm" "the session was removed: nothing to suggest"
ok "a failing run reports once, and suggests no removal of what does not exist"

# ---- keep-id: the user's entry and HOME, as podman gives them ----
python3 "$NOOK_SOURCE_ROOT/tests/images/mkimage.py" "$T/img" >/dev/null || fail "mkimage.py"
run_nook image import --name habits "$T/img/oci-archive.tar"
assert_eq 0 "$RC" "import: $ERR"
for root in image dir; do
        if [ $root = image ]; then src=habits; else src="--rootfs $ROOT"; fi
        # shellcheck disable=SC2086
        run_nook run --userns keep-id $src -- sh -c 'whoami; id -gn; echo "$HOME"; grep "^$(id -un):" /etc/passwd'
        assert_eq 0 "$RC" "keep-id run ($root): $ERR"
        assert_eq "$me" "$(printf '%s\n' "$OUT" | sed -n 1p)" "whoami with keep-id ($root)"
        assert_eq "$group" "$(printf '%s\n' "$OUT" | sed -n 2p)" "the group's name with keep-id ($root)"
        assert_eq "$home" "$(printf '%s\n' "$OUT" | sed -n 3p)" "HOME with keep-id ($root): the host's home, as podman"
        assert_eq "$me:x:$(id -u):$(id -g):$me:$home:/bin/sh" "$(printf '%s\n' "$OUT" | sed -n 4p)" \
                "the passwd entry ($root)"
        # shellcheck disable=SC2086
        run_nook run --userns keep-id -e HOME=/elsewhere $src -- sh -c 'echo "$HOME"'
        assert_eq /elsewhere "$OUT" "-e HOME wins over keep-id's ($root)"
done
# the files on disk are unchanged: the directory's and every image layer's
assert_eq "root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/:/bin/sh" "$(cat "$ROOT/etc/passwd")" "the directory's /etc/passwd"
for f in "$XDG_DATA_HOME"/nook/layers/*/diff/etc/passwd; do
        [ -f "$f" ] || continue
        ! grep -q "^$me:" "$f" || fail "an image layer's /etc/passwd was changed: $f"
done
# a root written in place (--rootfs-rw) is not written either: the entry is bound over
run_nook run --userns keep-id --rootfs-rw --rootfs "$ROOT" -- whoami
assert_eq "$me" "$OUT" "whoami with keep-id on --rootfs-rw: $ERR"
assert_not_contains "$(cat "$ROOT/etc/passwd")" "$me" "--rootfs-rw: the directory's /etc/passwd"
# the default identities are unchanged: root's HOME is /root
run_nook run --userns root --rootfs "$ROOT" -- sh -c 'echo "$HOME"'
assert_eq /root "$OUT" "HOME of root inside"
ok "keep-id: whoami, the group, HOME and the passwd entry, the root's files untouched"

# ---- downgrades are said on stderr, one line each; -q/--quiet silences them ----
# --network host is a downgrade on every host (the workload shares the host's network)
run_nook run --network host --rootfs "$ROOT" -- true
assert_eq 0 "$RC" "run --network host: $ERR"
assert_eq "nook: downgrade: network host: the workload shares the host's network namespace" "$ERR" \
        "run: the downgrade, one line"
run_nook run -q --network host --rootfs "$ROOT" -- true
assert_eq "0:" "$RC:$ERR" "run -q: nothing on stderr"
name="dg$$"
echo "$name" >>"$T/envs"
run_nook session create --network host --name "$name" --rootfs "$ROOT"
assert_eq 0 "$RC" "session create --network host: $ERR"
assert_eq "nook: downgrade: network host: the workload shares the host's network namespace" "$ERR" \
        "session create: the downgrade"
run_nook exec "$name" -- true
assert_eq "0:" "$RC:$ERR" "exec: the session's downgrades were said when it was made"
run_nook session rm "$name"
run_nook session create --quiet --network host --name "$name" --rootfs "$ROOT"
assert_eq "0:" "$RC:$ERR" "session create --quiet: nothing on stderr"
run_nook session inspect --json "$name"
assert_contains "$(printf '%s\n' "$OUT" | json_query 'j["notes"]')" "network host" "inspect still has the note"
run_nook session rm "$name"
# keep-id with slirp4netns: slirp4netns runs without its mount sandbox (no root inside
# the session to make one), whichever the user
if [ -x "$(command -v slirp4netns)" ]; then
        run_nook run --userns keep-id --rootfs "$ROOT" -- true
        assert_eq 0 "$RC" "run keep-id: $ERR"
        assert_contains "$ERR" "nook: downgrade: slirp4netns runs without its mount sandbox" "keep-id's slirp4netns"
        assert_eq 1 "$(printf '%s\n' "$ERR" | grep -c .)" "one line for one downgrade (got: $ERR)"
        run_nook run --quiet --userns keep-id --rootfs "$ROOT" -- true
        assert_eq "0:" "$RC:$ERR" "run --quiet keep-id"
fi
# an image under auto: without a subuid range (or a driver that shows owners), the image's
# files of other owners show as the one mapped id, and that is said; a chosen identity is
# not a downgrade
run_nook session create --network none --name "$name" habits
assert_eq 0 "$RC" "session create of the image: $ERR"
collapsed=$("$NOOK" session inspect --json "$name" | json_query 'j["owners_collapsed"]')
ident=$("$NOOK" session inspect --json "$name" | json_query 'j["identity"]')
if [ "$collapsed" -gt 0 ]; then
        assert_contains "$ERR" "nook: downgrade: $collapsed entries of the image owned by other ids show as the one id mapped (identity $ident: " "collapsed owners said"
        assert_eq 1 "$(printf '%s\n' "$ERR" | grep -c .)" "one line (got: $ERR)"
else
        assert_eq subuid "$ident" "exact owners need the subuid identity"
        assert_eq "" "$ERR" "exact owners: nothing to say"
fi
if grep -q -E "^($me|$(id -u)):" /etc/subuid 2>/dev/null; then :; else
        [ "$collapsed" -gt 0 ] || fail "without a subuid range the image's owners collapse"
fi
run_nook session rm "$name"
run_nook run -q --network none habits -- true
assert_eq "0:" "$RC:$ERR" "run -q of the image: nothing on stderr"
run_nook run --network none --userns root habits -- true
assert_eq "0:" "$RC:$ERR" "--userns root asked for: no downgrade"
# a session that gave nothing up says nothing
run_nook run --network none --rootfs "$ROOT" -- true
assert_eq "0:" "$RC:$ERR" "no downgrade, no line"
ok "downgrades: one line each on run and session create, none with -q/--quiet"
