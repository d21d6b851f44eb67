#!/bin/sh
# nook attach: a shell started with -dit is reachable again (its terminal, our input,
# resize), ctrl-p ctrl-q leaves it running, a second attach finds it, and the attach
# that sees it end exits with its code; a process without a terminal streams its
# output and takes our input when started with -i.
. "$NOOK_TEST_LIB/lib.sh"
mk_rootfs "$ROOT"
drive() { python3 "$NOOK_TEST_LIB/ptydrive.py" "$@"; }
name="att-$$"
run_nook run -dit --name "$name" --rootfs "$ROOT" sh
assert_eq 0 "$RC" "run -dit: $ERR"
ref=$(printf '%s\n' "$OUT" | sed -n 2p)
echo "$name" >>"$T/envs"

# typed input reaches the shell, its output comes back; the detach keys leave it running
set +e
res=$(drive 'sleep:0.3' 'send:echo att""ached $((6*7))\r' 'expect:attached 42' 'send:\x10\x11' exit -- \
        "$NOOK" attach "$name" 2>"$T/drive1")
set -e
assert_eq "exit=0" "$res" "attach, then ctrl-p ctrl-q: $(cat "$T/drive1")"
assert_contains "$(cat "$T/drive1")" "detached from $ref" "detach message"
run_nook ps
assert_contains "$OUT" "$ref" "ps after detach"
assert_eq running "$(printf '%s\n' "$OUT" | awk -v r="$ref" '$1 == r { print $4 }')" "state after detach"

# again, by process ref: the terminal follows ours; ctrl-p then another key is typed input
set +e
res=$(drive 'resize:33x101' 'sleep:0.3' 'send:stty size\r' 'expect:33 101' 'send:\x10\x03' 'send:echo still""here\r' \
        'expect:stillhere' 'send:exit 7\r' exit -- "$NOOK" attach "$ref" 2>"$T/drive2")
set -e
assert_eq "exit=7" "$res" "attach exits with the shell's code: $(cat "$T/drive2")"
run_nook attach "$ref"
assert_eq 125 "$RC" "attach to an ended process"
assert_contains "$ERR" "nothing to attach to" "attach to an ended process"
ok "attach to a -dit shell: input, output, resize, detach, attach again, exit code"

# without a terminal: output streamed, our input forwarded to a process started with -i,
# its end closes the process's stdin
run_nook run -di --name "$name-pipe" --rootfs "$ROOT" sh -c 'sed s/^/got:/; echo bye >&2; exit 5'
assert_eq 0 "$RC" "run -di: $ERR"
echo "$name-pipe" >>"$T/envs"
run_nook_in "$(printf 'one\ntwo\n')" attach "$name-pipe"
assert_eq 5 "$RC" "attach's code is the process's: $ERR"
assert_eq "got:one
got:two" "$OUT" "forwarded input, streamed output"
assert_eq bye "$ERR" "stderr streamed"
ok "attach without a terminal: stdin forwarded, output streamed, exit code"

# a shell started with exec -dit in a running session
run_nook run -d --name "$name-exec" --rootfs "$ROOT" sleep 600
assert_eq 0 "$RC" "run -d: $ERR"
echo "$name-exec" >>"$T/envs"
run_nook exec -dit "$name-exec" sh
assert_eq 0 "$RC" "exec -dit: $ERR"
set +e
res=$(drive 'sleep:0.3' 'send:echo from""exec\r' 'expect:fromexec' 'send:exit 4\r' exit -- "$NOOK" attach "$OUT" \
        2>"$T/drive3")
set -e
assert_eq "exit=4" "$res" "attach to exec -dit: $(cat "$T/drive3")"
ok "attach to a shell of exec -dit"

run_nook attach --detach-keys ctrl-9 "$name"
assert_eq 125 "$RC" "bad --detach-keys"
assert_contains "$ERR" "--detach-keys 'ctrl-9'" "bad --detach-keys message"
run_nook attach "no-such-$$"
assert_eq 125 "$RC" "unknown process"
run_nook attach --help
assert_eq 0 "$RC" "attach --help"
assert_contains "$OUT" "ctrl-p" "attach --help names the detach keys"
ok "attach errors and help"
