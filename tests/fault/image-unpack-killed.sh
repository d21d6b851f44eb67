#!/bin/sh
# kill -9 in the middle of a layer unpack leaves no half layer and no name, only a
# staging dir that `nook gc` (and `nook image prune`) removes; the same import then
# works.  A disk that fills up during the unpack (a 1 MiB tmpfs as the data dir) and an
# injected ENOSPC end with a clear error and an unchanged store.
. "$NOOK_TEST_LIB/lib.sh"
IMG="$T/img"
python3 "$NOOK_SOURCE_ROOT/tests/images/mkimage.py" "$IMG" >/dev/null || fail "mkimage.py"
STORE="$XDG_DATA_HOME/nook"

NOOK_FAULT=layer.mid_unpack:kill run_nook image import --name k "$IMG/oci-archive.tar"
assert_eq 137 "$RC" "the import was killed mid-unpack ($ERR)"
# layers are whole or absent: the one killed mid-way is absent, finished ones are complete
base=$(json_query 'j["layers"][0][7:]' <"$IMG/digests.json")
[ ! -e "$STORE/layers/$base" ] || fail "the layer killed mid-unpack is in the store"
for l in $(ls -A "$STORE/layers"); do
        json_query 'j["layers"]' <"$IMG/digests.json" | grep -q "$l" || fail "unknown layer $l"
        [ -s "$STORE/layers/$l/info" ] || fail "layer $l is not complete"
done
assert_eq "" "$(ls -A "$STORE/images/names")" "no name after the kill"
[ -n "$(ls -A "$STORE/images/tmp")" ] || fail "the killed import's staging dir is expected to remain"
run_nook gc
assert_eq 0 "$RC" "gc: $ERR"
assert_contains "$OUT" "abandoned imports removed" "gc says what it removed"
assert_eq "" "$(ls -A "$STORE/images/tmp")" "gc removed the staging dir"
run_nook image import --quiet --name k "$IMG/oci-archive.tar"
assert_eq 0 "$RC" "the same import after the kill: $ERR"
assert_eq "$(json_query 'j["manifest"]' <"$IMG/digests.json")" "$OUT" "digest after the kill"
ok "kill -9 mid-unpack: nothing half-written visible; gc removes the staging; import works again"

before=$(cd "$STORE" && find images/names images/blobs layers | sort | sha256sum)
NOOK_FAULT=layer.mid_unpack:errno=ENOSPC run_nook image import --name e "$T/img/docker-archive.tar"
assert_eq 125 "$RC" "an injected ENOSPC fails the import"
assert_contains "$ERR" "No space left" "the error names the cause"
assert_contains "$ERR" "docker-archive.tar" "the error names the source"
assert_eq "$before" "$(cd "$STORE" && find images/names images/blobs layers | sort | sha256sum)" "store after ENOSPC"
assert_eq "" "$(ls -A "$STORE/images/tmp")" "no staging after ENOSPC"

# a real full disk: a 1 MiB tmpfs as data dir, in a user namespace of our own
command -v unshare >/dev/null || fail "unshare(1) is needed (util-linux)"
mkdir -p "$T/small"
out=$(unshare -Urm sh -c '
        mount -t tmpfs -o size=1m nook-small "$1" || exit 90
        XDG_DATA_HOME="$1" "$2" image import --name full "$3" 2>&1; echo "rc=$?"
        ls -A "$1/nook/layers" "$1/nook/images/tmp" "$1/nook/images/names" | grep -v ":$" | grep -v "^$" | wc -l
' sh "$T/small" "$NOOK" "$IMG/oci-archive.tar") || fail "unshare: $out"
assert_contains "$out" "No space left on device" "a full disk is named"
assert_contains "$out" "rc=125" "the import fails with 125"
assert_eq 0 "$(echo "$out" | tail -1)" "nothing left in the full store"
ok "ENOSPC (injected and real): a clear error, the store unchanged"
