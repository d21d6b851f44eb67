# nook tests — what the image attack tests (security suite s15…s24) share: a sentinel dir
# outside the store, its state and the store's, hostile archives built with
# tests/images/ocilib.py, and the checks of a refused or accepted import.
# Source it after lib.sh:  . "$NOOK_TEST_LIB/image-attack.sh"
IMAGES="$NOOK_SOURCE_ROOT/tests/images"
STORE="$XDG_DATA_HOME/nook"
export SENT="$T/target"
mkdir -p "$SENT" "$T/forged"
echo original >"$SENT/sentinel"
chmod 0755 "$SENT"
chmod 0644 "$SENT/sentinel"
REL=${SENT#/}

# Every name under SENT (SENT included) with its type, mode, link count, size and mtime,
# then the bytes of its files.
sentinel_state() {
        (cd "$SENT" && find . -printf '%p %y %m %n %s %T@\n' | sort && find . -type f | sort | xargs cat)
}
SENT0=$(sentinel_state)
# The store's names, blobs, layers and staging dirs.
store_state() {
        "$NOOK" images --json
        (cd "$STORE" && find images/names images/blobs images/tmp layers -maxdepth 2 | sort)
}
# mk OUT.tar 'LAYERS' ['CONFIG']: an oci-archive of mkimage's base layer and one
# uncompressed layer per list in LAYERS, a Python expression over tests/images/ocilib.py
# (F, D, SYM, HARD, ...) with S = SENT, s = SENT without its leading /, UP = "../" * 24;
# CONFIG, a dict merged into the image config.
mk() {
        python3 - "$@" <<'EOF' || fail "building $1"
import json, os, sys, tempfile
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.environ["NOOK_SOURCE_ROOT"], "tests", "images"))
from ocilib import *
import forge
S = os.environ["SENT"]
env = dict(globals(), S=S, s=S.lstrip("/"), UP=forge.UP)
out, layers = sys.argv[1], eval(sys.argv[2], env)
patch = eval(sys.argv[3], env) if len(sys.argv) > 3 else {}
with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(out))) as tmp:
    lay = Layout(tmp)
    m = lay.image([forge.base(lay)] + [lay.put_layer(tar_bytes(l)) for l in layers])
    if patch:
        man = json.load(open(lay.path(m["digest"])))
        cfg = json.load(open(lay.path(man["config"]["digest"])))
        cfg["config"].update(patch)
        man["config"] = lay.put(canon_json(cfg), MT_CONFIG)
        m = dict(lay.put(canon_json(man), MT_MANIFEST), annotations=m["annotations"], platform=m["platform"])
    lay.index([m])
    lay.archive(out)
EOF
}
# refused ARCHIVE PHRASE: exit 125, the error names the cause, store and sentinel unchanged.
refused() {
        before=$(store_state)
        run_nook image import --name refused "$1"
        c=$(basename "$1" .tar)
        [ "$RC" -eq 125 ] || fail "$c: the import must be refused (125), got $RC: $OUT $ERR"
        assert_contains "$ERR" "$2" "$c: the error names the cause"
        assert_eq "$before" "$(store_state)" "$c: the store after a refused import"
        assert_eq "" "$(ls -A "$STORE/images/tmp")" "$c: staging dirs left"
        assert_eq "$SENT0" "$(sentinel_state)" "$c: the sentinel dir"
}
# accepted ARCHIVE NAME: imported; L is then the dir of its top (hostile) layer.
accepted() {
        run_nook image import --name "$2" "$1"
        c=$(basename "$1" .tar)
        assert_eq 0 "$RC" "$c: import ($ERR)"
        assert_eq "$SENT0" "$(sentinel_state)" "$c: the sentinel dir"
        L="$STORE/layers/$("$NOOK" image inspect "$2" | json_query 'j["layers"][-1]["digest"][7:]')/diff"
        [ -d "$L" ] || fail "$c: no layer dir $L"
}
# strays NAME: files called NAME anywhere under the test's dir but inside a layer.
strays() {
        find "$T" -name "$1" ! -path "$STORE/layers/*" ! -path "$SENT/*"
}

# forged_all: every forge.py case in $T/forged, and a store that exists but lacks the base
# layer every forged image carries (a refused import that kept it would show).
forged_all() {
        python3 "$IMAGES/forge.py" all "$T/forged" --sentinel "$SENT" >/dev/null || fail "forge.py"
        mkdir -p "$T/tiny/etc"
        echo tiny >"$T/tiny/etc/tiny"
        tar -C "$T/tiny" -czf "$T/tiny.tar.gz" etc
        run_nook image import --name tiny "$T/tiny.tar.gz"
        assert_eq 0 "$RC" "importing a tiny rootfs tarball: $ERR"
}
