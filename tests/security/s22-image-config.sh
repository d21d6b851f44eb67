#!/bin/sh
# S22 (CVE-2024-21626, CVE-2024-9676, CVE-2022-23648): the image config is attack input.
# A WorkingDir that leads through /proc/self/fd (directly, spelled "//proc" or "/./proc",
# through /dev/fd, or through a symlink of the image) never puts the workload's cwd
# outside its root: the start is refused or the cwd is "/"; ".." in WorkingDir is
# refused (cwd "/"); a User that is not uid[:gid] or name[:group] is refused; Env entries
# with bad names are dropped; /etc/passwd and /etc/group are read inside the root with a
# size cap (4 MiB lines, fifos, directories, symlinks to host files: the name is not
# found, and no host file is read); Volumes never bind anything of the host.
. "$NOOK_TEST_LIB/lib.sh"
. "$NOOK_TEST_LIB/image-attack.sh"

export XDG_RUNTIME_DIR="$T/run"
mkdir -m 0700 "$XDG_RUNTIME_DIR"
export HOSTPW="$T/host-passwd" HOSTGR="$T/host-group"
echo "hostuser:x:4242:4242::/:/bin/sh" >"$HOSTPW"
echo "hostgroup:x:4343:" >"$HOSTGR"
chmod 0644 "$HOSTPW" "$HOSTGR"
FDS="3 4 5 6 7 8 9 10 11 12"
export FDS

# One OCI layout with a tag per case: mkimage's base layer, then the case's layers.
python3 - "$T/layout" <<'PY' || fail "building the S22 images"
import json, os, sys
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.environ["NOOK_SOURCE_ROOT"], "tests", "images"))
from ocilib import *
import forge
lay = Layout(sys.argv[1])
S, HOSTPW, HOSTGR = os.environ["SENT"], os.environ["HOSTPW"], os.environ["HOSTGR"]
fds = [int(n) for n in os.environ["FDS"].split()]
base = forge.base(lay)
links = lay.put_layer(tar_bytes(
    [SYM("cwd%d" % n, "/proc/self/fd/%d" % n) for n in fds] +
    [SYM("srv/rel%d" % n, "../proc/self/fd/%d" % n) for n in fds] +
    [SYM("self", "/proc/self"), D("srv/x")]))
big = lay.put_layer(tar_bytes([F("etc/passwd", b"x" * ((4 << 20) + 10) + b"\nhostile:x:0:0::/:/bin/sh\n"),
                               F("etc/group", b"y" * ((4 << 20) + 10) + b"\nhostile:x:0:\n")]))
hostlinks = lay.put_layer(tar_bytes([SYM("etc/passwd", HOSTPW), SYM("etc/group", HOSTGR)]))
uplinks = lay.put_layer(tar_bytes([SYM("etc/passwd", forge.UP + HOSTPW.lstrip("/")),
                                   SYM("etc/group", forge.UP + HOSTGR.lstrip("/"))]))
fifos = lay.put_layer(tar_bytes([FIFO("etc/passwd"), FIFO("etc/group")]))
dirs = lay.put_layer(tar_bytes([D("etc/passwd"), D("etc/group")]))
manifests = []

def image(tag, layers, **config):
    m = lay.image([base] + layers)
    man = json.load(open(lay.path(m["digest"])))
    cfg = json.load(open(lay.path(man["config"]["digest"])))
    cfg["config"].update(config)
    man["config"] = lay.put(canon_json(cfg), MT_CONFIG)
    d = lay.put(canon_json(man), MT_MANIFEST)
    manifests.append(dict(d, annotations={REF_NAME: tag}, platform=m["platform"]))

for n in fds:
    image("wd-slashes-%d" % n, [links], WorkingDir="//proc/self/fd/%d" % n)
    image("wd-dot-%d" % n, [links], WorkingDir="/./proc/self/fd/%d" % n)
    image("wd-devfd-%d" % n, [links], WorkingDir="/dev/fd/%d" % n)
    image("wd-link-%d" % n, [links], WorkingDir="/cwd%d" % n)
    image("wd-rellink-%d" % n, [links], WorkingDir="/srv/rel%d" % n)
    image("wd-selflink-%d" % n, [links], WorkingDir="/self/fd/%d" % n)
image("wd-proc", [links], WorkingDir="/proc/self/fd/3")
image("wd-proc-cwd", [links], WorkingDir="/proc/self/cwd")
image("wd-up", [links], WorkingDir="/../../etc")
image("wd-up2", [links], WorkingDir="/srv/x/../../../etc")
for i, user in enumerate(["root:x:0:0", "0:0:0", "../../etc/passwd", "a" * 200, "ro ot", "root\n", ":0", "0:"]):
    image("user-%d" % i, [], User=user)
image("env", [], Env=["=x", "A B=c", "NOEQ", "GOOD=1", "BAD\nNAME=x", "GOOD=2", "LONG=" + "v" * 70000,
                      "K-1=x", "\u00c4=x", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"])
image("pw-big", [big], User="hostile")
image("pw-big-group", [big], User="0:hostile")
for tag, layer in [("hostlinks", hostlinks), ("uplinks", uplinks), ("fifos", fifos), ("dirs", dirs)]:
    image("pw-" + tag, [layer], User="hostuser")
    image("gr-" + tag, [layer], User="0:hostgroup")
image("volumes", [], Volumes={"/../../../../../../../.." + S: {}, S: {}, "/proc/self/fd/3": {}, "../x": {}})
lay.index(manifests)
PY
tags=$(json_query '" ".join(m["annotations"]["org.opencontainers.image.ref.name"] for m in j["manifests"])' <"$T/layout/index.json")
for t in $tags; do
        run_nook image import --quiet --name "$t" "$T/layout:$t"
        assert_eq 0 "$RC" "importing $t: $ERR"
done

# ---- WorkingDir ----
bad=""
# cwd_safe IMAGE [ALSO-ALLOWED]: the start is refused (125, naming the working directory),
# or the workload's cwd is "/" (or ALSO-ALLOWED, a path of the root)
cwd_safe() {
        run_nook run "$1" -- sh -c 'readlink /proc/self/cwd; ls -a .. | head -4 | tr "\n" " "'
        cwd=$(echo "$OUT" | sed -n 1p)
        case "$RC" in
        0) [ "$cwd" = / ] || [ "$cwd" = "${2:-/}" ] || bad="$bad
  $1: cwd $cwd (.. holds: $(echo "$OUT" | sed -n 2p))" ;;
        125) assert_contains "$ERR" "working directory" "$1: the refusal names the working directory" ;;
        *) bad="$bad
  $1: exit $RC ($ERR)" ;;
        esac
}
for n in $FDS; do
        for form in slashes dot devfd link rellink selflink; do
                cwd_safe "wd-$form-$n"
        done
done
cwd_safe wd-proc
cwd_safe wd-proc-cwd
cwd_safe wd-up /etc
cwd_safe wd-up2 /etc
[ -z "$bad" ] || fail "a WorkingDir of the image put the workload's cwd outside its root:$bad"
assert_eq "$SENT0" "$(sentinel_state)" "the sentinel after the WorkingDir cases"
ok "S22: WorkingDir through /proc/self/fd, /dev/fd, symlinks or '..': refused, or cwd /"

# ---- User ----
for i in 0 1 2 3 4 5 6 7; do
        run_nook run -w / "user-$i" -- id -u
        assert_eq 125 "$RC" "a garbage User (user-$i) must be refused: $OUT"
        assert_contains "$ERR" "User" "the refusal of user-$i names the image's User"
done
ok "S22: a garbage User is refused"

# ---- Env ----
run_nook run -w / env -- env
assert_eq 0 "$RC" "run env: $ERR"
assert_contains "$OUT" "GOOD=1" "a good image variable"
for v in GOOD=2 "A B" NOEQ "BAD" "LONG=" "K-1" "$(printf '\303\204')="; do
        assert_not_contains "$OUT" "$v" "a bad image variable"
done
! echo "$OUT" | grep -q '^=' || fail "a variable without a name: $OUT"
ok "S22: image Env entries with bad names are dropped"

# ---- /etc/passwd and /etc/group ----
for c in pw-big pw-hostlinks pw-uplinks pw-fifos pw-dirs; do
        run_nook run -w / "$c" -- id -u
        assert_eq 125 "$RC" "$c: the user must not be found: $OUT"
        assert_contains "$ERR" "not in the root's /etc/passwd" "$c: the refusal"
        assert_not_contains "$ERR" 4242 "$c: the host passwd file was read"
        [ "${#ERR}" -lt 2000 ] || fail "$c: ${#ERR} bytes of error"
done
for c in pw-big-group gr-hostlinks gr-uplinks gr-fifos gr-dirs; do
        run_nook run -w / "$c" -- id -g
        assert_eq 125 "$RC" "$c: the group must not be found: $OUT"
        assert_contains "$ERR" "not in the root's /etc/group" "$c: the refusal"
        assert_not_contains "$ERR" 4343 "$c: the host group file was read"
done
ok "S22: /etc/passwd and /etc/group: a 4 MiB line, fifos, dirs, symlinks to host files: not found, no host file read"

# ---- Volumes ----
run_nook run -w / volumes -- sh -c "mkdir -p '$SENT' && echo pwned >'$SENT/sentinel' && echo pwned >'$SENT/new' && cat /proc/self/mountinfo"
assert_eq 0 "$RC" "run volumes: $ERR"
assert_not_contains "$OUT" "$SENT" "a mount of the sentinel dir"
assert_eq "$SENT0" "$(sentinel_state)" "the sentinel after writes to its path inside"
ok "S22: Volumes bind nothing of the host"
