#!/usr/bin/env python3
"""Man pages and bash completion generated from the built `nook`'s own --help text.

usage: gen.py verbs MAIN_C                  print the verbs of src/cli/main.c's table
       gen.py man NOOK OUTDIR VERSION VERB...  write OUTDIR/nook.1 and nook-VERB.1 per VERB
       gen.py completion NOOK OUT           write the bash completion script OUT
       gen.py text PAGE                     print a page's text as --help printed it

One source of truth: a page is the verb's --help, verbatim in a no-fill block (no
reflowing, no guessed sections, so `nook VERB --help` and `man nook-VERB` say the same
thing; `gen.py text` gives the text back, which tests/docs/man.sh compares). help2man
was not used: it wants one program per page with --version, reflows the text and guesses
sections, so its pages would not read as --help does.

The pages are those of main.c's verb table, which meson reads at configure time
(`verbs`: its outputs must be known then); tests/docs/man.sh checks that every verb of
`nook --help`'s "Commands:" list has its page.
"""
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True

VERB_ROW = re.compile(r'^\s*\{\s*(?:\.name\s*=\s*)?"([a-z][a-z0-9-]*)"\s*,')
OPTION = re.compile(r"(?<![\w./=-])(--?[A-Za-z][A-Za-z0-9-]*)")
FOREIGN = ("podman ", "docker ")     # example lines of other programs: their options are not nook's


def table_verbs(main_c):
    """The verbs of `static const cli_verb verbs[] = { ... };` in main.c."""
    out, inside = [], False
    for line in open(main_c, encoding="utf-8"):
        if re.search(r"\bverbs\s*\[\s*\]\s*=", line):
            inside = True
            continue
        if inside:
            if line.strip().startswith("};"):
                break
            m = VERB_ROW.match(line)
            if m and m.group(1) != "help":
                out.append(m.group(1))
    return out


def helptext(nook, *args):
    r = subprocess.run([nook, *args, "--help"], capture_output=True, text=True,
                       env=dict(os.environ, NO_COLOR="1", TERM="dumb", ASAN_OPTIONS="detect_leaks=0"))
    if r.returncode != 0 or not r.stdout.strip():
        sys.exit(f"gen.py: `nook {' '.join(args)} --help` failed (exit {r.returncode}): {r.stderr.strip()}")
    return r.stdout


def help_verbs(main_help):
    """(verb, summary) of the "Commands:" list of `nook --help`, less `help`."""
    out, inside = [], False
    for line in main_help.splitlines():
        if line.strip() == "Commands:":
            inside = True
            continue
        if inside:
            m = re.match(r"^  ([a-z][a-z0-9-]*)\s{2,}(.*)$", line)
            if not m:
                if line.strip() == "" or not line.startswith("   "):
                    break
                continue
            if m.group(1) != "help":
                out.append((m.group(1), m.group(2).strip()))
    return out


def roff_escape(line):
    line = line.replace("\\", "\\e")
    if line.startswith((".", "'")):
        line = "\\&" + line
    return line


def page(title, name, summary, text, version, see_also):
    lines = [f'.TH {title.upper()} 1 "" "nook {version}" "nook manual"',
             ".SH NAME", f"{name} \\- {roff_escape(summary)}",
             ".SH DESCRIPTION", ".nf"]
    lines += [roff_escape(l) for l in text.rstrip("\n").split("\n")]
    lines += [".fi", ".SH SEE ALSO", ", ".join(f"\\fB{s}\\fR(1)" for s in see_also)]
    return "\n".join(lines) + "\n"


def page_text(path):
    """The text of a page's no-fill block, as --help printed it."""
    out, inside = [], False
    for line in open(path, encoding="utf-8").read().split("\n"):
        if line == ".nf":
            inside = True
            continue
        if line == ".fi":
            break
        if inside:
            if line.startswith("\\&"):
                line = line[2:]
            out.append(line.replace("\\e", "\\"))
    return "\n".join(out) + "\n"


def cmd_man(nook, outdir, version, table):
    """nook.1, and a page for each verb of main.c's table (meson's list of outputs): the
    summary from `nook --help`'s list, or for a verb it does not list (an alias), the
    first line of the verb's own help."""
    os.makedirs(outdir, exist_ok=True)
    main_help = helptext(nook)
    listed = dict(help_verbs(main_help))
    verbs = []
    for v in table:
        summary = listed.get(v)
        if summary is None:
            first = helptext(nook, v).strip().split("\n")[0]
            summary = re.sub(r"^Usage:\s*", "", first)
        verbs.append((v, summary))
    names = [f"nook-{v}" for v, _ in verbs]
    with open(os.path.join(outdir, "nook.1"), "w", encoding="utf-8") as f:
        f.write(page("nook", "nook", "rootless sandboxes for ordinary users", main_help, version, names))
    for v, summary in verbs:
        with open(os.path.join(outdir, f"nook-{v}.1"), "w", encoding="utf-8") as f:
            f.write(page(f"nook-{v}", f"nook-{v}", summary, helptext(nook, v), version, ["nook"]))


def subcommands(verb, text):
    """Words that follow `nook VERB` in the usage lines (the first paragraph), and the rows
    of a Commands: list."""
    subs = []
    usage = text.split("\n\n")[0]
    for m in re.finditer(rf"\bnook {re.escape(verb)} ([a-z][a-z0-9-]*)\b", usage):
        subs.append(m.group(1))
    inside = False
    for line in text.splitlines():
        if line.strip() == "Commands:":
            inside = True
            continue
        if inside:
            m = re.match(r"^  ([a-z][a-z0-9-]*)(\s|$)", line)
            if m:
                subs.append(m.group(1))
            elif line and not line.startswith(" "):
                inside = False
    return sorted(set(subs))


def options(text):
    """The options a help text names, less those of other programs' example lines."""
    text = "\n".join(l for l in text.splitlines() if not l.strip().startswith(FOREIGN))
    return sorted(set(m.group(1) for m in OPTION.finditer(text) if len(m.group(1)) > 1))


def global_options(main_help):
    """The options of the rows of `nook --help`'s "Global options:" list."""
    out, inside = set(), False
    for line in main_help.splitlines():
        if line.strip() == "Global options:":
            inside = True
            continue
        if inside:
            if line and not line.startswith(" "):
                break
            m = re.match(r"^\s+(-\S+(?:\s+-\S+)*)", line)
            if m:
                out.update(o.strip(",") for o in m.group(1).split())
    return sorted(o for o in out if re.fullmatch(r"--?[A-Za-z][A-Za-z0-9-]*", o))


def cmd_completion(nook, out):
    main_help = helptext(nook)
    verbs = [v for v, _ in help_verbs(main_help)]
    cases = []
    for v in verbs:
        t = helptext(nook, v)
        cases.append(f"        {v}) subs='{' '.join(subcommands(v, t))}'; opts='{' '.join(options(t))}' ;;")
    script = f"""# bash completion for nook: generated by docs/gen.py from the built nook's --help
# (do not edit: rebuild).  Verbs, each verb's subcommands and options; files otherwise.
_nook() {{
        local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}}
        local verbs='{' '.join(verbs + ['help'])}'
        local globals='{' '.join(global_options(main_help))}'
        local i verb='' nsub=0 subs='' opts=''
        for ((i = 1; i < COMP_CWORD; i++)); do
                case ${{COMP_WORDS[i]}} in
                {' | '.join(o for o in global_options(main_help) if o not in ("--help", "-h", "--version"))}) ((i++)) ;;
                -*) ;;
                *) if [ -z "$verb" ]; then verb=${{COMP_WORDS[i]}}; else nsub=$((nsub + 1)); fi ;;
                esac
        done
        if [ -z "$verb" ]; then
                if [[ $cur == -* ]]; then
                        mapfile -t COMPREPLY < <(compgen -W "$globals" -- "$cur")
                else
                        mapfile -t COMPREPLY < <(compgen -W "$verbs" -- "$cur")
                fi
                return 0
        fi
        case $verb in
{chr(10).join(cases)}
        help) subs=$verbs ;;
        esac
        if [[ $cur == -* ]]; then
                mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
        elif [ "$nsub" -eq 0 ] && [ -n "$subs" ]; then
                mapfile -t COMPREPLY < <(compgen -W "$subs" -- "$cur")
        else
                mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        fi
        return 0
}}
complete -o default -F _nook nook
"""
    with open(out, "w", encoding="utf-8") as f:
        f.write(script)


def main():
    a = sys.argv[1:]
    if len(a) == 2 and a[0] == "verbs":
        print("\n".join(table_verbs(a[1])))
    elif len(a) >= 4 and a[0] == "man":
        cmd_man(a[1], a[2], a[3], a[4:])
    elif len(a) == 3 and a[0] == "completion":
        cmd_completion(a[1], a[2])
    elif len(a) == 2 and a[0] == "text":
        sys.stdout.write(page_text(a[1]))
    else:
        sys.exit(__doc__.split("\n\n")[0])


if __name__ == "__main__":
    main()
