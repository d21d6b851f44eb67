#!/bin/sh
# S34 (cgroup v2 semantics): the limits of a session hold for every process in it, not
# only for the started command's own tree.  Double-forked children beyond --pids-limit
# are refused or killed; memory held by a reparented process, and files written into
# the root's tmpfs, count against --memory (host Shmem grows by at most the limit); a
# capture log stops at the io policy's max_bytes (with a marker, or the process is
# killed); --disk bounds the writable layer (a tmpfs size on a directory root, a
# watchdog on an image's on-disk layer); `nook stats` reports the writable layer's
# real bytes, for an image session as well.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
MIB=1048576

# The session's workload processes as the host sees them: the holder's descendants
# that are not nook's own helpers (the holder, monitors, the workloads' init, and
# fuse-overlayfs, which runs from a memfd).
workload_count() {
        h=$("$NOOK" session inspect "$1" --json | json_query 'j["holder_pid"]')
        n=0
        for p in $(tree_of "$h"); do
                c=$(cat "/proc/$p/comm" 2>/dev/null || true)
                case "$c" in nook-holder | nook-init | nook-monitor | fuse-overlayfs | memfd:fuse-over* | "") ;; *) n=$((n + 1)) ;; esac
        done
        echo "$n"
}

# poll_count NAME MAX: waits (up to 3 s) until the session has at most MAX workload
# processes; prints the last count.
poll_count() {
        i=0
        while :; do
                n=$(workload_count "$1")
                if [ "$n" -le "$2" ] || [ $i -ge 30 ]; then
                        echo "$n"
                        return
                fi
                i=$((i + 1))
                sleep 0.1
        done
}

rm_session() {
        "$NOOK" session rm "$1" >/dev/null 2>&1 || fail "removing session $1"
}

# ---- processes -------------------------------------------------------------------------

# 40 double-forked sleeps (each reparented to the session's init at once) under a
# limit of 5: the old per-tree watchdog never saw them.  Prints how many are left.
fork_loop() { # NAME [run options...]
        local name=$1
        shift
        run_nook run -d --name "$name" --pids-limit 5 "$@" --rootfs "$ROOT" -- \
                sh -c 'for i in $(seq 40); do (sleep 60 &) 2>/dev/null; done; sleep 60'
        [ "$RC" -eq 0 ] || fail "starting the fork loop ($*): $ERR"
        sleep 1.5
        workload_count "$name"
}
n=$(fork_loop "p$$")
[ "$n" -le 5 ] || fail "S34: $n processes alive in a session with --pids-limit 5 (double-forked children survived)"
rm_session "p$$"
ok "S34: 40 double-forked children under --pids-limit 5: $n processes left"

# the same under another uid of the subordinate range, where nook's own helpers do not
# share the kernel's per-uid count
if grep -q "^$(id -un):" /etc/subuid 2>/dev/null; then
        n=$(fork_loop "q$$" -u 1)
        [ "$n" -le 5 ] || fail "S34: $n processes of uid 1 alive under --pids-limit 5"
        rm_session "q$$"
        ok "S34: double forks as uid 1 under --pids-limit 5: $n processes left"
fi

# the harmless case: forks within the limit work
run_nook run --pids-limit 5 --rootfs "$ROOT" -- sh -c '(sleep 0.2 &); (true &); echo fine'
assert_eq "0 fine" "$RC $OUT" "forks within --pids-limit ($ERR)"
ok "S34: forks within the limit work"

# ---- memory ------------------------------------------------------------------------------

# 64 MiB held by a grandchild whose parent exited (reparented to the session's init)
run_nook run -d --name "m$$" --memory 32m --rootfs "$ROOT" -- nook-probe hog 64 detach
[ "$RC" -eq 0 ] || fail "starting the reparented hog: $ERR"
n=$(poll_count "m$$" 0)
assert_eq 0 "$n" "S34: processes left after a reparented process held 64 MiB under --memory 32m"
rm_session "m$$"
ok "S34: a reparented process holding 64 MiB is killed under --memory 32m"

# the harmless case: 8 MiB, reparented, lives on under the same limit
run_nook run -d --name "n$$" --memory 32m --rootfs "$ROOT" -- nook-probe hog 8 detach
[ "$RC" -eq 0 ] || fail "starting the small hog: $ERR"
sleep 1
assert_eq 1 "$(workload_count "n$$")" "a reparented process holding 8 MiB under --memory 32m"
rm_session "n$$"

# the command's own memory, as before
run_nook run --memory 32m --rootfs "$ROOT" -- nook-probe hog 64
assert_eq 137 "$RC" "a command holding 64 MiB under --memory 32m ($OUT $ERR)"
assert_contains "$ERR" "memory" "the reason the command was killed"
ok "S34: the command itself is killed above --memory"

# 64 MiB of files written into / (the writable layer's tmpfs): ENOSPC or a kill, and
# host Shmem (tmpfs pages) grows by at most the limit (plus slack for other users) while
# the session, and so its files, are still there
shmem() { sed -n 's/^Shmem: *\([0-9]*\) kB$/\1/p' /proc/meminfo; }
before=$(shmem)
run_nook run -d --name "t$$" --memory 32m --rootfs "$ROOT" -- \
        sh -c 'dd if=/dev/zero of=/big bs=1M count=64 2>/dev/null; stat -c "size %s" /big; sleep 60'
[ "$RC" -eq 0 ] || fail "starting the tmpfs writer: $ERR"
P=$(printf '%s\n' "$OUT" | sed -n 2p)
sleep 2
grow=$(($(shmem) - before))
run_nook logs "$P"
size=$(printf '%s\n' "$OUT" | sed -n 's/^size //p')
rm_session "t$$"
[ -z "$size" ] || [ "$size" -le $((32 * MIB)) ] ||
        fail "S34: a $size-byte file was written into / under --memory 32m"
[ "$grow" -le $((48 * 1024)) ] || fail "S34: host Shmem grew by $grow KiB while / was filled under --memory 32m"
ok "S34: files in / count against --memory (file ${size:-killed} bytes, Shmem +$grow KiB)"

# ---- capture logs --------------------------------------------------------------------------

# session_with POLICY: a session whose stdout policy is max_bytes 4096 with POLICY
session_with() {
        SENV="{\"environment_id\":\"$1\",\"spec\":{\"filesystem\":{\"root\":\"writable_layer\"},\"io_policy\":{\"stdout\":{\"default_capture\":\"raw_content_if_policy_allows\",\"max_bytes\":4096,\"truncation_policy\":\"$2\"}}}}"
        echo "$1" >>"$T/envs"
        call_ok prepare_session "{\"environment\":$SENV,\"nook\":{\"identity\":\"auto\",\"network\":\"none\"}}"
        SREF=$(printf '%s\n' "$OUT" | json_query 'j')
        call_ok prepare_rootfs "{\"rootfs\":{\"rootfs_ref\":\"testroot\"},\"environment_id\":\"$1\"}"
        call_ok prepare_environment "{\"environment\":$SENV,\"nook\":{\"identity\":\"auto\",\"network\":\"none\"}}"
}
session_with "lm$EID" truncate_with_marker
run_in '["sh","-c","yes aaaaaaa | head -c 1000000; echo done >&2"]'
P=$(printf '%s\n' "$OUT" | json_query 'j["process_ref"]')
log="$(run_dir)/$SREF/p/$P/out"
bytes=$(wc -c <"$log")
[ "$bytes" -le 4352 ] || fail "S34: the capture log holds $bytes bytes (max_bytes 4096)"
tail -c 200 "$log" | grep -q "output truncated" || fail "S34: no marker at the end of the truncated log"
call_ok collect_stats "{\"process_ref\":\"$P\"}"
assert_eq 0 "$(printf '%s\n' "$OUT" | json_query 'j.get("exit_code")')" "the command goes on after its output was truncated"
session_down "lm$EID"
ok "S34: a capture log stops at max_bytes with a marker ($bytes bytes on disk)"

session_with "lf$EID" fail_if_exceeded
run_in '["sh","-c","yes aaaaaaa | head -c 1000000; sleep 5"]'
P=$(printf '%s\n' "$OUT" | json_query 'j["process_ref"]')
bytes=$(wc -c <"$(run_dir)/$SREF/p/$P/out")
[ "$bytes" -le 4352 ] || fail "S34: the capture log holds $bytes bytes (max_bytes 4096, fail_if_exceeded)"
call_ok collect_stats "{\"process_ref\":\"$P\"}"
assert_eq 137 "$(printf '%s\n' "$OUT" | json_query 'j.get("exit_code")')" "fail_if_exceeded: the process is killed"
session_down "lf$EID"
ok "S34: fail_if_exceeded kills the process ($bytes bytes on disk)"

# ---- the writable layer ---------------------------------------------------------------------

# a directory root: the writable layer's tmpfs is sized by --disk
run_nook run --disk 16m --rootfs "$ROOT" -- \
        sh -c 'dd if=/dev/zero of=/big bs=1M count=32 2>/dev/null; stat -c "size %s" /big'
[ "$RC" -eq 0 ] || [ "$RC" -eq 137 ] || fail "--disk on a directory root: exit $RC: $ERR"
size=$(printf '%s\n' "$OUT" | sed -n 's/^size //p')
[ -z "$size" ] || [ "$size" -le $((16 * MIB)) ] || fail "S34: a $size-byte file in / under --disk 16m"
ok "S34: --disk bounds a directory root's writable layer (${size:-killed} bytes)"

# an image: the writable layer is on disk, under the data dir
tar -C "$ROOT" -cf "$T/root.tar" .
run_nook image import --name s34 "$T/root.tar"
[ "$RC" -eq 0 ] || fail "importing the rootfs as an image: $ERR"
run_nook run -d --name "d$$" --disk 16m s34 -- sh -c \
        'i=0; while [ $i -lt 64 ]; do dd if=/dev/zero of=/f$i bs=1M count=1 2>/dev/null; i=$((i+1)); sleep 0.05; done; sleep 60'
[ "$RC" -eq 0 ] || fail "starting the image writer: $ERR"
sleep 5
upper=$("$NOOK" session inspect "d$$" --json | json_query 'j["writable_layer"]')
[ -d "$upper" ] || fail "the image session's writable layer '$upper'"
kib=$(du -sk "$upper" | cut -f1)
[ "$kib" -le $((24 * 1024)) ] || fail "S34: the image's writable layer holds $kib KiB under --disk 16m"
assert_eq 0 "$(workload_count "d$$")" "the writer is killed once its layer is over --disk"
rm_session "d$$"
ok "S34: --disk bounds an image's on-disk writable layer ($kib KiB)"

# ---- stats ----------------------------------------------------------------------------------

for root in "s34" "--rootfs $ROOT"; do
        # shellcheck disable=SC2086 # the root is one or two words on purpose
        run_nook run -d --name "w$$" $root -- sh -c 'dd if=/dev/zero of=/f20 bs=1M count=20 2>/dev/null; sleep 60'
        [ "$RC" -eq 0 ] || fail "starting the 20 MB writer ($root): $ERR"
        P=$(printf '%s\n' "$OUT" | sed -n 2p)
        i=0
        while :; do
                run_nook stats --json "$P"
                fs=$(printf '%s\n' "$OUT" | json_query 'j.get("filesystem_bytes", 0)')
                [ "$fs" -ge 20000000 ] || [ $i -ge 30 ] || {
                        i=$((i + 1))
                        sleep 0.1
                        continue
                }
                break
        done
        [ "$fs" -ge $((20 * MIB)) ] || fail "S34: nook stats reports $fs bytes written for a 20 MiB file ($root)"
        rm_session "w$$"
        ok "S34: nook stats reports the writable layer ($root: $fs bytes)"
done
