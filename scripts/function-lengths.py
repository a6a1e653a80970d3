#!/usr/bin/env python3
"""List C++/CUDA functions longer than a limit (default 80 lines).

Brace-matching scan: a '{' whose preceding text ends in ')' (optionally followed by
const/noexcept/override/-> type/mutable) opens a function or lambda body. Lambdas count
toward their enclosing function and are also reported on their own if long.
Skips tests/, third_party/, build/. Exits 1 if any function is over the limit.
Usage: scripts/function-lengths.py [--limit N] [root]
"""
import argparse, pathlib, re, sys

SKIP = {"tests", "third_party", "build", ".git"}
TAIL = re.compile(r"\)\s*(const|noexcept|override|final|mutable|->\s*[\w:<>,\s*&]+|\s)*$")
NAME = re.compile(r"([~\w:]+|\])\s*\([^()]*(\([^()]*\)[^()]*)*\)[^()]*$", re.S)
KEYWORDS = {"if", "for", "while", "switch", "catch", "return"}

def strip(text):
    """Blank out comments and string/char literals, keeping newlines."""
    pat = re.compile(r'//[^\n]*|/\*.*?\*/|R"(\w*)\(.*?\)\1"|"(\\.|[^"\\\n])*"|\'(\\.|[^\'\\\n])*\'', re.S)
    return pat.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)

def scan(path, limit):
    text = strip(path.read_text(errors="replace"))
    stack, found = [], []  # stack entries: (name or None, start line)
    line = 1
    for i, ch in enumerate(text):
        if ch == "\n":
            line += 1
        elif ch == "{":
            before = text[max(0, i - 400):i]
            name = None
            if TAIL.search(before):
                m = NAME.search(before[:TAIL.search(before).start() + 1])
                if m and m.group(1) not in KEYWORDS:
                    name = "<lambda>" if m.group(1) == "]" else m.group(1)
            stack.append((name, line))
        elif ch == "}" and stack:
            name, start = stack.pop()
            if name and line - start + 1 > limit:
                found.append((start, name, line - start + 1))
    return found

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=80)
    ap.add_argument("root", nargs="?", default=".")
    args = ap.parse_args()
    bad = 0
    for p in sorted(pathlib.Path(args.root).rglob("*")):
        if p.suffix in {".cpp", ".h", ".cu"} and not SKIP & set(p.parts):
            for start, name, n in scan(p, args.limit):
                print(f"{p}:{start} {name} {n}")
                bad += 1
    return 1 if bad else 0

if __name__ == "__main__":
    sys.exit(main())
