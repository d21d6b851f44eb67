#!/bin/sh
# nook load -i / nook save, as podman's: load takes an oci-archive or docker-archive
# (file or stdin) and prints the loaded name with progress on stderr; save writes an OCI
# image layout tar whose every blob matches its digest, that load reads back to the
# same manifest digest, whose tree is the image's, and that is the same bytes each time.
. "$NOOK_TEST_LIB/lib.sh"
IMG="$T/img"
python3 "$NOOK_SOURCE_ROOT/tests/images/mkimage.py" "$IMG" >/dev/null || fail "mkimage.py"
manifest=$(json_query 'j["manifest"]' <"$IMG/digests.json")

run_nook load -i "$IMG/oci-archive.tar"
assert_eq 0 "$RC" "load -i oci-archive: $ERR"
assert_eq "Loaded image: oci-archive:latest" "$OUT" "load prints the name"
assert_contains "$ERR" "Copying layer sha256:" "load's progress on stderr"
set +e
"$NOOK" load <"$IMG/docker-archive.tar" >"$T/out" 2>"$T/err"
RC=$?
set -e
assert_eq 0 "$RC" "load from stdin: $(cat "$T/err")"
assert_eq "Loaded image: localhost/nook-test:latest" "$(cat "$T/out")" "load from stdin: the archive's name"
cat "$IMG/oci-archive.tar" | "$NOOK" load -q >"$T/out" 2>"$T/err" || fail "load from a pipe: $(cat "$T/err")"
assert_eq "Loaded image: stdin:latest" "$(cat "$T/out")" "an archive without a name on a pipe"
ok "load: oci-archive with -i, docker-archive from stdin, from a pipe"

# save: an OCI image layout in a tar, every blob under its own digest
run_nook save -o "$T/a.tar" localhost/nook-test
assert_eq 0 "$RC" "save -o: $ERR"
assert_contains "$ERR" "Writing layer" "save's progress on stderr"
saved=$(python3 - "$T/a.tar" <<'PY'
import hashlib, json, sys, tarfile
t = tarfile.open(sys.argv[1])
names = t.getnames()
assert json.load(t.extractfile("oci-layout")) == {"imageLayoutVersion": "1.0.0"}, "oci-layout"
def blob(d):
    assert d.startswith("sha256:"), d
    data = t.extractfile("blobs/sha256/" + d[7:]).read()
    assert hashlib.sha256(data).hexdigest() == d[7:], "blob does not match its digest: " + d
    return data
idx = json.load(t.extractfile("index.json"))
assert idx["schemaVersion"] == 2 and len(idx["manifests"]) == 1, idx
m = idx["manifests"][0]
assert m["mediaType"] == "application/vnd.oci.image.manifest.v1+json", m
assert m["annotations"]["org.opencontainers.image.ref.name"] == "localhost/nook-test:latest", m
raw = blob(m["digest"])
assert len(raw) == m["size"]
man = json.loads(raw)
assert man["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
cfg = json.loads(blob(man["config"]["digest"]))
assert len(man["layers"]) == 3, man
for l, diff in zip(man["layers"], cfg["rootfs"]["diff_ids"]):
    data = blob(l["digest"])
    assert len(data) == l["size"] and l["digest"] == diff, (l, diff)
    tarfile.open(fileobj=__import__("io").BytesIO(data)).getmembers()  # a tar
blobs = [n for n in names if n.startswith("blobs/sha256/") and len(n) == 13 + 64]
assert len(blobs) == 5, blobs  # manifest, config, 3 layers
print(m["digest"])
PY
) || fail "the saved layout: $saved"
ok "save: oci-layout, index.json, blobs/sha256 each matching its digest, diff_ids = layers"

# round trip: loaded back to the same manifest digest, the same tree, the same bytes again
run_nook load -i "$T/a.tar"
assert_eq 0 "$RC" "load of a saved archive: $ERR"
assert_eq "Loaded image: localhost/nook-test:latest" "$OUT" "load of a saved archive"
run_nook image inspect localhost/nook-test
assert_eq "$saved" "$(printf '%s\n' "$OUT" | json_query 'j["digest"]')" "loaded digest = saved manifest digest"
run_nook save -q -o "$T/b.tar" localhost/nook-test
assert_eq 0 "$RC" "save again: $ERR"
cmp "$T/a.tar" "$T/b.tar" || fail "save, load, save: the archives differ"
run_nook save -q -o "$T/c.tar" "$saved"
assert_eq 0 "$RC" "save by digest: $ERR"
assert_eq "$(tar -tf "$T/a.tar" | sort)" "$(tar -tf "$T/c.tar" | sort)" "save by digest: the same blobs"
tree='find /etc /opt /usr /home /root -xdev -exec stat -c "%n %a %u:%g %s %F" {} + 2>/dev/null | sort | sha256sum'
run_nook run --rm "$manifest" -- sh -c "$tree"
assert_eq 0 "$RC" "run the original: $ERR"
before=$OUT
assert_not_contains "$before" e3b0c44298fc1c149afbf4c8996fb924 "the tree listing is not empty"
run_nook run --rm localhost/nook-test -- sh -c "$tree"
assert_eq 0 "$RC" "run the round-tripped image: $ERR"
assert_eq "$before" "$OUT" "the round-tripped image's tree (owners, modes, whiteouts)"
"$NOOK" save localhost/nook-test >"$T/d.tar" 2>/dev/null || fail "save to stdout"
cmp "$T/a.tar" "$T/d.tar" || fail "save to stdout differs from -o"
if command -v skopeo >/dev/null 2>&1; then
        skopeo inspect "oci-archive:$T/a.tar" >/dev/null || fail "skopeo reads the archive"
fi
ok "save, load, save: same digests and bytes; the image's tree is kept"

run_nook save -o "$T/x.tar" no-such-image
assert_eq 125 "$RC" "save of an unknown image"
assert_contains "$ERR" "no-such-image" "save names the image"
[ ! -e "$T/x.tar" ] || fail "a failed save left its file"
run_nook save --format docker-archive -o "$T/x.tar" localhost/nook-test
assert_eq 125 "$RC" "save --format docker-archive"
assert_contains "$ERR" "oci-archive" "save --format names what nook writes"
echo "not an archive" >"$T/junk.tar"
run_nook load -i "$T/junk.tar"
assert_eq 125 "$RC" "load of junk"
run_nook load --help
assert_eq 0 "$RC" "load --help"
run_nook save --help
assert_eq 0 "$RC" "save --help"
ok "load and save errors and help"
