"""Fail on a measured figure typed into the prose instead of rendered from a results file.

Every measurement in README.md, docs/, changelog.d/ and the commit messages of every series in
patches/ (the backports and the upstream stack) must come from a committed results file written by a
command. In the Sphinx docs they are rendered by the `:result:` role and the `result-table` directive
(docs/_ext/results.py), which fail the build when their row is missing; this check finds what was
typed instead: a number with a unit of time, memory or ratio ("2.8 s", "70 MB", "5.9 x", "12%").
Constants of the code, versions, ports, issue numbers and token counts carry no such unit and are not
looked at.

    python tools/check_numbers.py    # exit 1 and one line per figure found
"""

import re
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
MEASUREMENT = re.compile(
    r"(?<![\w.:/-])\d[\d,]*(\.\d+)?\s?(?:s|ms|sec|seconds|min|minutes|MiB|MB|GiB|GB|KiB|kB|x|×|%)(?![\w/])"
)
# A line may name a figure's unit in a command's options or in an explanation of a setting; these
# are not measurements.
ALLOWED = (
    re.compile(r"--slow-seconds \d+"),
    re.compile(r"lock_timeout=\d+s"),
    re.compile(r"limit_memory\(\"\d+ MB\"\)"),
)
# A bound, a limit or an interval that the code or the tests set is a constant, not a measurement.
CONSTANT_BEFORE = re.compile(
    r"(bound|limit|at most|at least|under|within|below|every|over|than)\s+(of\s+|a\s+|an\s+)?$"
)


def prose_files():
    yield ROOT / "README.md"
    for path in sorted((ROOT / "docs").rglob("*.rst")):
        if "_build" not in path.parts:
            yield path
    yield from sorted((ROOT / "changelog.d").glob("*.md"))


def commit_messages():
    """Each patch's commit message, from the Subject: line to the --- before the diff: the backport series
    (patches/<DOT version>/) and the upstream pull requests (patches/upstream/<pull request>/)."""
    for patch in sorted((ROOT / "patches").rglob("*.patch")):
        text = patch.read_text()
        start = text.index("Subject:")
        end = text.index("\n---\n", start)
        yield patch, text[start:end], text[:start].count("\n") + 1


def figures(text, first_line=1):
    for number, line in enumerate(text.splitlines(), start=first_line):
        for allowed in ALLOWED:
            line = allowed.sub("", line)
        for match in MEASUREMENT.finditer(line):
            if not CONSTANT_BEFORE.search(line[: match.start()]):
                yield number, match.group(0)


def main():
    found = []
    for path in prose_files():
        found += [(path, line, figure) for line, figure in figures(path.read_text())]
    for patch, message, first_line in commit_messages():
        found += [(patch, line, figure) for line, figure in figures(message, first_line)]
    for path, line, figure in found:
        print(f"{path.relative_to(ROOT)}:{line}: typed figure {figure!r}: render it from a results file")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
