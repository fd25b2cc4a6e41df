"""Check that the changelog fragments cover every patch series.

Every patch under patches/<DOT version>/ must name the upstream issues it addresses in its commit
message, with a "Refs #N" (or "Fixes #N", "Closes #N") line, and every such issue must have a
fragment changelog.d/<N>.<type>.md, <type> being one of the sections configured in pyproject.toml
([tool.towncrier]). Every file in changelog.d/ must be a well-named, non-empty fragment.

Run from the repository root: python tools/check_changelog.py. Exits with status 1 on a problem.
"""

import re
import sys
from pathlib import Path


try:
    import tomllib
except ImportError:  # Python < 3.11: towncrier depends on tomli there.
    import tomli as tomllib


ROOT = Path(__file__).resolve().parent.parent
ISSUE_LINE = re.compile(r"^(?:Refs|Fixes|Closes)\b(?P<refs>.*)$", re.IGNORECASE | re.MULTILINE)
ISSUE = re.compile(r"#(\d+)")
ALWAYS_IGNORED = {".gitignore", ".gitkeep", ".keep", "readme", "readme.md", "readme.rst"}


def towncrier_config():
    with open(ROOT / "pyproject.toml", "rb") as file:
        return tomllib.load(file)["tool"]["towncrier"]


def fragments(config):
    """{issue: [file names]} for the fragments, and a list of problems with the directory's files."""
    directory = ROOT / config["directory"]
    types = "|".join(re.escape(entry["directory"]) for entry in config["type"])
    orphan = re.escape(config.get("orphan_prefix", "+"))
    name = re.compile(rf"(?P<issue>\d+|{orphan}[\w-]+)\.(?:{types})(?:\.\d+)?\.md")
    ignored = ALWAYS_IGNORED | {Path(config["template"]).name.lower()}
    by_issue, problems = {}, []
    for path in sorted(directory.iterdir()):
        if path.name.lower() in ignored:
            continue
        match = name.fullmatch(path.name)
        if not match:
            problems.append(
                f"{path.relative_to(ROOT)}: not a fragment name (<issue>.<type>.md or +<name>.<type>.md, "
                f"type one of {types.replace('|', ', ')})"
            )
        elif not path.read_text(encoding="utf-8").strip():
            problems.append(f"{path.relative_to(ROOT)}: empty")
        else:
            by_issue.setdefault(match["issue"], []).append(path.name)
    return by_issue, problems


def commit_message(patch):
    """The subject and body of a `git format-patch` file: from Subject: to the --- line."""
    text = patch.read_text(encoding="utf-8")
    start = text.index("\nSubject:")
    end = text.index("\n---\n", start)
    return text[start:end]


def main():
    config = towncrier_config()
    by_issue, problems = fragments(config)
    patches = sorted((ROOT / "patches").glob("*/*.patch"))
    if not patches:
        problems.append("no patches under patches/<version>/")
    for patch in patches:
        name = patch.relative_to(ROOT)
        issues = [
            issue
            for line in ISSUE_LINE.finditer(commit_message(patch))
            for issue in ISSUE.findall(line["refs"])
        ]
        if not issues:
            problems.append(f"{name}: the commit message has no 'Refs #N' line naming the upstream issue")
        for issue in issues:
            if issue in by_issue:
                print(f"{name}: #{issue} -> {', '.join(by_issue[issue])}")
            else:
                problems.append(
                    f"{name}: refers to #{issue}, which has no fragment changelog.d/{issue}.<type>.md"
                )
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
