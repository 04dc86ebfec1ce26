#!/usr/bin/env python3
"""The crate's import graph: file-level import loops and imports that run upward.

Reads every file under src/ (test modules cut off), resolves each `use` and inline
`crate::` / `super::` / `self::` path to the file that defines it, and checks:
- no cycle among files (a `mod` declaration is not an import; a `pub use` is);
- no import from a lower layer to a higher one (LAYERS, top first);
- no file over MAX_LINES lines, except those in LONG_FILES.
Prints what it finds and exits 1 if anything is wrong. `--graph` prints every edge;
`--root DIR` checks another source tree (the test's own examples).
Run by tests/layers.rs, so the suite fails when the shape breaks.
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
if "--root" in sys.argv:
    ROOT = sys.argv[sys.argv.index("--root") + 1]

# Top-level modules by layer, highest first; a module may import only from its own
# layer's peers (without a loop) or from layers below it.
LAYERS = [
    ["main", "lib"],
    ["cli"],
    ["alloc"],
    ["fs"],
    ["scan", "webhook", "hydrate", "changes"],
    ["namespace"],
    ["shared"],
    ["store"],
    ["remote", "patterns", "codex"],
    ["config", "oid", "logging", "flight", "clock"],
]
MAX_LINES = 800
# The tool detection table is data, and may be longer than one sitting.
LONG_FILES = {"patterns/rules.rs"}


def module_of(rel):
    """src-relative path -> module segments."""
    parts = rel[:-3].split("/")
    if parts[-1] == "mod":
        parts = parts[:-1]
    if parts in (["lib"], ["main"]):
        return []
    return parts


def strip_tests(text):
    """Cuts `#[cfg(test)] mod ... { ... }` blocks and `#[cfg(test)] mod x;` lines."""
    out = []
    i = 0
    pattern = re.compile(r"#\[cfg\(test\)\]\s*(pub(\(crate\))?\s+)?mod\s+\w+\s*([;{])")
    while True:
        m = pattern.search(text, i)
        if not m:
            out.append(text[i:])
            break
        out.append(text[i : m.start()])
        if m.group(3) == ";":
            i = m.end()
            continue
        depth = 1
        j = m.end()
        while j < len(text) and depth:
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
            j += 1
        i = j
    return "".join(out)


def strip_comments(text):
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    # String literals may hold `crate::` (messages); drop their content.
    text = re.sub(r'"(\\.|[^"\\])*"', '""', text)
    return text


def expand(tree):
    """`a::{b, c::{d, e}}` -> ["a::b", "a::c::d", "a::c::e"]."""
    tree = tree.strip()
    brace = tree.find("{")
    if brace < 0:
        return [tree] if tree else []
    prefix = tree[:brace]
    body = tree[brace + 1 : tree.rfind("}")]
    items, depth, start = [], 0, 0
    for k, ch in enumerate(body):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(body[start:k])
            start = k + 1
    items.append(body[start:])
    out = []
    for item in items:
        for sub in expand(item):
            out.append(prefix + sub if sub != "self" else prefix.rstrip(":"))
    return out


def main():
    files = {}
    for dirpath, _, names in os.walk(ROOT):
        for name in names:
            if name.endswith(".rs"):
                rel = os.path.relpath(os.path.join(dirpath, name), ROOT)
                files[rel] = open(os.path.join(dirpath, name), encoding="utf-8").read()
    modules = {tuple(module_of(rel)): rel for rel in files if rel != "main.rs"}
    test_only = set()
    for rel, text in files.items():
        for m in re.finditer(r"#\[cfg\(test\)\]\s*(?:pub(?:\(crate\))?\s+)?mod\s+(\w+)\s*;", text):
            mod = tuple(module_of(rel)) + (m.group(1),)
            if mod in modules:
                test_only.add(modules[mod])

    def resolve(current, path):
        segs = [s for s in path.split("::") if s]
        if not segs:
            return None
        if segs[0] == "crate":
            base, segs = [], segs[1:]
        elif segs[0] in ("super", "self"):
            base = list(current)
            while segs and segs[0] in ("super", "self"):
                if segs[0] == "super":
                    base = base[:-1]
                segs = segs[1:]
        elif tuple(current) + (segs[0],) in modules:
            # A child module named without `self::` (`use index::Index` in a mod.rs).
            base = list(current)
        else:
            return None
        full = base + segs
        for n in range(len(full), -1, -1):
            if tuple(full[:n]) in modules:
                return modules[tuple(full[:n])], n == len(full)
        return None

    edges = {}
    for rel, text in files.items():
        if rel in test_only:
            continue
        current = module_of(rel)
        body = strip_comments(strip_tests(text))
        deps = set()
        aliases = {}
        for m in re.finditer(r"\buse\s+([^;]+);", body):
            # Whitespace goes, but `x as y` keeps its meaning: `x@y` until split below.
            tree = re.sub(r"\s+as\s+", "@", m.group(1))
            for path in expand(re.sub(r"\s+", "", tree)):
                path, _, alias = path.partition("@")
                alias = alias or path.split("::")[-1]
                hit = resolve(current, path)
                if hit:
                    deps.add(hit[0])
                    if hit[1]:
                        aliases[alias] = hit[0]
        for m in re.finditer(r"\b((?:crate|super|self)(?:::\w+)+)", body):
            hit = resolve(current, m.group(1))
            if hit:
                deps.add(hit[0])
        for m in re.finditer(r"(?<![:\w])(\w+)((?:::\w+)+)", body):
            if m.group(1) in aliases:
                # `alias::item` or `alias::child::item`: the deepest file it names.
                target = module_of(aliases[m.group(1)]) + m.group(2).split("::")[1:]
                hit = resolve(current, "crate::" + "::".join(target))
                deps.add(hit[0] if hit else aliases[m.group(1)])
            elif tuple(current) + (m.group(1),) in modules:
                hit = resolve(current, m.group(0))
                if hit:
                    deps.add(hit[0])
        deps.discard(rel)
        edges[rel] = deps

    problems = []

    def top(rel):
        mod = module_of(rel)
        return mod[0] if mod else rel[:-3]

    layer = {name: i for i, names in enumerate(LAYERS) for name in names}
    for rel, deps in sorted(edges.items()):
        for dep in sorted(deps):
            a, b = top(rel), top(dep)
            if a == b:
                continue
            if a not in layer or b not in layer:
                problems.append(f"{rel} -> {dep}: `{a if a not in layer else b}` has no layer in scripts/layers.py")
            elif layer[a] > layer[b]:
                problems.append(f"upward import: {rel} ({a}) -> {dep} ({b})")

    # Cycles: Tarjan's strongly connected components.
    index, low, stack, on, sccs = {}, {}, [], set(), []
    counter = [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strong(w)
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
            if len(comp) > 1:
                sccs.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            strong(v)
    for comp in sccs:
        inner = [f"{a} -> {b}" for a in comp for b in sorted(edges[a]) if b in comp]
        problems.append("import loop among " + ", ".join(comp) + ": " + "; ".join(inner))

    for rel, text in sorted(files.items()):
        lines = text.count("\n")
        if lines > MAX_LINES and rel not in LONG_FILES:
            problems.append(f"{rel} has {lines} lines (more than {MAX_LINES})")

    if "--graph" in sys.argv:
        for rel, deps in sorted(edges.items()):
            print(rel, "->", ", ".join(sorted(deps)))
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} problems", file=sys.stderr)
        return 1
    print(f"{len(edges)} files: no import loop, no upward import, none over {MAX_LINES} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
