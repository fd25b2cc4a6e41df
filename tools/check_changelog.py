"""Check dot0012's changelog fragments, and DOT's changelog entries in the upstream pull requests.

dot0012's own changelog (CHANGELOG.md, written by towncrier, configured in pyproject.toml's
[tool.towncrier]): every file in changelog.d/ but the template must be a fragment named
<issue>.<type>.md or +<name>.<type>.md (optionally <issue>.<type>.<n>.md), <issue> being the number
of an issue of this project's tracker and <type> one of the configured types, must not be empty, and
must not type a measurement (a number with a unit such as s, MiB or x): figures belong in results
files, see the documentation's Contributing page.

DOT's changelog (DOT has no towncrier): each pull request folder of patches/upstream/ must hold a docs
patch that adds to DOT's CHANGELOG.md a bullet in DOT's format, a line "* #<issue> ..." under a
"### <section>" heading of Keep a Changelog, and pull request 1's must also add a line to AUTHORS.

Run from anywhere: python tools/check_changelog.py. Exits with status 1 on a problem.
"""

import re
import sys
from pathlib import Path


try:
    import tomllib
except ImportError:  # Python < 3.11: towncrier depends on tomli there.
    import tomli as tomllib


ROOT = Path(__file__).resolve().parent.parent
UPSTREAM = ROOT / "patches" / "upstream"
ALWAYS_IGNORED = {".gitignore", ".gitkeep", ".keep", "readme", "readme.md", "readme.rst"}
# A number followed by a unit: a measurement, which has to come from a results file, not be typed.
MEASUREMENT = re.compile(
    r"(?<![\w.])\d[\d,.]*\s?(?:ms|s|seconds?|min|minutes?|hours?|KiB|MiB|GiB|kB|KB|MB|GB|%|x)(?![\w])"
)
# The sections of DOT's CHANGELOG.md (Keep a Changelog).
DOT_SECTIONS = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
DIFF_START = re.compile(r"^diff --git a/(\S+) b/", re.MULTILINE)


def towncrier_config():
    with open(ROOT / "pyproject.toml", "rb") as file:
        return tomllib.load(file)["tool"]["towncrier"]


def check_fragments(config):
    """(fragment file names, problems) for changelog.d/."""
    directory = ROOT / config["directory"]
    types = [entry["directory"] for entry in config["type"]]
    orphan = re.escape(config.get("orphan_prefix", "+"))
    alternatives = "|".join(re.escape(name) for name in types)
    name = re.compile(rf"(?:\d+|{orphan}[\w-]+)\.(?:{alternatives})(?:\.\d+)?\.md")
    ignored = ALWAYS_IGNORED | {Path(config["template"]).name.lower()}
    fragments, problems = [], []
    for path in sorted(directory.iterdir()):
        relative = path.relative_to(ROOT)
        if path.name.lower() in ignored:
            continue
        if not path.is_file() or not name.fullmatch(path.name):
            problems.append(
                f"{relative}: not a fragment name (<issue>.<type>.md or +<name>.<type>.md, <issue> a number "
                f"of this project's tracker, <type> one of {', '.join(types)})"
            )
            continue
        text = path.read_text(encoding="utf-8")
        if not text.strip():
            problems.append(f"{relative}: empty")
            continue
        for match in MEASUREMENT.finditer(text):
            problems.append(
                f"{relative}: {match.group()!r} looks like a typed measurement; leave it out, or point to "
                "the documentation, which renders it from a results file"
            )
        fragments.append(path.name)
    return fragments, problems


def file_diffs(patch_text):
    """{path: the lines of its diff} for each file a `git format-patch` file changes."""
    starts = list(DIFF_START.finditer(patch_text))
    diffs = {}
    for index, start in enumerate(starts):
        end = starts[index + 1].start() if index + 1 < len(starts) else len(patch_text)
        diffs[start[1]] = patch_text[start.start() : end].splitlines()
    return diffs


def changelog_bullets(lines):
    """[(section, bullet)] for each bullet "* #..." that a diff of CHANGELOG.md adds, with the "### "
    heading it sits under in the hunk (None if the hunk does not show it)."""
    bullets, section = [], None
    for line in lines:
        if line.startswith("@@"):
            section = None
            continue
        if line.startswith(("+++", "---")) or line[:1] not in ("+", " ", "-"):
            continue
        text = line[1:]
        if line[0] in "+ " and text.startswith("### "):
            section = text[4:].strip()
        elif line[0] == "+" and text.startswith("* #"):
            bullets.append((section, text))
    return bullets


def added_lines(lines):
    return [line[1:] for line in lines if line.startswith("+") and not line.startswith("+++")]


def pull_request_folders():
    """The pull request folders of patches/upstream/, in stack order (each name starts with the number)."""
    if not UPSTREAM.is_dir():
        return []
    folders = [folder for folder in UPSTREAM.iterdir() if folder.is_dir()]
    return sorted(folders, key=lambda folder: int(folder.name.split("-", 1)[0]))


def check_pull_request(folder):
    """(a summary line, problems) for one pull request folder of patches/upstream/."""
    relative = folder.relative_to(ROOT)
    problems = []
    docs = [
        (patch, diffs)
        for patch in sorted(folder.glob("*.patch"))
        if "CHANGELOG.md" in (diffs := file_diffs(patch.read_text(encoding="utf-8")))
    ]
    if not docs:
        return None, [f"{relative}: no patch changes CHANGELOG.md (the pull request's docs commit)"]
    summary = []
    for patch, diffs in docs:
        name = patch.relative_to(ROOT)
        bullets = changelog_bullets(diffs["CHANGELOG.md"])
        if not bullets:
            problems.append(f"{name}: adds no bullet '* #<issue> ...' to CHANGELOG.md")
        for section, bullet in bullets:
            if section is None:
                problems.append(f"{name}: the CHANGELOG.md hunk shows no '### ' heading above {bullet!r}")
            elif section not in DOT_SECTIONS:
                problems.append(f"{name}: {bullet!r} is under '### {section}', not one of DOT's sections")
            else:
                summary.append(f"{section}: {bullet.split()[1]}")
        if folder.name.split("-", 1)[0] == "1":
            authors = [line for line in added_lines(diffs.get("AUTHORS", [])) if line.strip()]
            if not authors:
                problems.append(f"{name}: pull request 1's docs commit adds no line to AUTHORS")
            else:
                summary.append(f"AUTHORS: {', '.join(authors)}")
    return (f"{relative}: {'; '.join(summary)}" if summary else None), problems


def main():
    config = towncrier_config()
    fragments, problems = check_fragments(config)
    print(f"changelog.d/: {len(fragments)} fragments")
    folders = pull_request_folders()
    if not folders:
        problems.append("no pull request folders under patches/upstream/")
    for folder in folders:
        summary, folder_problems = check_pull_request(folder)
        if summary:
            print(summary)
        problems += folder_problems
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
