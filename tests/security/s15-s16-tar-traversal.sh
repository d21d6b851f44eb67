#!/bin/sh
# S15 (CVE-2014-9356): tar names with "..", absolute names, odd names and names cut by a
# NUL land inside the layer, cleaned and clamped to its root.  S16 (Charliecloud #819,
# umoci CVE-2021-29136, containerd CVE-2021-32760): a symlink in a parent is never
# followed (the layer is refused), "." and "/" never change type, no mode or time change
# goes through a symlink, and a symlink of one layer never leads a later layer out, with
# any rootfs driver.  Every hostile entry aims at a sentinel dir outside the store: it
# stays byte-identical with nothing new in it; a refused import leaves the store as it was.
. "$NOOK_TEST_LIB/lib.sh"
. "$NOOK_TEST_LIB/image-attack.sh"

forged_all

# ---- S15: names ----
accepted "$T/forged/s15-dotdot.tar" dotdot
assert_eq pwned "$(cat "$L/$REL/sentinel")" "UP/<sentinel> clamped to the layer root"
assert_eq pwned "$(cat "$L/x")" "a/../../../x clamped to x"
assert_eq "" "$(strays x)" "an x outside the layer"
run_nook run dotdot -- cat /x "/$REL/sentinel"
assert_eq 0 "$RC" "run dotdot: $ERR"
assert_eq "pwnedpwned" "$(echo "$OUT" | tr -d '\n')" "the clamped entries inside the sandbox"
assert_eq "$SENT0" "$(sentinel_state)" "the sentinel after a run"
ok "S15: '..' names clamped to the layer root"

accepted "$T/forged/s15-absolute.tar" absolute
assert_eq pwned "$(cat "$L/$REL/sentinel")" "an absolute name lands below the layer root"
assert_eq clamped "$(cat "$L/etc/abs-ok")" "/etc/abs-ok lands at etc/abs-ok"
assert_eq "" "$(strays abs-ok)" "an abs-ok outside the layer"
[ ! -e /etc/abs-ok ] || fail "/etc/abs-ok exists on the host"
ok "S15: absolute names relative to the layer root"

accepted "$T/forged/s15-long-and-odd.tar" odd
for f in srv/double-slash srv/file-dot srv/dot-in-middle "srv/new
line"; do
        [ -f "$L/$f" ] && [ ! -L "$L/$f" ] || fail "odd name: $f is not a file of the layer"
done
[ -d "$L/srv/trailing-dot" ] || fail "odd name: srv/trailing-dot/. is not a dir of the layer"
long=$(cd "$L" && find srv/long -type f)
[ "${#long}" -eq 4000 ] || fail "the 4000-byte name: ${#long} bytes found ($long)"
assert_eq long "$(cd "$L" && cat "$long")" "the 4000-byte name's content"
run_nook run odd -- cat /srv/dot-in-middle "/$long"
assert_eq "x
long" "$OUT" "odd names inside the sandbox ($ERR)"
ok "S15: '//', '/./', trailing '.', a newline and a 4000-byte name land where they say, inside"

mk "$T/nul.tar" '[[(lambda e: (e[0].pax_headers.__setitem__("path", "srv/nul\0/" + UP + s + "/sentinel"), e)[1])(F("srv/nul", b"pwned"))]]'
run_nook image import --name nul "$T/nul.tar"
case "$RC" in
0)
        accepted "$T/nul.tar" nul
        assert_eq pwned "$(cat "$L/srv/nul")" "a name cut at its NUL"
        assert_eq 1 "$(cd "$L" && find . -type f | wc -l)" "one file in the layer, at the cut name"
        ;;
125) assert_eq "$SENT0" "$(sentinel_state)" "the sentinel after a refused NUL name" ;;
*) fail "a name with a NUL: exit $RC ($ERR)" ;;
esac
mk "$T/long-component.tar" '[[F("srv/" + "c" * 300, b"pwned")]]'
refused "$T/long-component.tar" "name too long"
mk "$T/long-path.tar" '[[F("srv/" + "/".join(["d" * 200] * 21) + "/f", b"pwned")]]'
refused "$T/long-path.tar" "name too long"
ok "S15: a NUL cuts the name (inside); names too long for Linux are refused"

# ---- S16: symlinks ----
refused "$T/forged/s16-symlink-parent.tar" "a parent is a symlink"
refused "$T/forged/s16-symlink-replace-dir.tar" "a parent is a symlink"
refused "$T/forged/s16-dot-type-change.tar" "the layer root would change type"
mk "$T/root-symlink.tar" '[[SYM("srv/..", S), F("sentinel", b"pwned")]]'
refused "$T/root-symlink.tar" "the layer root would change type"
mk "$T/root-file.tar" '[[F("srv/..", b"pwned")]]'
refused "$T/root-file.tar" "the layer root would change type"
mk "$T/dir-through-link.tar" '[[SYM("e", S), D("e/newdir")]]'
refused "$T/dir-through-link.tar" "a parent is a symlink"
mk "$T/whiteout-through-link.tar" '[[SYM("w", S), F("w/.wh.sentinel")]]'
refused "$T/whiteout-through-link.tar" "a parent is a symlink"
mk "$T/fifo-through-link.tar" '[[SYM("p", S), FIFO("p/newfifo")]]'
refused "$T/fifo-through-link.tar" "a parent is a symlink"
mk "$T/link-through-link.tar" '[[SYM("l", S), SYM("l/newlink", "/")]]'
refused "$T/link-through-link.tar" "a parent is a symlink"
mk "$T/deep-link.tar" '[[D("a"), D("a/b"), SYM("a/b/c", "../../" + UP + s), F("a/b/c/sentinel", b"pwned")]]'
refused "$T/deep-link.tar" "a parent is a symlink"
ok "S16: nothing is created through a symlinked parent; '.' and '/' keep their type"

# a directory's deferred mode and time must not reach the symlink that replaced it, nor
# what the symlink points to (the sentinel dir, 0755, would become 0700); a symlink that
# a directory replaces is gone, not followed
mk "$T/mode-through-link.tar" '[[D("m", mode=0o700), D("m/sub", mode=0o700), SYM("m", S), SYM("n", S), D("n", mode=0o700), F("n/inside", b"in\n")]]'
accepted "$T/mode-through-link.tar" modelink
[ -L "$L/m" ] || fail "m is the symlink that replaced the directory"
assert_eq "$SENT" "$(readlink "$L/m")" "m's target"
[ -d "$L/n" ] && [ ! -L "$L/n" ] || fail "n is the directory that replaced the symlink"
assert_eq in "$(cat "$L/n/inside")" "a file in the directory that replaced a symlink"
assert_eq 755 "$(stat -c %a "$SENT")" "the sentinel dir's mode"
ok "S16: no mode or time change goes through a symlink of the layer"

# across layers: layer 1 plants symlinks to the sentinel, layer 2 writes below and over
# them; every driver merges them inside the root
mk "$T/cross.tar" '[[SYM("srv/x", S), SYM("srv/y", S + "/sentinel"), SYM("srv/z", UP + s)], [D("srv/x"), F("srv/x/sentinel", b"pwned-x"), F("srv/y", b"pwned-y"), D("srv/z"), F("srv/z/sentinel", b"pwned-z")]]'
accepted "$T/cross.tar" cross
for driver in overlay fuse-overlayfs copy; do
        run_nook run --rootfs-driver "$driver" cross -- sh -c 'cat /srv/x/sentinel /srv/y /srv/z/sentinel; echo; for l in x y z; do test -L /srv/$l && echo "$l is a link"; done; echo end'
        assert_eq 0 "$RC" "run cross with $driver: $ERR"
        assert_eq "pwned-xpwned-ypwned-z
end" "$OUT" "layer 2's entries replace layer 1's symlinks ($driver)"
        assert_eq "$SENT0" "$(sentinel_state)" "the sentinel after a run with $driver"
done
ok "S16: a later layer never writes through an earlier layer's symlink (overlay, fuse-overlayfs, copy)"
assert_eq "" "$(strays sentinel)" "a file called sentinel outside the layers"
ok "S15-S16"
