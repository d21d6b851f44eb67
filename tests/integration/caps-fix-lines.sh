#!/bin/sh
# Fix lines are runnable as printed (issue 14): the subuid range `nook caps` offers
# overlaps no line of /etc/subuid or /etc/subgid, and the outer container's flags are
# those of the engine nook runs in (podman's or docker's, from its markers).
. "$NOOK_TEST_LIB/lib.sh"

remedy() { # NAME < report
        json_query "[f.get(\"remedy\") or \"\" for f in j[\"findings\"] if f[\"name\"]==\"$1\"][0]"
}

# 1. subuid: a user without a (big enough) range is offered one that is free; a user
# with one is offered nothing.
"$NOOK" caps >"$T/caps.txt"
"$NOOK" caps --json >"$T/caps.json"
sub_ok=$(json_query '[f["ok"] for f in j["findings"] if f["name"]=="subuid"][0]' <"$T/caps.json")
user=$(id -un)
fix=$(grep -A1 'subordinate id ranges' "$T/caps.txt" | sed -n 's/^    fix: //p')
if [ "$sub_ok" = true ]; then
        assert_eq "" "$fix" "no subuid fix for a user with a range"
        ok "subuid: $user has a range, no fix offered"
elif [ -z "$(printf '%s\n' "$fix" | grep -e '--add-subuids')" ]; then
        # the ranges are there (newuidmap is what is missing): no range is offered
        grep -q -E "^($user|$(id -u)):" /etc/subuid || fail "no range offered to $user, who has none: $fix"
        [ -n "$fix" ] || fail "the failing subuid finding has no fix"
        ok "subuid: $user has ranges; fix: $fix"
else
        assert_contains "$fix" "usermod --add-subuids " "the subuid fix (a line for the administrator)"
        assert_contains "$fix" " $user" "the fix names the user"
        range=$(printf '%s\n' "$fix" | sed -n 's/.*--add-subuids \([0-9]*-[0-9]*\) --add-subgids \([0-9]*-[0-9]*\) .*/\1 \2/p')
        [ -n "$range" ] || fail "no range in: $fix"
        set -- $range
        assert_eq "$1" "$2" "the same range for uids and gids"
        overlap=$(python3 -c '
import sys
lo, hi = (int(x) for x in sys.argv[1].split("-"))
bad = []
for path in ("/etc/subuid", "/etc/subgid"):
    try:
        lines = open(path).read().splitlines()
    except OSError:
        continue
    for l in lines:
        p = l.split(":")
        if len(p) == 3 and p[1].isdigit() and p[2].isdigit():
            s, c = int(p[1]), int(p[2])
            if s <= hi and lo < s + c:
                bad.append(path + ":" + l)
print(hi - lo + 1, bad)
' "$1")
        assert_eq "65536 []" "$overlap" "size of the offered range and the lines it overlaps"
        ok "subuid: offered $1, free in /etc/subuid and /etc/subgid"
fi

# 2. The outer engine's flags: container= names it; else /run/.containerenv is podman's
# and /.dockerenv docker's marker.
nested_fix() { grep -A1 '^[^ ]* not nested' | sed -n 's/^    fix: //p'; }
fix=$(container=podman "$NOOK" caps | nested_fix)
assert_contains "$fix" "podman run " "the nested fix under container=podman"
assert_contains "$fix" "--security-opt unmask=ALL" "podman's own flag for /proc"
assert_not_contains "$fix" "docker" "the nested fix under container=podman"
fix=$(container=docker "$NOOK" caps | nested_fix)
assert_contains "$fix" "docker run " "the nested fix under container=docker"
assert_contains "$fix" "--security-opt systempaths=unconfined" "docker's own flag for /proc"
assert_not_contains "$fix" "podman" "the nested fix under container=docker"
if [ -e /run/.containerenv ] || [ -e /.dockerenv ]; then
        want=docker other=podman
        [ -e /run/.containerenv ] && want=podman other=docker
        fix=$(env -u container "$NOOK" caps | nested_fix)
        assert_contains "$fix" "$want run " "the nested fix from this machine's marker"
        assert_not_contains "$fix" "$other run" "the nested fix from this machine's marker"
        ok "outer engine from the marker: $want"
fi
ok "the outer engine's own flags"
