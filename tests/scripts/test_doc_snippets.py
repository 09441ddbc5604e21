#!/usr/bin/python3
"""Every C++ block of the documentation is a program that is compiled.

Each ```cpp block in README.md and in docs/**/*.md must equal the marked
region of one file in examples/snippets/ (the lines between `// [snippet]`
and `// [end snippet]`), ignoring trailing whitespace; examples/CMakeLists.txt
builds every one of those files, so a block cannot drift from the API
without breaking the build or this test. A snippet file without a marked
region fails too. Standard library only.

    tests/scripts/test_doc_snippets.py [--root FOLDER]   (default: this repository)
"""
import argparse
import re
import sys
from pathlib import Path

FENCE_OPEN = re.compile(r"^(\s*)```\s*(cpp|c\+\+|cxx)\s*$")
FENCE_CLOSE = re.compile(r"^\s*```\s*$")
BEGIN, END = "// [snippet]", "// [end snippet]"


def normalise(lines):
    """Lines without trailing whitespace, and without blank lines at either end."""
    lines = [line.rstrip() for line in lines]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return tuple(lines)


def cpp_blocks(markdown):
    """(line of the opening fence, the block's lines) for every C++ block."""
    lines = markdown.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        opening = FENCE_OPEN.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, start, body = len(opening.group(1)), i + 1, []
        i += 1
        while i < len(lines) and not FENCE_CLOSE.match(lines[i]):
            # A block inside a list item is indented as its fence is.
            line = lines[i]
            body.append(line[indent:] if line[:indent].strip() == "" else line)
            i += 1
        if i == len(lines):
            raise ValueError(f"{markdown}:{start}: a ```cpp block that is never closed")
        blocks.append((start, normalise(body)))
        i += 1
    return blocks


def marked_regions(snippet):
    """The marked regions of a snippet file, or a reason it has none that can be used."""
    regions, inside, problems = [], None, []
    for number, line in enumerate(snippet.read_text(encoding="utf-8").splitlines(), 1):
        marker = line.strip()
        if marker == BEGIN:
            if inside is not None:
                problems.append(f"line {number}: {BEGIN} inside a region opened on line {inside[0]}")
            inside = (number, [])
        elif marker == END:
            if inside is None:
                problems.append(f"line {number}: {END} without {BEGIN}")
            else:
                regions.append(normalise(inside[1]))
                inside = None
        elif inside is not None:
            inside[1].append(line)
    if inside is not None:
        problems.append(f"line {inside[0]}: {BEGIN} never closed by {END}")
    if not regions and not problems:
        problems.append(f"no marked region ({BEGIN} ... {END})")
    return regions, problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[2])
    root = parser.parse_args().root.resolve()

    failures = []
    regions = {}  # region -> the snippet files that mark it
    snippet_files = sorted((root / "examples" / "snippets").glob("*.cpp"))
    if not snippet_files:
        failures.append("examples/snippets/ holds no .cpp file")
    for snippet in snippet_files:
        found, problems = marked_regions(snippet)
        failures += [f"{snippet.relative_to(root)}: {p}" for p in problems]
        for region in found:
            regions.setdefault(region, []).append(snippet.relative_to(root))

    documents = [root / "README.md"] + sorted((root / "docs").rglob("*.md"))
    shown, block_count = set(), 0
    for document in documents:
        if not document.exists():
            continue
        try:
            blocks = cpp_blocks(document)
        except ValueError as e:
            failures.append(str(e))
            continue
        for line, block in blocks:
            block_count += 1
            if block in regions:
                shown.add(block)
                continue
            first = block[0] if block else "(empty)"
            failures.append(f"{document.relative_to(root)}:{line}: this ```cpp block (starting {first!r}) is no "
                            f"compiled program's marked region; put the program in examples/snippets/ with the "
                            f"block between {BEGIN} and {END}, or make the block equal its region")

    for region, files in sorted(regions.items(), key=lambda item: str(item[1])):
        if region not in shown:
            print(f"note: the marked region of {', '.join(map(str, files))} is shown in no document")
    for failure in failures:
        print("FAIL:", failure)
    if failures:
        return 1
    print(f"ok: {block_count} C++ blocks in {len(documents)} documents, each a marked region of "
          f"{len(snippet_files)} compiled snippet programs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
