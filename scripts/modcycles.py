#!/usr/bin/env python3
"""Import cycles between the source files of a Rust crate.

    python3 scripts/modcycles.py src hq/src core/src

For each crate directory given, every `.rs` file is a node; an edge A -> B exists when A names
a path into B (`crate::x::y`, `super::z`, `self::w`, in `use` lines or inline). `mod x;`
declarations and a file's own submodules are not edges: a parent owning a child is structure,
not an import; the child naming its parent is. Prints every strongly connected component of
more than one file and exits 1 if there is one, 0 if the graph is acyclic.
"""
import os
import re
import sys

PATH_RE = re.compile(r"\b((?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)+)")
USE_GROUP_RE = re.compile(r"\buse\s+((?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^;]*)\}\s*;", re.S)
COMMENT_RE = re.compile(r"//[^\n]*")


def module_of(root, path):
    rel = os.path.relpath(path, root)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib", "main"):
        rel = rel[:-1]
    return tuple(rel)


def files_of(root):
    out = {}
    for d, _dirs, files in os.walk(root):
        for f in files:
            if f.endswith(".rs"):
                p = os.path.join(d, f)
                m = module_of(root, p)
                # lib.rs and main.rs are both the crate root; keep lib.rs as the node for ()
                if m == () and f == "main.rs" and () in out:
                    continue
                out[m] = p
    return out


def resolve(mods, here, path):
    parts = path.split("::")
    if parts[0] == "crate":
        base = []
        parts = parts[1:]
    else:
        base = list(here)
        while parts and parts[0] in ("super", "self"):
            if parts[0] == "super" and base:
                base.pop()
            parts = parts[1:]
    full = base + parts
    # the longest prefix that is a file
    for n in range(len(full), -1, -1):
        if tuple(full[:n]) in mods:
            return tuple(full[:n])
    return None


def expand_groups(text):
    """`use crate::a::{b, c::d}` -> extra paths crate::a::b, crate::a::c::d (one level)."""
    extra = []
    for m in USE_GROUP_RE.finditer(text):
        prefix, body = m.group(1), m.group(2)
        for item in re.split(r",", re.sub(r"\{[^}]*\}", "", body)):
            item = item.strip().split(" as ")[0].strip()
            if item and item != "self" and re.match(r"^[A-Za-z_][A-Za-z0-9_:]*$", item):
                extra.append(prefix + "::" + item)
    return extra


def graph(root):
    mods = files_of(root)
    edges = {m: set() for m in mods}
    for m, p in mods.items():
        here = m if not p.endswith(("mod.rs", "lib.rs", "main.rs")) else m
        # a non-mod file's `super` is its directory's module; its `self` is itself
        text = COMMENT_RE.sub("", open(p, encoding="utf-8").read())
        # a file's `self::`/`super::` are relative to its own module path
        for path in PATH_RE.findall(text) + expand_groups(text):
            t = resolve(mods, here, path)
            if t is None or t == m:
                continue
            if t[: len(m)] == m:  # a path into one's own submodule: structure, not an import
                continue
            edges[m].add(t)
    return mods, edges


def sccs(edges):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    for v in edges:
        if v not in index:
            visit(v)
    return out


def main(roots):
    bad = 0
    for root in roots:
        mods, edges = graph(root)
        cycles = [c for c in sccs(edges) if len(c) > 1]
        name = lambda m: os.path.relpath(mods[m])
        if not cycles:
            print(f"{root}: {len(mods)} files, no import cycle")
        for c in cycles:
            bad += 1
            members = sorted(name(m) for m in c)
            print(f"{root}: cycle of {len(c)} files: {', '.join(members)}")
            for m in sorted(c):
                for t in sorted(edges[m] & set(c)):
                    print(f"    {name(m)} -> {name(t)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["src", "hq/src"]))
