#!/usr/bin/env python3
"""The dependency table between the top-level modules of each crate, and its checks.

Reads every `.rs` file of a crate, finds its references to `crate::<module>` (in `use`
trees too) outside `#[cfg(test)]` items, and prints one table per crate: each top-level
module and the modules it uses. Fails (exit 1) when
  - two top-level modules of one crate reach each other (an import cycle), or
  - a module uses one its row of ALLOWED does not list (or is missing from it), or
  - the core crate (`actors/`) depends on a crate in CORE_MUST_NOT_USE.

`--markdown` prints the tables as Markdown (docs/architecture.md holds that output).
Run by scripts/test; no dependencies beyond Python 3.
"""
from __future__ import annotations

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Crates and their library roots.
CRATES = {
    "questpath": ROOT / "src",
    "questpath-actors": ROOT / "actors" / "src",
    "questpath-load-tests": ROOT / "load-tests" / "src",
    "questpath-test-support": ROOT / "test-support" / "src",
}

# The arrows each module may have; any other fails. Changing the design means changing
# this table on purpose (and docs/architecture.md with it). The server crate's layers,
# bottom up: config, tls, telemetry, secrets; metrics; adapters; backends; auth, goals,
# rooms, quizzes (services); realtime (the websocket transport); state; http; startup.
ALLOWED = {
    "questpath": {
        "config": set(),
        "tls": set(),
        "telemetry": {"config"},
        "secrets": {"config"},
        "metrics": {"config"},
        "adapters": {"config", "tls"},
        "backends": {"adapters", "config", "metrics"},
        "audit": {"adapters", "backends", "config"},
        "mail": {"config", "metrics"},
        "auth": {"config", "mail", "tls"},
        "engagement": {"mail"},
        "goals": {"metrics"},
        "rooms": {"auth"},
        "quizzes": {"rooms"},
        "realtime": {"config", "metrics", "rooms"},
        "state": {"auth", "backends", "config", "goals", "mail", "metrics", "quizzes", "realtime",
                  "rooms", "telemetry"},
        "http": {"adapters", "auth", "config", "goals", "mail", "metrics", "quizzes", "realtime",
                 "rooms", "state"},
        "startup": {"adapters", "auth", "backends", "config", "engagement", "goals", "http",
                    "mail", "metrics", "quizzes", "realtime", "rooms", "secrets", "state", "telemetry"},
    },
    # The game core: value types and ports at the bottom, the actors on top.
    "questpath-actors": {
        "domain": set(),
        "events": set(),
        "fault": set(),
        "clock": set(),
        "rules": set(),
        "ports": {"domain", "events"},
        "outbound": {"events"},
        "observe": {"events"},
        "leaderboard": {"events", "outbound", "ports"},
        "notifications": {"clock", "events", "observe", "ports"},
        "leagues": {"clock", "domain", "events", "leaderboard", "observe", "ports"},
        "streaks": {"clock", "events", "observe", "ports"},
        "xp": {"clock", "events", "fault", "leaderboard", "leagues", "notifications", "observe",
               "ports", "rules", "streaks"},
        "goals": {"ports", "rules", "xp"},
        "session": {"events", "goals", "leaderboard", "observe", "outbound", "ports", "rules",
                    "xp"},
        "room": {"domain", "events", "notifications", "observe", "outbound", "ports", "rules",
                 "xp"},
        "account": {"goals", "leaderboard", "notifications", "ports", "room", "streaks", "xp"},
        "audit": {"domain", "leaderboard", "leagues", "ports", "rules", "xp"},
    },
}

# Crates the core must not depend on: a transport, a driver, or an embedded database.
CORE_MUST_NOT_USE = ["actix-web", "actix-http", "actix-server", "tokio-tungstenite", "scylla", "fred", "redb", "questpath"]

CFG_TEST = re.compile(r"#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*(;|\{)")


def strip_comments(text: str) -> str:
    """Removes comments and the contents of string and char literals (their braces
    would throw the matching of `#[cfg(test)]` blocks off)."""
    text = re.sub(r'r(#*)".*?"\1', '""', text, flags=re.S)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text, flags=re.S)
    text = re.sub(r"'(?:\\.|[^'\\])'", "' '", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def block_end(text: str, start: int) -> int:
    """The index just past the `}` that closes a block whose `{` ends at `start`."""
    depth, i = 1, start
    while i < len(text) and depth:
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    return i


def strip_test_items(text: str) -> str:
    """Removes `#[cfg(test)] mod x { ... }` blocks and `#[cfg(test)] mod x;` lines."""
    out = []
    pos = 0
    for m in CFG_TEST.finditer(text):
        if m.start() < pos:
            continue
        out.append(text[pos : m.start()])
        if m.group(3) == ";":
            pos = m.end()
            continue
        pos = block_end(text, m.end())
    out.append(text[pos:])
    return "".join(out)


def group_heads(body: str) -> list[str]:
    """First path segment of each item of a `{a::b, c, d::{e}}` use group."""
    heads, depth, item = [], 0, ""
    for ch in body:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            heads.append(item)
            item = ""
        else:
            item += ch
    heads.append(item)
    return [re.match(r"\s*(\w*)", h).group(1) for h in heads if h.strip()]


def references(text: str) -> set[str]:
    found = set(re.findall(r"\bcrate::(\w+)", text))
    for m in re.finditer(r"\bcrate::\{", text):
        end = block_end(text, m.end())
        found.update(group_heads(text[m.end() : end - 1]))
    return found


def top_modules(root: pathlib.Path) -> list[str]:
    lib = strip_test_items(strip_comments((root / "lib.rs").read_text()))
    return re.findall(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", lib, flags=re.M)


def module_files(root: pathlib.Path, module: str) -> list[pathlib.Path]:
    files = []
    if (root / f"{module}.rs").exists():
        files.append(root / f"{module}.rs")
    if (root / module).is_dir():
        files.extend(sorted((root / module).rglob("*.rs")))
    return files


def table(root: pathlib.Path) -> dict[str, set[str]]:
    modules = top_modules(root)
    deps = {}
    for module in modules:
        used = set()
        for path in module_files(root, module):
            used |= references(strip_test_items(strip_comments(path.read_text())))
        deps[module] = {m for m in used if m in modules and m != module}
    return deps


def cycles(deps: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(deps[v]):
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
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(deps):
        if v not in index:
            visit(v)
    return out


def core_dependencies() -> set[str]:
    text = (ROOT / "actors" / "Cargo.toml").read_text()
    deps, section = set(), None
    for line in text.splitlines():
        header = re.match(r"\s*\[([^\]]+)\]", line)
        if header:
            section = header.group(1)
            continue
        if section == "dependencies":
            name = re.match(r"\s*([A-Za-z0-9_-]+)\s*(\.|=)", line)
            if name:
                deps.add(name.group(1))
    return deps


def main() -> int:
    markdown = "--markdown" in sys.argv
    failures = []
    for crate, root in CRATES.items():
        if not (root / "lib.rs").exists():
            continue
        deps = table(root)
        if markdown:
            print(f"\n`{crate}` ({root.relative_to(ROOT)}/):\n")
            print("| module | uses |")
            print("|---|---|")
            for module in sorted(deps):
                print(f"| `{module}` | {', '.join(f'`{d}`' for d in sorted(deps[module])) or '—'} |")
        else:
            print(f"{crate} ({root.relative_to(ROOT)}/)")
            for module in sorted(deps):
                print(f"  {module:<14} -> {', '.join(sorted(deps[module])) or '-'}")
        for comp in cycles(deps):
            failures.append(f"{crate}: import cycle between {', '.join(comp)}")
        allowed = ALLOWED.get(crate)
        if allowed is not None:
            for module in sorted(deps):
                if module not in allowed:
                    failures.append(f"{crate}: module {module} is not in the table of layers")
                    continue
                for target in sorted(deps[module] - allowed[module]):
                    failures.append(f"{crate}: forbidden arrow {module} -> {target}")
    bad = sorted(core_dependencies() & set(CORE_MUST_NOT_USE))
    if bad:
        failures.append(f"questpath-actors depends on {', '.join(bad)} (actors/Cargo.toml)")
    for failure in failures:
        print(f"layers: {failure}", file=sys.stderr)
    if failures:
        return 1
    if not markdown:
        print("layers: no import cycle, no forbidden arrow, the core crate is free of transports and drivers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
