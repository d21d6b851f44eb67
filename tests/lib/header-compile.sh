#!/bin/sh
# Compiles each public header alone: pedantic C99 and C11, and as C++ when a C++
# compiler is around. Usage: header-compile.sh INCLUDE_DIR CC [CC ARGS...]
set -eu
inc=$1
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
for h in "$inc"/nook/*.h; do
        name=nook/$(basename "$h")
        printf '#include "%s"\n#include "%s"\nint main(void) { return 0; }\n' "$name" "$name" >"$tmp/t.c"
        for std in c99 c11; do
                "$@" -std=$std -Wall -Wextra -pedantic -Werror -I"$inc" -c "$tmp/t.c" -o "$tmp/t.o" ||
                        { echo "FAIL: $name does not compile alone with -std=$std"; exit 1; }
        done
        n=$((n + 1))
        echo "ok - $name compiles alone (c99, c11)"
done
[ "$n" -gt 0 ] || { echo "FAIL: no headers found in $inc"; exit 1; }
