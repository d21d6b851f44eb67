#!/bin/sh
# S18 (OCI image-spec whiteouts; stereoscope reports): only the exact whiteout forms
# count (".wh.NAME" naming a sibling, ".wh..wh..opq"), as plain files: a bare ".wh.",
# ".wh..", ".wh...", ".wh..wh.X", and whiteouts that are directories, symlinks, fifos or
# hard links are refused; names are cleaned first (a ".." never reaches out of a whiteout's
# dir, the sentinel outside stays untouched); whiteouts apply to lower layers only, layer
# after layer, with every rootfs driver: a whited-out tree is gone whole, an opaque dir
# hides every lower entry, files and dirs alike, and a later layer may bring a name back.
. "$NOOK_TEST_LIB/lib.sh"
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

python3 "$IMAGES/forge.py" all "$T/forged" --sentinel "$SENT" >/dev/null || fail "forge.py"
# the store exists and lacks the base layer every forged image carries
mkdir -p "$T/tiny/etc"
echo tiny >"$T/tiny/etc/tiny"
tar -C "$T/tiny" -czf "$T/tiny.tar.gz" etc
run_nook image import --name tiny "$T/tiny.tar.gz"
assert_eq 0 "$RC" "importing a tiny rootfs tarball: $ERR"

# ---- malformed whiteouts: refused, one at a time (forge's case stops at the first) ----
refused "$T/forged/s18-whiteouts.tar" "whiteout"
n=0
for e in 'F(".wh.")' 'F(".wh..")' 'F(".wh...")' 'F("etc/.wh..wh.passwd")' 'F("srv/.wh..wh..opq.x")'; do
        n=$((n + 1))
        mk "$T/malformed-$n.tar" "[[$e]]"
        refused "$T/malformed-$n.tar" "a malformed whiteout"
done
for e in 'D("srv/.wh..wh..opq")' 'SYM("bin/.wh.busybox", S)' 'SYM(".wh.sentinel", S + "/sentinel")' \
        'FIFO("srv/.wh.fifo")' 'D("srv/.wh.work")' 'F("etc/f"), HARD("etc/.wh.passwd", "etc/f")' \
        'F("etc/f"), HARD("etc/.wh..wh..opq", "etc/f")'; do
        n=$((n + 1))
        mk "$T/not-plain-$n.tar" "[[$e]]"
        refused "$T/not-plain-$n.tar" "a whiteout that is not a plain file"
done
ok "S18: malformed whiteouts and whiteouts that are not plain files are refused"

# ---- names first, then whiteouts: everything stays inside ----
mk "$T/clamped.tar" '[[F("etc/.wh.../../x"), F(UP + s + "/.wh.sentinel"), F(S + "/.wh.other"), F("etc/.wh.etc")]]'
accepted "$T/clamped.tar" clamped
[ -f "$L/etc/x" ] && [ ! -s "$L/etc/x" ] || fail "etc/.wh.../../x is the plain empty file etc/x"
for w in "$REL/sentinel" "$REL/other" etc/etc; do
        assert_eq "character special file 0:0" "$(stat -c '%F %t:%T' "$L/$w")" "the whiteout $w, inside the layer"
done
assert_eq 4 "$(find "$L" ! -type d | wc -l)" "entries of the layer (etc/x and three whiteouts)"
ok "S18: whiteout names are cleaned and clamped: their whiteouts land inside the layer"

# ---- semantics: lower layers only, in order, every driver ----
# layer 2: whiteouts of a file, of a dir holding dirs (/home/user), of a dir holding a
# file (/srv/dir-2750); an opaque dir whose lower copy holds a dir (/usr/bin); this
# layer's own entries next to whiteouts of their names (before and after them); layer 3
# brings a whited-out name back
mk "$T/semantics.tar" '[[F("etc/.wh.removed-later"), F(".wh.home"), F("srv/.wh.dir-2750"), F("usr/.wh..wh..opq"), F("usr/mine", b"mine\n"), F("srv/same", b"same\n"), F("srv/.wh.same"), F("srv/.wh.later"), F("srv/later", b"later\n"), D("opt/opaque"), F("opt/opaque/new", b"new\n"), F("opt/.wh.opaque"), F(".wh.sbin"), D("sbin"), F("sbin/mine", b"mine\n")], [F("etc/removed-later", b"back\n")]]'
accepted "$T/semantics.tar" semantics
probe='for p in /etc/removed-later /home /srv/dir-2750 /usr/bin /bin/busybox; do test -e $p && echo "$p yes" || echo "$p no"; done
echo usr: $(ls -A /usr) opaque: $(ls -A /opt/opaque) sbin: $(ls -A /sbin)
cat /etc/removed-later /srv/same /srv/later'
expected="/etc/removed-later yes
/home no
/srv/dir-2750 no
/usr/bin no
/bin/busybox yes
usr: mine opaque: new sbin: mine
back
same
later"
for driver in overlay fuse-overlayfs copy; do
        run_nook run -w / --rootfs-driver "$driver" semantics -- sh -c "$probe"
        assert_eq 0 "$RC" "run semantics with $driver: $ERR"
        assert_eq "$expected" "$OUT" "whiteouts and opaque dirs with the $driver driver"
        assert_eq "$SENT0" "$(sentinel_state)" "the sentinel after a run with $driver"
done
ok "S18: whiteouts apply to lower layers only, layer after layer, with every driver"
