#!/bin/sh
# S18 (OCI image-spec whiteouts; stereoscope reports): only the exact whiteout forms
# count (".wh.NAME" naming a sibling, ".wh..wh..opq"), as plain files: a bare ".wh.",
# ".wh..", ".wh...", ".wh..wh.X", and whiteouts that are directories, symlinks, fifos or
# hard links are refused; names are cleaned first (a ".." never reaches out of a whiteout's
# dir, the sentinel outside stays untouched); whiteouts apply to lower layers only, layer
# after layer, with every rootfs driver: a whited-out tree is gone whole, an opaque dir
# hides every lower entry, files and dirs alike, and a later layer may bring a name back.
. "$NOOK_TEST_LIB/lib.sh"
. "$NOOK_TEST_LIB/image-attack.sh"

forged_all

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
