#!/usr/bin/env python3
"""nook's layering rule, checked (./dev structure; ./dev test runs it after the build).

The direction is  cli -> libnook API (include/nook, src/lib) -> core -> (adapter
interface, core/adapter.h) <- userns -> proto -> util, and the helpers link only proto
and util.  A module is a directory and a file stem (src/userns/session.{c,h}).  Checked:

  1. includes: what each directory may include (ALLOWED below); the public headers
     (include/nook) and config.h are open to all;
  2. no include cycle between modules, and no call cycle between directories or
     between modules outside the CLI (whose verbs share main.c's and output.c's helpers
     both ways): the calls are read from the built objects (nm), so a function declared
     in one header and defined in another file is seen where it is defined;
  3. jansson only where JANSSON_USERS says;
  4. size: no file over 1,500 lines, no function over 100 lines (a function is what
     clang-format leaves at column 0: a line ending in ") {" up to the next "}").

Usage: structure.py SRC [BUILD]   (BUILD: the call check, when the objects exist)
Prints each breach on a line and exits 1 when there is one.
"""
import collections
import glob
import os
import re
import subprocess
import sys

ALLOWED = {
    "util": {"util"},
    "proto": {"proto", "util"},
    "core": {"core", "util"},
    "userns": {"userns", "core", "proto", "util"},
    "fake": {"fake", "core", "util"},
    "lib": {"lib", "core", "userns", "fake", "util"},
    "cli": {"cli", "util"},
    "helpers": {"helpers", "proto", "util"},
}
# jansson is the contract's codec (src/core); the others that read or write JSON of
# another format are listed here, and nothing else includes it (see core/schema.h).
JANSSON_USERS = ("src/core/", "src/cli/", "src/userns/import.c", "src/userns/export.c", "src/userns/store.c", "src/userns/image.c")
MAX_FILE_LINES = 1500
MAX_FUNCTION_LINES = 100

INCLUDE = re.compile(r'^#include "([^"]+)"', re.M)
JANSSON = re.compile(r"^#include <jansson\.h>", re.M)


def sources(src):
    for d in ["src", "helpers"]:
        for path in sorted(glob.glob(os.path.join(src, d, "**", "*.[ch]"), recursive=True)):
            yield os.path.relpath(path, src)


def module_of(rel):
    """src/userns/session.c -> userns/session; helpers/holder.c -> helpers/holder."""
    parts = rel.split("/")
    if parts[0] == "helpers":
        return "helpers/" + os.path.splitext(parts[-1])[0]
    return parts[1] + "/" + os.path.splitext(parts[-1])[0]


def include_target(rel, inc):
    """The module an include names, or None for public headers and config.h."""
    if inc.startswith("nook/") or inc == "config.h":
        return None
    if "/" not in inc:  # a sibling: "cli.h", "helper.h"
        return module_of(os.path.join(os.path.dirname(rel), inc))
    return os.path.splitext(inc)[0]


def find_cycles(graph):
    """Strongly connected components of more than one node (Tarjan, iterative)."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    for root in list(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    advanced = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def check_includes(src, breaches):
    graph = collections.defaultdict(set)
    for rel in sources(src):
        text = open(os.path.join(src, rel), encoding="utf-8").read()
        mod = module_of(rel)
        d = mod.split("/")[0]
        if JANSSON.search(text) and not rel.startswith(JANSSON_USERS):
            breaches.append(f"layering: {rel} includes jansson (only {', '.join(JANSSON_USERS)} do)")
        for inc in INCLUDE.findall(text):
            target = include_target(rel, inc)
            if target is None:
                continue
            td = target.split("/")[0]
            if td not in ALLOWED.get(d, set()):
                breaches.append(f"layering: {rel} includes {inc} ({d} may not depend on {td})")
            if target != mod:
                graph[mod].add(target)
    for comp in find_cycles(graph):
        breaches.append("include cycle: " + " <-> ".join(comp))


def nm_symbols(obj):
    out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
    defined, used = set(), set()
    for line in out.splitlines():
        p = line.split()
        if len(p) == 3 and p[1] in "TDBR":
            defined.add(p[2])
        elif len(p) == 2 and p[0] == "U":
            used.add(p[1])
    return defined, used


def object_module(obj):
    """build/src/libnook-internal.a.p/userns_session.c.o -> userns/session."""
    name = os.path.basename(obj)[: -len(".c.o")]
    if "/helpers/" in obj:
        return "helpers/" + name
    d, _, stem = name.partition("_")
    return d + "/" + stem


def public_api(src):
    """The names include/nook declares with NOOK_EXPORT."""
    names = set()
    for path in glob.glob(os.path.join(src, "include", "nook", "*.h")):
        text = open(path, encoding="utf-8").read()
        for decl in re.findall(r"NOOK_EXPORT[^;]*?\(", text, re.S):
            m = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*\($", decl)
            if m:
                names.add(m.group(1))
    return names


def check_calls(src, build, breaches):
    public = public_api(src)
    objs = glob.glob(os.path.join(build, "src", "libnook-*.a.p", "*.c.o"))
    objs += glob.glob(os.path.join(build, "src", "nook.p", "*.c.o"))
    objs += glob.glob(os.path.join(build, "helpers", "nook-holder.p", "*.c.o"))
    if not objs:
        return False
    defs, uses = {}, {}
    for o in objs:
        mod = object_module(o)
        d, u = nm_symbols(o)
        for s in d:
            defs.setdefault(s, mod)
        uses[mod] = uses.get(mod, set()) | u
    graph = collections.defaultdict(set)
    for mod, used in uses.items():
        for s in used:
            target = defs.get(s)
            if target and target != mod:
                graph[mod].add(target)
                d, td = mod.split("/")[0], target.split("/")[0]
                # the CLI is a client of the public API (include/nook), wherever the
                # library defines it
                if td not in ALLOWED.get(d, set()) and not (d == "cli" and s in public):
                    breaches.append(f"layering: {mod} calls {s} of {target}")
    # the CLI's verbs and their shared helpers (main.c, output.c, spec.c) call each
    # other freely: one program, no layer of its own below it
    inner = {m: {t for t in ts if not t.startswith("cli/")} for m, ts in graph.items() if not m.startswith("cli/")}
    for comp in find_cycles(inner):
        breaches.append("call cycle: " + " <-> ".join(comp))
    dirs = collections.defaultdict(set)
    for mod, targets in graph.items():
        for t in targets:
            if mod.split("/")[0] != t.split("/")[0]:
                dirs[mod.split("/")[0]].add(t.split("/")[0])
    for comp in find_cycles(dirs):
        breaches.append("call cycle between directories: " + " <-> ".join(comp))
    return True


FUNC_START = re.compile(r"^[A-Za-z_].*\)\s*\{\s*$")


def check_sizes(src, breaches):
    for rel in sources(src):
        lines = open(os.path.join(src, rel), encoding="utf-8").read().split("\n")
        if len(lines) - 1 > MAX_FILE_LINES:
            breaches.append(f"size: {rel} has {len(lines) - 1} lines (at most {MAX_FILE_LINES})")
        start = None
        for i, line in enumerate(lines):
            if start is None and FUNC_START.match(line) and not line.startswith(("typedef", "struct", "enum")):
                start = i
            elif start is not None and line == "}":
                n = i - start + 1
                if n > MAX_FUNCTION_LINES:
                    name = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(", lines[start])
                    breaches.append(f"size: {rel}:{start + 1} {name.group(1) if name else '?'}() "
                                    f"has {n} lines (at most {MAX_FUNCTION_LINES})")
                start = None


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip().split("\n\n")[-2], file=sys.stderr)
        return 2
    src = sys.argv[1]
    breaches = []
    check_includes(src, breaches)
    check_sizes(src, breaches)
    calls = len(sys.argv) > 2 and check_calls(src, sys.argv[2], breaches)
    for b in breaches:
        print(b)
    if not breaches:
        print("structure: layering, cycles" + (" (includes and calls)" if calls else " (includes)") +
              f" and sizes (files <= {MAX_FILE_LINES} lines, functions <= {MAX_FUNCTION_LINES}) hold")
    return 1 if breaches else 0


if __name__ == "__main__":
    sys.exit(main())
