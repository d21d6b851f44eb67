#!/bin/sh
# The start path (docs/performance.md): nook loads no library it does not need to start
# (libarchive and what it pulls come with the first image import), and NOOK_TRACE_FD
# gives each stage of a run, in order, on the caller's fd only.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
cd "$T"

# 1. what the dynamic loader maps at every start (readelf: the NEEDED entries)
needed=$(readelf -d "$NOOK" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
assert_contains "$needed" "libsqlite3" "readelf lists the needed libraries"
for lib in libarchive libxml2 libicu libstdc++ liblzma libzstd; do
        assert_not_contains "$needed" "$lib" "$lib among the libraries of every start"
done
# loaded when an import needs it: an image archive still imports
python3 "$NOOK_SOURCE_ROOT/tests/images/mkimage.py" "$T/img" >/dev/null ||
        fail "mkimage.py could not build the test image"
run_nook --storage "$T/store" image import --quiet --name trace-img "$T/img/oci-archive.tar"
assert_eq 0 "$RC" "image import with libarchive loaded on demand ($ERR)"

# 2. the trace: each point once, in this order, on fd 9 and nowhere else
sh -c 'exec 9>"$1"; shift; NOOK_TRACE_FD=9 exec "$@"' sh "$T/trace" \
        "$NOOK" run --network none --rootfs "$ROOT" -- sh -c 'ls /proc/self/fd | tr "\n" " "' >"$T/out" 2>"$T/err"
assert_eq 0 "$?" "traced run ($(cat "$T/err"))"
assert_eq "0 1 2 3 " "$(cat "$T/out")" "the workload's fds (the trace fd is not one of them)"
points=$(sed 's/^[0-9]* [0-9]* //' "$T/trace" | grep -v '^journal' | tr '\n' '|')
expect='client start|call prepare_session {|clone|idmaps written|holder ready|call prepare_session }|'
expect="${expect}call prepare_rootfs {|call prepare_rootfs }|call prepare_environment {|call prepare_environment }|"
expect="${expect}call start_process {|call start_process }|exit seen|call cleanup {|holder kill|holder gone|"
expect="${expect}session dir rm|session dir gone|call cleanup }|"
assert_eq "$expect" "$points" "trace points of a run, in order"
opens=$(grep -c ' journal {$' "$T/trace")
closes=$(grep -c ' journal }$' "$T/trace")
[ "$opens" -gt 5 ] || fail "journal spans: $opens"
assert_eq "$opens" "$closes" "every journal span ends"
# one process, times that never go back
assert_eq 1 "$(awk '{print $2}' "$T/trace" | sort -u | wc -l)" "every line from the client"
awk 'NR > 1 && $1 < last { bad = 1 } { last = $1 } END { exit bad }' "$T/trace" ||
        fail "trace times go back"

# without the variable nothing is written; a bad value is ignored, the run goes on
: >"$T/trace2"
sh -c 'exec 9>"$1"; shift; exec "$@"' sh "$T/trace2" "$NOOK" run --network none --rootfs "$ROOT" -- true
assert_eq 0 "$?" "untraced run"
assert_eq 0 "$(wc -c <"$T/trace2")" "nothing traced without NOOK_TRACE_FD"
NOOK_TRACE_FD=notanfd "$NOOK" run --network none --rootfs "$ROOT" -- true
assert_eq 0 "$?" "a bad NOOK_TRACE_FD is ignored"
ok "start path"
