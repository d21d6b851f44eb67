# nook tests — an install of this build made as `meson install --destdir` would, by the
# test user (meson install itself writes its log into the build dir, which the test
# users cannot write): every file of meson's install plan
# (meson-info/intro-installed.json) copied to DEST + its installed path (the library's
# version symlinks, which the plan names without a source path, are not made).  Source
# it after lib.sh.
#
#   install_to DEST      sets PREFIX_SRC (the prefix as configured, e.g. /usr/local)
#                        and INSTALLED (DEST + that prefix)
install_to() {
        dest=$1
        : "${NOOK_BUILD_ROOT:?NOOK_BUILD_ROOT must name the build dir (meson test sets it)}"
        python3 - "$NOOK_BUILD_ROOT/meson-info/intro-installed.json" "$dest" <<'PY'
import json, os, shutil, sys
plan = json.load(open(sys.argv[1]))
for src, dst in plan.items():
    if not os.path.isfile(src):
        continue
    to = sys.argv[2] + dst
    os.makedirs(os.path.dirname(to), exist_ok=True)
    shutil.copy2(src, to)
PY
        PREFIX_SRC=$(python3 -c '
import json, os, sys
plan = json.load(open(sys.argv[1]))
nook = [d for s, d in plan.items() if os.path.basename(s) == "nook" and "/src/" in s][0]
print(os.path.dirname(os.path.dirname(nook)))' "$NOOK_BUILD_ROOT/meson-info/intro-installed.json")
        INSTALLED=$dest$PREFIX_SRC
        [ -x "$INSTALLED/bin/nook" ] || fail "the install plan has no bin/nook under $PREFIX_SRC"
}
