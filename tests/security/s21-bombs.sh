#!/bin/sh
# S21 (CVE-2023-25153, CVE-2022-2879): decompression bombs and pathological tars end in a
# clean error, with nothing left behind: a gzip layer of 4 GiB of zeros stops at the
# expanded-bytes cap (its declared size, or what comes out) and, with that cap far away,
# at the compression-ratio cap; 300,000 entries stop at the entries cap; a 64 MiB pax
# header is refused or read within bounds, never a crash, with a sane peak memory.  Each
# time: exit 125 naming the cap, the store unchanged, no staging dir, little disk used.
# Small caps come from the environment (NOOK_LIMIT_LAYER_BYTES, _ENTRIES, _RATIO) so that
# the test stays fast.
. "$NOOK_TEST_LIB/lib.sh"
. "$NOOK_TEST_LIB/image-attack.sh"

for c in s21-gzip-bomb s21-many-entries s21-huge-header; do
        python3 "$IMAGES/forge.py" "$c" "$T/forged" --sentinel "$SENT" >/dev/null || fail "forge.py $c"
done
# the store exists and lacks the base layer every forged image carries
mkdir -p "$T/tiny/etc"
echo tiny >"$T/tiny/etc/tiny"
tar -C "$T/tiny" -czf "$T/tiny.tar.gz" etc
run_nook image import --name tiny "$T/tiny.tar.gz"
assert_eq 0 "$RC" "importing a tiny rootfs tarball: $ERR"

# capped ENV-ASSIGNMENTS ARCHIVE PHRASE: the import, run with those limits, is refused
# (125) naming the cap; store and sentinel unchanged; the data dir stays small.
capped() {
        limits=$1
        shift
        (
                for a in $limits; do export "${a?}"; done
                refused "$@"
        ) || exit 1
        used=$(du -sk "$STORE" | cut -f1)
        [ "$used" -lt 16384 ] || fail "$(basename "$2"): the data dir holds $used KiB after a refused import"
}
capped "NOOK_LIMIT_LAYER_BYTES=64M NOOK_LIMIT_LAYER_RATIO=1000000" "$T/forged/s21-gzip-bomb.tar" \
        "expands past 67108864 bytes (NOOK_LIMIT_LAYER_BYTES)"
ok "S21: a gzip bomb stops at the expanded-bytes cap"
# the bytes cap above the 4 GiB the file declares (a broken ratio cap then costs 4 GiB
# of disk for a moment, no more)
capped "NOOK_LIMIT_LAYER_BYTES=5G" "$T/forged/s21-gzip-bomb.tar" "decompression bomb (NOOK_LIMIT_LAYER_RATIO)"
ok "S21: a gzip bomb stops at the default compression-ratio cap, the bytes cap far away"
capped "NOOK_LIMIT_LAYER_ENTRIES=20000" "$T/forged/s21-many-entries.tar" \
        "more than 20000 entries (NOOK_LIMIT_LAYER_ENTRIES)"
ok "S21: 300,000 entries stop at the entries cap"

# a 64 MiB pax header: refused, or imported with the name as it is; never a crash
before=$(store_state)
python3 - "$NOOK" "$T/forged/s21-huge-header.tar" "$T/huge" <<'PY' >"$T/huge.res" || fail "measuring the import"
import resource, subprocess, sys
nook, archive, out = sys.argv[1:]
with open(out + ".out", "wb") as o, open(out + ".err", "wb") as e:
    rc = subprocess.call([nook, "image", "import", "--name", "huge", archive], stdout=o, stderr=e)
print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)
PY
read -r rc mib <"$T/huge.res"
err=$(head -c 2000 "$T/huge.err")
case "$rc" in
125)
        assert_contains "$err" "too large" "the refusal of the huge header names it"
        assert_eq "$before" "$(store_state)" "the store after the huge header"
        ;;
0)
        run_nook run -w / huge -- sh -c 'cat /srv/h*'
        assert_eq "huge" "$OUT" "the member after the huge header ($ERR)"
        ;;
*) fail "the huge header: exit $rc (a crash?): $err" ;;
esac
[ "$(wc -c <"$T/huge.err")" -lt 4096 ] || fail "the huge header: $(wc -c <"$T/huge.err") bytes of error output"
[ "$mib" -lt 512 ] || fail "the huge header: peak memory $mib MiB"
assert_eq "" "$(ls -A "$STORE/images/tmp")" "staging left by the huge header"
assert_eq "$SENT0" "$(sentinel_state)" "the sentinel dir"
ok "S21: a 64 MiB pax header: exit $rc, peak memory $mib MiB"
