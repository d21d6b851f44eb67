#!/bin/sh
# The probe does what a session does (issue 14): besides namespaces, sethostname,
# devpts, device binds and pivot_root, each a required finding named after its step.
# Here every step passes; inside a nook session whose seccomp profile refuses one of
# them (as rootless podman refused sethostname), `nook caps` says the host cannot run
# sandboxes and names the step, and a nested session indeed fails there.
. "$NOOK_TEST_LIB/lib.sh"

steps="session_namespaces hostname devpts dev_nodes pivot_root"
finding() { # NAME FIELD < report
        json_query "[f[\"$2\"] for f in j[\"findings\"] if f[\"name\"]==\"$1\"][0]"
}

"$NOOK" caps --json >"$T/host.json"
for s in $steps; do
        assert_eq true "$(finding "$s" ok <"$T/host.json")" "finding $s on this host: $(finding "$s" detail <"$T/host.json")"
        assert_eq true "$(finding "$s" required <"$T/host.json")" "finding $s is required"
done
ok "every session step passes on this host"

# A nook session over the host's root, with a profile that refuses one system call with
# EPERM and allows everything else; the inner nook gets a private writable dir, bound at
# its own path (not over /tmp, where the build under test may live).
mkdir "$T/w"
W=$T/w
inner_env="TMPDIR=$W XDG_RUNTIME_DIR=$W NOOK_STORAGE=$W/data NOOK_HOLDER=${NOOK_HOLDER:-} NOOK_NETD=${NOOK_NETD:-}"
nested() { # SYSCALL ARGS... : runs nook ARGS inside a session refusing SYSCALL
        sc=$1
        shift
        printf '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["%s"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}' "$sc" >"$T/deny-$sc.json"
        rm -rf "$T/w/data" "$T/w/nook"
        # shellcheck disable=SC2086
        "$NOOK" run --rootfs / --network none -v "$W:$W" --security-opt seccomp="$T/deny-$sc.json" -- \
                env $inner_env "$NOOK" "$@"
}

for pair in sethostname:hostname pivot_root:pivot_root; do
        sc=${pair%%:*}
        name=${pair#*:}
        set +e
        nested "$sc" caps --json >"$T/in.json" 2>"$T/in.err"
        rc=$?
        set -e
        assert_eq 0 "$rc" "nook caps --json inside a session refusing $sc: $(cat "$T/in.err")"
        assert_eq false "$(finding "$name" ok <"$T/in.json")" "finding $name inside a session refusing $sc"
        detail=$(finding "$name" detail <"$T/in.json")
        assert_contains "$detail" "$sc" "the detail names the step"
        assert_contains "$detail" "EPERM" "the detail names the error"
        health=$(json_query 'list(j["health"])[0] if isinstance(j["health"], dict) else j["health"]' <"$T/in.json")
        assert_eq unsupported_host "$health" "health inside a session refusing $sc"
        missing=$(json_query 'j["health"]["unsupported_host"]["missing_prerequisites"]' <"$T/in.json")
        assert_contains "$missing" "\"$name\"" "the missing prerequisites name $name"
        # the outer engine here is nook: the fix is nook's own switch
        assert_contains "$(finding "$name" remedy <"$T/in.json")" "nook run --security-opt seccomp=unconfined" \
                "the fix is in the outer engine's own flags"
        # the human verdict says the same
        set +e
        nested "$sc" caps >"$T/in.txt" 2>&1
        set -e
        assert_contains "$(head -n 1 "$T/in.txt")" "cannot run rootless sandboxes (missing: $name)" "the verdict line"
        # and it is true: a session fails at that step in there
        set +e
        nested "$sc" run --rootfs / --network none -- true >"$T/run.out" 2>&1
        rc=$?
        set -e
        assert_eq 125 "$rc" "a session inside a session refusing $sc: $(cat "$T/run.out")"
        [ "$sc" != sethostname ] || assert_contains "$(cat "$T/run.out")" "setting the hostname" "the session's error"
        ok "$sc refused: finding $name fails, the host is unsupported, and sessions indeed fail"
done
