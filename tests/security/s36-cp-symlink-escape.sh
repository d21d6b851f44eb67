#!/bin/sh
# nook cp cannot be turned against the host: a workload plants symlinks (absolute,
# ../.. climbing past the root, a symlinked parent directory, a symlink as the final
# name, symlinks on the host side of a shared -v directory) and swaps a directory for a
# symlink in a loop while cp runs.  Copies out never read the host sentinel, copies in
# never write next to it, and the sentinel directory is unchanged; without the traps
# the same copies work (positive control).
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
H="$T/host"
mkdir -p "$H/victim" "$H/shared" "$T/got" "$ROOT/work/race/x"
echo HOST-SECRET >"$H/victim/sentinel"
echo inside >"$ROOT/work/race/x/sentinel"
echo copied-in >"$T/in.txt"
snapshot() { (cd "$H/victim" && find . -exec stat -c '%n %s %Y %a %F' {} + | sort | sha256sum); }
before=$(snapshot)
name="cp-$$"
run_nook run -d --name "$name" --rootfs "$ROOT" --rootfs-rw -v "$H/shared:/shared" sh -c "
        mkdir -p /tmp/d && echo inside >/tmp/d/sentinel &&
        ln -s $H/victim /tmp/abs && ln -s ../../../../../../../../..$H/victim /tmp/rel &&
        ln -s $H/victim/sentinel /tmp/filelink && ln -s /tmp/abs /tmp/chain &&
        ln -s $H/victim /shared/d && ln -s $H/victim/sentinel /shared/plantedfile && sleep 600"
assert_eq 0 "$RC" "run -d: $ERR"
echo "$name" >>"$T/envs"
for i in $(seq 50); do [ -L "$H/shared/plantedfile" ] && break; sleep 0.1; done

# positive control: the copies work where nothing is planted
run_nook cp "$name:/tmp/d/sentinel" "$T/got/plain"
assert_eq 0 "$RC" "cp out: $ERR"
assert_eq inside "$(cat "$T/got/plain")" "copied out"
run_nook cp "$T/in.txt" "$name:/tmp/d/"
assert_eq 0 "$RC" "cp in: $ERR"
run_nook exec "$name" cat /tmp/d/in.txt
assert_eq copied-in "$OUT" "copied in"
ok "cp in and out work (control)"

nothing_out() { # what
        # regular files only: a symlink copied as a symlink may name the host path
        assert_not_contains "$(find "$T/got" -type f -exec cat {} +)" HOST-SECRET "$1: host sentinel read"
        assert_eq "$before" "$(snapshot)" "$1: host sentinel dir changed"
}
# out, through links that point at the host path: resolved inside the session, where it is absent
for src in /tmp/abs/sentinel /tmp/rel/sentinel /tmp/chain/sentinel; do
        run_nook cp "$name:$src" "$T/got/x"
        assert_eq 125 "$RC" "cp out $src"
        [ ! -e "$T/got/x" ] || fail "cp out $src wrote $(cat "$T/got/x")"
        nothing_out "cp out $src"
done
run_nook cp "$name:/tmp/filelink" "$T/got/link"
assert_eq 0 "$RC" "cp out of a symlink: $ERR"
[ -L "$T/got/link" ] || fail "a symlink is copied as a symlink"
nothing_out "cp out of a symlink"
run_nook cp "$name:/tmp" "$T/got/"
assert_eq 0 "$RC" "cp out a directory with links: $ERR"
nothing_out "cp out a directory with links"
rm -rf "$T/got/tmp" "$T/got/link"
ok "cp out: absolute, ../.. and chained symlinks stay inside the session"

# in, through a symlinked parent, onto a symlink, and a directory over a symlinked dir
for dst in /tmp/abs/ /tmp/rel/new /tmp/chain/ /tmp/filelink /tmp/abs/sentinel; do
        run_nook cp "$T/in.txt" "$name:$dst"
        assert_eq 125 "$RC" "cp in to $dst"
        nothing_out "cp in to $dst"
done
mkdir -p "$T/src/abs" && echo copied-in >"$T/src/abs/sentinel"
run_nook cp "$T/src/abs" "$name:/tmp/"
assert_eq 125 "$RC" "cp in a directory over a symlinked one"
nothing_out "cp in a directory over a symlinked one"
ok "cp in: symlinked parents and final symlinks never lead out"

# the host side of a shared directory: links the workload planted are never followed
run_nook cp "$name:/tmp/d/sentinel" "$H/shared/plantedfile"
assert_eq 125 "$RC" "cp out onto a planted host symlink"
nothing_out "cp out onto a planted host symlink"
run_nook cp "$name:/tmp/d" "$H/shared/"
assert_eq 125 "$RC" "cp out a directory onto a planted host symlink to a directory"
nothing_out "cp out a directory onto a planted host symlink"
run_nook cp "$name:/tmp/d/sentinel" "$H/shared/d/"
assert_eq 125 "$RC" "cp out into a planted host symlink to a directory"
nothing_out "cp out into a planted host symlink to a directory"
[ -L "$H/shared/plantedfile" ] && [ -L "$H/shared/d" ] || fail "the planted links were replaced"
ok "cp out: symlinks planted on the host side are not followed"

# a racing swap: x is a directory, then a symlink to the host dir, and back, without
# pause (what the workload can do in its own root: here on the --rootfs-rw dir)
ln -s "$H/victim" "$ROOT/work/race/l"
cat >"$T/swap.py" <<'PY'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
a, b, stop = (s.encode() for s in sys.argv[1:4])
while not os.path.exists(stop):
    for _ in range(1000):
        libc.renameat2(-100, a, -100, b, 2)  # AT_FDCWD, RENAME_EXCHANGE
PY
python3 "$T/swap.py" "$ROOT/work/race/x" "$ROOT/work/race/l" "$T/stop" &
swapper=$!
good=0
for i in $(seq 20); do
        rm -f "$T/got/r"
        run_nook cp "$name:/work/race/x/sentinel" "$T/got/r"
        if [ "$RC" = 0 ]; then
                assert_eq inside "$(cat "$T/got/r")" "racing cp out"
                good=$((good + 1))
        fi
        run_nook cp "$T/in.txt" "$name:/work/race/x/"
        nothing_out "racing cp, round $i"
done
touch "$T/stop"
wait "$swapper"
echo "racing copies out that found the directory: $good of 20"
ok "cp in and out while a directory is swapped for a symlink to the host"
