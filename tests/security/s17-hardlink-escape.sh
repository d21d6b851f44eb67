#!/bin/sh
# S17 (CVE-2014-6407): a hard link's target must be an entry this layer already extracted,
# inside the root: links to host files (by "..", by absolute name, through a symlinked
# parent), to later entries and to directories are refused; a link that names a symlink
# links the symlink itself; a regular entry that follows a link replaces it and never
# writes through it.  Sentinel dir outside the store: byte-identical, its file's link count
# still 1, nothing new in it; a refused import leaves the store unchanged.
. "$NOOK_TEST_LIB/lib.sh"
. "$NOOK_TEST_LIB/image-attack.sh"

forged_all

refused "$T/forged/s17-hardlink-escape.tar" "a hard link to an entry not extracted before it"
refused "$T/forged/s17-hardlink-forward.tar" "a hard link to an entry not extracted before it"
mk "$T/abs.tar" '[[HARD("keep", S + "/sentinel")]]'
refused "$T/abs.tar" "a hard link to an entry not extracted before it"
mk "$T/up.tar" '[[HARD("keep", UP + s + "/sentinel")]]'
refused "$T/up.tar" "a hard link to an entry not extracted before it"
mk "$T/via-symlink.tar" '[[SYM("t", S), HARD("h", "t/sentinel")]]'
refused "$T/via-symlink.tar" "a parent is a symlink"
mk "$T/via-up-symlink.tar" '[[SYM("t", UP + s), HARD("h", "t/sentinel")]]'
refused "$T/via-up-symlink.tar" "a parent is a symlink"
mk "$T/dest-via-symlink.tar" '[[F("f", b"in"), SYM("d", S), HARD("d/newlink", "f")]]'
refused "$T/dest-via-symlink.tar" "a parent is a symlink"
mk "$T/to-dir.tar" '[[D("dd"), HARD("hd", "dd")]]'
refused "$T/to-dir.tar" "a hard link to an entry not extracted before it"
ok "S17: hard links to host files, later entries and directories are refused"

# a link that names a symlink to the sentinel links the symlink, and the regular "hs"
# that follows replaces the link instead of writing through it
accepted "$T/forged/s17-hardlink-to-symlink.tar" tosym
[ -L "$L/s" ] || fail "s is a symlink"
assert_eq "$SENT/sentinel" "$(readlink "$L/s")" "s's target"
[ -f "$L/hs" ] && [ ! -L "$L/hs" ] || fail "hs is a regular file"
assert_eq pwned "$(cat "$L/hs")" "hs's content"
assert_eq 1 "$(stat -c %h "$L/hs")" "hs is no longer linked to anything"
run_nook run tosym -- sh -c 'cat /hs; echo; readlink /s'
assert_eq "pwned
$SENT/sentinel" "$OUT" "hs and s inside the sandbox ($ERR)"
ok "S17: a link to a symlink links the symlink; a regular entry after it replaces it"

# a link's own name is cleaned like any name: it lands inside, linked to its target
mk "$T/dest-up.tar" '[[F("srv/f", b"in\n"), HARD(UP + s + "/newlink", "srv/f"), HARD(S + "/newlink2", "srv/f"), F("srv/a", b"orig\n"), HARD("srv/b", "srv/a"), F("srv/b", b"new\n")]]'
accepted "$T/dest-up.tar" destup
for n in newlink newlink2; do
        [ -f "$L/$REL/$n" ] || fail "$n is not inside the layer"
        assert_eq "$(stat -c %i "$L/srv/f")" "$(stat -c %i "$L/$REL/$n")" "$n is linked to srv/f"
done
assert_eq 3 "$(stat -c %h "$L/srv/f")" "srv/f's links"
assert_eq "orig" "$(cat "$L/srv/a")" "srv/a after srv/b (its link) was replaced"
assert_eq "new" "$(cat "$L/srv/b")" "srv/b replaced"
assert_eq 1 "$(stat -c %h "$L/srv/a")" "srv/a's links"
run_nook run destup -- cat "/$REL/newlink" /srv/a /srv/b
assert_eq "in
orig
new" "$OUT" "the links inside the sandbox ($ERR)"
assert_eq "$SENT0" "$(sentinel_state)" "the sentinel dir after runs"
ok "S17"
