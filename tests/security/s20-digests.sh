#!/bin/sh
# S20 (umoci hardening tests, CVE-2024-3727, CVE-2021-41190): every digest is checked
# against the sha256 grammar before any use as a path (a digest made of "../", another
# algorithm, upper case, too short: refused), every blob (index entry, manifest, config,
# layer; OCI and docker archives) is checked against its digest and its size while it is
# read and before anything enters the store; an index with two manifests for one name is
# refused as ambiguous; a layout dir's blobs never lead out of it.  Each refusal names its
# cause and leaves the store as it was.  resolve_image refuses an image whose digest or
# architecture is not the one expected.
. "$NOOK_TEST_LIB/lib.sh"
. "$NOOK_TEST_LIB/image-attack.sh"

python3 "$IMAGES/forge.py" all "$T/forged" --sentinel "$SENT" >/dev/null || fail "forge.py"
python3 "$IMAGES/mkimage.py" "$T/img" >/dev/null || fail "mkimage.py"
# every crafted case next to a control built the same way, unchanged
mkdir "$T/s20"
python3 - "$T/s20" <<'PY' || fail "crafting the S20 cases"
import json, os, sys, tempfile
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.environ["NOOK_SOURCE_ROOT"], "tests", "images"))
from ocilib import *
import forge
outdir, S = sys.argv[1], os.environ["SENT"]
PATHY = "sha256:" + forge.UP + S.lstrip("/") + "/x"

def oci(name, man_fn=None, idx_fn=None, post=None):
    with tempfile.TemporaryDirectory(dir=outdir) as tmp:
        lay = Layout(tmp)
        benign = lay.put_layer(tar_bytes([F("srv/forged-layer", b"original content\n")]))
        m = lay.image([forge.base(lay), benign], mutate=man_fn)
        if idx_fn:
            idx_fn(m)
        lay.index([m])
        if post:
            post(lay, m)
        lay.archive(os.path.join(outdir, name + ".tar"))

def flip(lay, digest):  # one byte of a blob changed, its name and size kept
    p = lay.path(digest)
    data = bytearray(open(p, "rb").read())
    data[len(data) // 2] ^= 0x20
    open(p, "wb").write(bytes(data))

def manifest_of(lay, m):
    return json.load(open(lay.path(m["digest"])))

def set_layer(field, value):
    def fn(man):
        man["layers"][-1][field] = value(man["layers"][-1][field])
    return fn

oci("control-oci")
oci("config-mismatch", post=lambda lay, m: flip(lay, manifest_of(lay, m)["config"]["digest"]))
oci("config-size", man_fn=lambda man: man["config"].__setitem__("size", man["config"]["size"] + 1))
oci("config-path", man_fn=lambda man: man["config"].__setitem__("digest", PATHY))
oci("manifest-mismatch", post=lambda lay, m: flip(lay, m["digest"]))
oci("manifest-path", idx_fn=lambda m: m.__setitem__("digest", PATHY))
oci("manifest-size", idx_fn=lambda m: m.__setitem__("size", m["size"] - 1))
oci("layer-upper", man_fn=set_layer("digest", lambda d: d[:7] + d[7:].upper()))
oci("layer-short", man_fn=set_layer("digest", lambda d: d[:-1]))
oci("layer-long", man_fn=set_layer("digest", lambda d: d + "0"))
oci("layer-sha512", man_fn=set_layer("digest", lambda d: "sha512:" + d[7:] * 2))
oci("layer-smaller", man_fn=set_layer("size", lambda s: s - 1))

def docker(name, tars_fn=None, diff_fn=None):
    tars = [standard_layer(0)[0], tar_bytes([F("srv/forged-layer", b"original content\n")])]
    diff_ids = [sha256(t) for t in tars]
    if diff_fn:
        diff_ids = diff_fn(diff_ids)
    if tars_fn:
        tars = tars_fn(tars)
    cfg = {"architecture": oci_arch(), "os": "linux", "config": {"Cmd": ["/bin/sh"]},
           "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    docker_archive(os.path.join(outdir, name + ".tar"), name, canon_json(cfg), tars)

docker("control-docker")
docker("docker-mismatch", tars_fn=lambda t: [t[0], t[1].replace(b"original", b"Original")])
docker("docker-diffid-path", diff_fn=lambda d: [d[0], PATHY])
PY

# the store exists and lacks the base layer every forged image carries
mkdir -p "$T/tiny/etc"
echo tiny >"$T/tiny/etc/tiny"
tar -C "$T/tiny" -czf "$T/tiny.tar.gz" etc
run_nook image import --name tiny "$T/tiny.tar.gz"
assert_eq 0 "$RC" "importing a tiny rootfs tarball: $ERR"

refused "$T/forged/s20-digest-mismatch.tar" "does not match its digest"
refused "$T/forged/s20-size-mismatch.tar" "the manifest says"
refused "$T/forged/s20-digest-path.tar" "is not a sha256 digest"
refused "$T/forged/s20-bad-algo.tar" "is not a sha256 digest"
refused "$T/forged/s20-ambiguous-index.tar" "ambiguous"
refused "$T/s20/config-mismatch.tar" "does not match its digest"
refused "$T/s20/config-size.tar" "the descriptor says"
refused "$T/s20/config-path.tar" "not a sha256 digest"
refused "$T/s20/manifest-mismatch.tar" "does not match its digest"
refused "$T/s20/manifest-path.tar" "is not a sha256 digest"
refused "$T/s20/manifest-size.tar" "the descriptor says"
for c in upper short long sha512; do
        refused "$T/s20/layer-$c.tar" "is not a sha256 digest"
done
refused "$T/s20/layer-smaller.tar" "the manifest says"
refused "$T/s20/docker-mismatch.tar" "does not match its digest"
refused "$T/s20/docker-diffid-path.tar" "is not a sha256 digest"
[ -z "$(find "$T" -name x)" ] || fail "a file x appeared: $(find "$T" -name x)"
ok "S20: digest and size mismatches, digests used as paths, other algorithms, an ambiguous index: refused, store unchanged"

# the controls, built the same way, import: the refusals above came from the mutations
for c in control-oci control-docker; do
        run_nook image import --name "$c" "$T/s20/$c.tar"
        assert_eq 0 "$RC" "the unchanged $c: $ERR"
done
run_nook run -w / control-docker -- cat /srv/forged-layer
assert_eq "original content" "$OUT" "the control's layer ($ERR)"
ok "S20: the same images unchanged import"

# a layout dir: a blob that is a symlink out of it is not read, even with the right bytes
for what in layer manifest; do
        cp -r "$T/img/layout" "$T/linked-$what"
        if [ "$what" = layer ]; then
                hex=$(json_query 'j["layers"][2][7:]' <"$T/img/digests.json")
        else
                hex=$(json_query 'j["manifest"][7:]' <"$T/img/digests.json")
        fi
        mkdir -p "$T/outside-$what"
        mv "$T/linked-$what/blobs/sha256/$hex" "$T/outside-$what/$hex"
        ln -s "$T/outside-$what/$hex" "$T/linked-$what/blobs/sha256/$hex"
        before=$(store_state)
        run_nook image import --name "linked-$what" "$T/linked-$what"
        [ "$RC" -eq 125 ] || fail "a layout dir whose $what blob is a symlink out of it: exit $RC ($OUT $ERR)"
        assert_contains "$ERR" "missing" "the error for a $what blob that is a symlink"
        assert_eq "$before" "$(store_state)" "the store after a refused layout dir ($what)"
        assert_eq "" "$(ls -A "$STORE/images/tmp")" "staging left ($what)"
done
ok "S20: a layout dir's blobs never lead out of it"

# resolve_image: expected_digest and expected_architecture
run_nook image import --name good "$T/img/oci-archive.tar"
assert_eq 0 "$RC" "import: $ERR"
digest=$(json_query 'j["manifest"]' <"$T/img/digests.json")
config=$(json_query 'j["config"]' <"$T/img/digests.json")
arch=$("$NOOK" image inspect good | json_query 'j["architecture"]')
resolve() { run_nook_in "{\"image\":{\"image_ref\":\"good\"$1}}" call resolve_image; }
resolve ",\"expected_digest\":\"$digest\""
assert_eq 0 "$RC" "resolve_image with the right manifest digest: $OUT"
assert_eq "$digest" "$(echo "$OUT" | json_query 'j["digest"]')" "the digest resolve_image returns"
resolve ",\"expected_digest\":\"$config\""
assert_eq 0 "$RC" "resolve_image with the right config digest: $OUT"
resolve ",\"expected_architecture\":\"$arch\""
assert_eq 0 "$RC" "resolve_image with the right architecture: $OUT"
resolve ',"expected_digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000"'
assert_eq 125 "$RC" "resolve_image with another expected_digest"
assert_contains "$OUT" "PolicyDenial" "the refusal's kind"
assert_contains "$OUT" "not the expected sha256:0000000000000000000000000000000000000000000000000000000000000000" "the refusal names the expected digest"
assert_not_contains "$OUT" "\"image_ref\":\"sha256:" "no image ref in the refusal"
resolve ",\"expected_digest\":\"$(echo "$digest" | tr 'a-f' 'A-F' | sed 's/^SHA256/sha256/')\""
assert_eq 125 "$RC" "resolve_image with the digest in upper case: $OUT"
resolve ",\"expected_digest\":\"sha256:../../../../$REL/sentinel\""
assert_eq 125 "$RC" "resolve_image with a path as expected_digest: $OUT"
assert_contains "$OUT" "sha256" "the refusal of a path as expected_digest"
other=s390x
[ "$arch" = s390x ] && other=amd64
resolve ",\"expected_architecture\":\"$other\""
assert_eq 125 "$RC" "resolve_image with another expected_architecture"
assert_contains "$OUT" "not the expected $other" "the refusal names the architecture"
resolve ",\"expected_digest\":\"$digest\",\"expected_architecture\":\"$other\""
assert_eq 125 "$RC" "resolve_image: right digest, wrong architecture"
assert_eq "$SENT0" "$(sentinel_state)" "the sentinel dir"
ok "S20: resolve_image refuses an image whose digest or architecture is not the one expected"
