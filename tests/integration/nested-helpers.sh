#!/bin/sh
# The helpers (nook-holder, nook-netd, nook-portfwd) are found relative to the nook that
# runs, with no path compiled in: an install moved elsewhere as a whole works, as does a
# copy of the build tree; NOOK_HELPERS_DIR overrides; a helper others could change, or a
# symlink in its place, is refused; none found is an error naming where nook looked.
. "$NOOK_TEST_LIB/lib.sh"
. "$NOOK_TEST_LIB/install.sh"
mk_rootfs "$ROOT"
unset NOOK_HELPERS_DIR

# holder_exe NOOK: prepares a session with that nook, prints its holder's program (we
# own its user namespace, so /proc/<pid>/exe is ours to read) and removes the session.
holder_exe() { # (in a subshell: NOOK is changed)
        NOOK=$1
        session_up "$EID-h"
        readlink "/proc/$(holder_pid "$SREF")/exe"
        session_down "$EID-h"
}

# 1. installed as meson installs it, then the whole prefix moved somewhere else
install_to "$T/dest"
mv "$INSTALLED" "$T/moved"
run_nook_with() { # NOOK ARGS...
        n=$1
        shift
        set +e
        "$n" "$@" >"$T/out" 2>"$T/err"
        RC=$?
        set -e
        OUT=$(cat "$T/out")
        ERR=$(cat "$T/err")
}
run_nook_with "$T/moved/bin/nook" run --network none --rootfs "$ROOT" -- /bin/sh -c 'echo relocated'
assert_eq 0 "$RC" "a relocated install runs ($ERR)"
assert_eq relocated "$OUT" "a relocated install's output"
assert_eq "$T/moved/libexec/nook/nook-holder" "$(holder_exe "$T/moved/bin/nook")" "the relocated nook's holder"
ok "a relocated install finds its own helpers (libexec/nook beside bin/)"

# 1b. a program linking the relocated libnook.so (python3's ctypes): the helpers of the
# library's own install (libexec/nook from lib/<triplet>/), not of python3's dir
echo "$EID-lib" >>"$T/envs"
lib=$(ls "$T/moved/lib/"*/libnook.so.0.*)
# a sanitizer build's library needs its runtime loaded first (./dev test's build-asan)
preload=$(ldd "$lib" | awk '/lib(asan|ubsan)\.so/ { printf "%s%s", sep, $3; sep = ":" }')
LD_PRELOAD=$preload ASAN_OPTIONS=detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS} \
        python3 - "$lib" "$EID-lib" >"$T/lib.out" 2>&1 <<'PY' || fail "libnook.so: $(tail -1 "$T/lib.out")"
import ctypes, os, sys
lib = ctypes.CDLL(sys.argv[1])
P = ctypes.POINTER
lib.nook_runtime_open.argtypes = [ctypes.c_void_p, P(ctypes.c_void_p), P(ctypes.c_void_p)]
lib.nook_runtime_call.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, P(ctypes.c_char_p), P(ctypes.c_void_p)]
rt, err, out = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_char_p()
assert lib.nook_runtime_open(None, ctypes.byref(rt), ctypes.byref(err)) == 0, "nook_runtime_open"
env = '{"environment_id":"%s","spec":{}}' % sys.argv[2]
r = lib.nook_runtime_call(rt, b"prepare_session", ('{"environment":%s,"nook":{"network":"none"}}' % env).encode(),
                          ctypes.byref(out), ctypes.byref(err))
assert r == 0, "prepare_session: %d %s" % (r, out.value)
print(out.value.decode())
PY
SREF=$(json_query 'j' <"$T/lib.out")
assert_eq "$T/moved/libexec/nook/nook-holder" "$(readlink "/proc/$(holder_pid "$SREF")/exe")" \
        "the holder started through libnook.so"
session_down "$EID-lib"
ok "a program linking a relocated libnook.so finds the helpers of the library's install"

# 2. a copy of the build tree (src/nook, helpers/)
mkdir -p "$T/tree/src" "$T/tree/helpers"
cp "$NOOK" "$T/tree/src/nook"
cp "$T/moved/libexec/nook/"nook-* "$T/tree/helpers/"
run_nook_with "$T/tree/src/nook" run --network none --rootfs "$ROOT" -- /bin/sh -c 'echo tree'
assert_eq "0 tree" "$RC $OUT" "a copied build tree runs ($ERR)"
assert_eq "$T/tree/helpers/nook-holder" "$(holder_exe "$T/tree/src/nook")" "the copied tree's holder"
ok "a copy of the build tree finds helpers/ beside src/"

# 3. NOOK_HELPERS_DIR stays an override
assert_eq "$T/tree/helpers/nook-holder" "$(
        export NOOK_HELPERS_DIR="$T/tree/helpers"
        holder_exe "$T/moved/bin/nook"
)" \
        "the holder with NOOK_HELPERS_DIR"
ok "NOOK_HELPERS_DIR overrides"

# 4. no path of the build or of the configured prefix is compiled in: a stripped copy
# (what a package installs) names neither
strip -o "$T/stripped" "$NOOK"
strip -o "$T/stripped-lib" "$T/moved/lib/"*/libnook.so.0.*
for f in "$T/stripped" "$T/stripped-lib"; do
        if strings "$f" | grep -F -e "$NOOK_BUILD_ROOT" -e "$PREFIX_SRC/libexec"; then
                fail "$f names the build dir $NOOK_BUILD_ROOT or $PREFIX_SRC/libexec"
        fi
done
ok "no build path or libexec path compiled in"

# 5. a helper others could change is refused, as is a symlink in its place
cp -a "$T/moved" "$T/bad"
chmod o+w "$T/bad/libexec/nook/nook-holder"
run_nook_with "$T/bad/bin/nook" run --network none --rootfs "$ROOT" -- /bin/sh -c 'echo ran'
assert_eq 125 "$RC" "exit code with a world-writable holder"
assert_contains "$ERR" "refusing the helper " "the refusal"
assert_contains "$ERR" "bad/bin/../libexec/nook/nook-holder: writable by anyone" "what is wrong with it"
assert_not_contains "$OUT" ran "the workload"
chmod o-w "$T/bad/libexec/nook/nook-holder"
mv "$T/bad/libexec/nook/nook-holder" "$T/bad/holder-elsewhere"
ln -s "$T/bad/holder-elsewhere" "$T/bad/libexec/nook/nook-holder"
run_nook_with "$T/bad/bin/nook" run --network none --rootfs "$ROOT" -- /bin/sh -c 'echo ran'
assert_eq 125 "$RC" "exit code with a symlink for the holder"
assert_contains "$ERR" "refusing the helper " "the refusal of a symlink"
assert_contains "$ERR" "nook/nook-holder: a symbolic link" "why"
ok "a helper others could change, or a symlink, is refused"

# 6. a helper missing from the install is not looked for elsewhere (a helpers/ dir
# someone made beside bin/), and none found names where nook looked, and what to do
rm "$T/bad/libexec/nook/nook-holder"
mkdir "$T/bad/helpers"
cp "$T/moved/libexec/nook/nook-holder" "$T/bad/helpers/"
run_nook_with "$T/bad/bin/nook" run --network none --rootfs "$ROOT" -- /bin/sh -c 'echo ran'
assert_eq 125 "$RC" "exit code with a holder missing from the install"
assert_contains "$ERR" "finding the helper nook-holder: not in " "the helper missing"
assert_contains "$ERR" "bad/bin/../libexec/nook" "where nook looked"
assert_not_contains "$ERR" "bad/bin/../helpers" "a build tree's helpers/ beside an install"
assert_contains "$ERR" "NOOK_HELPERS_DIR" "the hint"
rm -r "$T/bad/libexec/nook" "$T/bad/helpers"
run_nook_with "$T/bad/bin/nook" run --network none --rootfs "$ROOT" -- /bin/sh -c 'echo ran'
assert_eq 125 "$RC" "exit code without helpers"
assert_contains "$ERR" "bad/bin/../libexec/nook nor in " "where nook looked first"
assert_contains "$ERR" "bad/bin/../helpers" "where nook looked then"
ok "missing helpers are named with where nook looked, never taken from another layout"
