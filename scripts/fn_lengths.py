#!/usr/bin/env python3
"""The longest Rust functions under some folders, in lines from `fn` to its closing brace.

    python3 scripts/fn_lengths.py crates/neuron/src/train crates/neuron-cli/src/train [--top 5]

Braces inside string and character literals and comments are skipped; test modules count like
any other code.
"""

import os
import re
import sys

FN = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?((const|async|unsafe|extern\s+\"C\")\s+)*fn\s+(\w+)")
STRING = re.compile(r'r#*"|"(\\.|[^"\\])*"|\'(\\.|[^\'\\])\'')


def code(line):
    """The line without comments and the contents of literals."""
    line = STRING.sub('""', line)
    return line.split("//", 1)[0]


def functions(path):
    lines = open(path, encoding="utf-8").read().split("\n")
    for i, line in enumerate(lines):
        m = FN.match(line)
        if not m:
            continue
        depth, opened = 0, False
        for j in range(i, len(lines)):
            text = code(lines[j])
            if not opened and ";" in text and "{" not in text:
                break  # a declaration without a body
            for ch in text:
                if ch == "{":
                    depth, opened = depth + 1, True
                elif ch == "}":
                    depth -= 1
            if opened and depth == 0:
                yield j - i + 1, f"{path}:{i + 1} {m.group(5)}"
                break


def main():
    args = sys.argv[1:]
    top = 5
    if "--top" in args:
        k = args.index("--top")
        top = int(args[k + 1])
        del args[k : k + 2]
    found = []
    for root in args:
        if root.endswith(".rs"):
            found += list(functions(root))
        for d, _, files in os.walk(root):
            found += [f for name in files if name.endswith(".rs")
                      for f in functions(os.path.join(d, name))]
    for n, where in sorted(found, reverse=True)[:top]:
        print(f"{n:4d}  {where}")


if __name__ == "__main__":
    main()
