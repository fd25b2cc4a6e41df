"""Generate patches/3.4.1/ from the upstream pull requests in patches/upstream/.

The upstream stack is the one source of the 3.4.1 series: each pull request folder holds a code patch
(oauth2_provider/ and tests/, which the PyPI sdist ships) and a docs patch (CHANGELOG.md, AUTHORS and
docs/, which the sdist does not ship or ships older). The 3.4.1 series is the code patches of every
pull request, in stack order, renumbered: `dot0012 prepare --dot 3.4.1 --series 1` is pull request 1
alone and `--series all` the whole stack. DOT's 0012 and 0015 are byte-identical between 3.4.1 and
master, so the same patches apply to both.

    python tools/generate_series.py          # rewrite patches/3.4.1/
    python tools/generate_series.py --check  # exit 1 if patches/3.4.1/ is not what it would write
"""

import argparse
import re
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
UPSTREAM = ROOT / "patches" / "upstream"
SERIES = ROOT / "patches" / "3.4.1"
# What the sdist ships, and so what a code patch may touch.
SDIST_PATHS = ("oauth2_provider/", "tests/")
SUBJECT = re.compile(r"^Subject: \[PATCH \d+/\d+\]", re.MULTILINE)
DIFF_PATH = re.compile(r"^diff --git a/(\S+) b/", re.MULTILINE)


def pull_requests():
    """The pull request folders of the stack, in stack order (their names start with the number)."""
    folders = [folder for folder in UPSTREAM.iterdir() if folder.is_dir()]
    return sorted(folders, key=lambda folder: int(folder.name.split("-", 1)[0]))


def code_patches():
    """Each pull request's patches that touch only what the sdist ships, in stack order."""
    patches = []
    for folder in pull_requests():
        for patch in sorted(folder.glob("*.patch")):
            paths = DIFF_PATH.findall(patch.read_text())
            if paths and all(path.startswith(SDIST_PATHS) for path in paths):
                patches.append(patch)
    return patches


def series_files():
    """{file name: text} of the 3.4.1 series."""
    patches = code_patches()
    files = {}
    for number, patch in enumerate(patches, start=1):
        text = SUBJECT.sub(f"Subject: [PATCH {number}/{len(patches)}]", patch.read_text(), count=1)
        name = re.sub(r"^\d{4}", f"{number:04}", patch.name)
        files[name] = text
    return files


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that patches/3.4.1/ is up to date")
    args = parser.parse_args()
    wanted = series_files()
    current = {patch.name: patch.read_text() for patch in SERIES.glob("*.patch")}
    if args.check:
        if wanted != current:
            print(
                "patches/3.4.1/ is not generated from patches/upstream/: run python tools/generate_series.py",
                file=sys.stderr,
            )
            return 1
        return 0
    SERIES.mkdir(parents=True, exist_ok=True)
    for name in current.keys() - wanted.keys():
        (SERIES / name).unlink()
    for name, text in wanted.items():
        (SERIES / name).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
