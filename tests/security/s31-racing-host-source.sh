#!/bin/sh
# S31 (runc CVE-2021-30465, the source side): a second sandbox that can write a parent
# directory of a mount source swaps that directory for a symlink and back
# (renameat2(RENAME_EXCHANGE)) in a loop while sandboxes start with `-v SRC:DST`,
# `--rootfs DIR --rootfs-rw`, a live workspace and an alias of the contract.  Every
# start either uses the directory named or is refused: the sentinel directory the
# symlink points at is never seen inside and never written; without the swapper each
# of them gets the right directory.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
H="$T/host"
mkdir -p "$H/shared/d/src" "$H/outside/src"
echo harmless >"$H/shared/d/src/marker"
echo SECRET >"$H/outside/src/marker"
mk_rootfs "$H/shared/d/root"
echo harmless >"$H/shared/d/root/marker"
mk_rootfs "$H/outside/root"
echo SECRET >"$H/outside/root/marker"
ln -s "$H/outside" "$H/shared/l"
before=$(cd "$H/outside" && find . -exec stat -c '%n %s %Y' {} + | sort | sha256sum)

# the attacker: what a sandbox with $H/shared mounted writable can do, exchanging the
# directory d and the symlink l without pause
cat >"$T/swap.py" <<'EOF'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
a, b, stop = (s.encode() for s in sys.argv[1:4])
while not os.path.exists(stop):
    for _ in range(1000):
        libc.renameat2(-100, a, -100, b, 2)  # AT_FDCWD, RENAME_EXCHANGE
EOF
swap_start() {
        rm -f "$T/stop"
        python3 "$T/swap.py" "$H/shared/d" "$H/shared/l" "$T/stop" &
        SWAPPER=$!
}
swap_stop() {
        touch "$T/stop"
        wait "$SWAPPER"
        # leave d a directory again
        [ -L "$H/shared/d" ] && python3 -c 'import ctypes,sys; ctypes.CDLL(None).renameat2(-100, sys.argv[1].encode(), -100, sys.argv[2].encode(), 2)' "$H/shared/d" "$H/shared/l"
        [ -d "$H/shared/d" ] && [ ! -L "$H/shared/d" ] || fail "the swapper left d a symlink"
}

secret_seen=0
attempt() { # WHAT ARGS...: one run; $OUT must never hold the outside's marker
        what=$1
        shift
        run_nook "$@"
        case "$OUT" in *SECRET*) secret_seen=$((secret_seen + 1)) && echo "LEAK: $what" >&2 ;; esac
        if [ "$RC" -eq 0 ]; then n_ok=$((n_ok + 1)); else n_refused=$((n_refused + 1)); fi
}

n_ok=0
n_refused=0
swap_start
i=0
while [ $i -lt 40 ]; do
        i=$((i + 1))
        attempt "-v" run --rootfs "$ROOT" -v "$H/shared/d/src:/data" -- cat /data/marker
        attempt "--rootfs-rw" run --rootfs "$H/shared/d/root" --rootfs-rw -- sh -c 'cat /marker; echo w >/written'
        attempt "--workspace" run --rootfs "$ROOT" --workspace "$H/shared/d/src:rw" -- cat /workspace/marker
done
# the contract's path: an alias the operator configured that goes through d
export NOOK_ALIASES="testroot=$ROOT;vol=$H/shared/d/src"
mounts='[{"mount_ref":"v","source_alias":"vol","destination_path":"/data","mode":"read_only"}]'
io='{"stdout":{"default_capture":"raw_content_if_policy_allows","max_bytes":65536}}'
i=0
while [ $i -lt 40 ]; do
        i=$((i + 1))
        env="$EID-a$i"
        echo "$env" >>"$T/envs"
        SENV="{\"environment_id\":\"$env\",\"spec\":{\"filesystem\":{\"root\":\"writable_layer\",\"mounts\":$mounts},\"io_policy\":$io}}"
        run_nook_in "{\"environment\":$SENV}" call prepare_session
        run_nook_in "{\"rootfs\":{\"rootfs_ref\":\"testroot\"},\"environment_id\":\"$env\"}" call prepare_rootfs
        run_nook_in "{\"environment\":$SENV}" call prepare_environment
        if [ "$RC" -eq 0 ]; then
                start_in '["cat","/data/marker"]' "" 10000
                case "$OUT" in *SECRET*) secret_seen=$((secret_seen + 1)) && echo "LEAK: alias" >&2 ;; esac
                n_ok=$((n_ok + 1))
        else
                n_refused=$((n_refused + 1))
        fi
        run_nook_in "{\"environment\":{\"environment_id\":\"$env\",\"spec\":{}},\"cleanup_plan_ref\":\"c\"}" call cleanup
done
swap_stop

assert_eq 0 "$secret_seen" "runs that saw the directory behind the swapped symlink"
[ ! -e "$H/outside/root/written" ] || fail "--rootfs-rw wrote into the directory behind the symlink"
after=$(cd "$H/outside" && find . -exec stat -c '%n %s %Y' {} + | sort | sha256sum)
assert_eq "$before" "$after" "the sentinel tree after the race"
ok "S31 raced: $n_ok runs used the directory named, $n_refused refused; the sentinel never seen nor written"

# the harmless case: the same runs without the swapper get the right directories
run_nook run --rootfs "$ROOT" -v "$H/shared/d/src:/data" -- cat /data/marker
assert_eq "0 harmless" "$RC $OUT" "-v without the race"
run_nook run --rootfs "$H/shared/d/root" --rootfs-rw -- sh -c 'cat /marker; echo w >/written'
assert_eq "0 harmless" "$RC $OUT" "--rootfs-rw without the race"
assert_eq w "$(cat "$H/shared/d/root/written")" "--rootfs-rw writes into the directory named"
run_nook run --rootfs "$ROOT" --workspace "$H/shared/d/src:rw" -- cat /workspace/marker
assert_eq "0 harmless" "$RC $OUT" "--workspace without the race"
# a symlink the user may not change (a root-owned directory) is followed as before
if [ -L /bin ] && [ "$(stat -c %u /)" = 0 ]; then
        run_nook run --rootfs "$ROOT" -v /bin/sh:/hostsh:ro -- test -f /hostsh
        assert_eq 0 "$RC" "-v through /bin (a symlink in a root-owned directory): $ERR"
fi
ok "S31 harmless: every source is the directory named"
