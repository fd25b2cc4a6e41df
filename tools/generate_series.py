"""Generate the backport series patches/3.4.1/ and patches/3.0.0/ from their canonical sources.

patches/3.4.1/ comes from the upstream pull requests in patches/upstream/: each pull request folder
holds a code patch (oauth2_provider/ and tests/, which the PyPI sdist ships) and a docs patch
(CHANGELOG.md, AUTHORS and docs/, which the sdist does not ship or ships older). The 3.4.1 series is the
code patches of every pull request, in stack order, renumbered: `dot0012 prepare --dot 3.4.1 --series 1`
is pull request 1 alone and `--series all` the whole stack. DOT's 0012 and 0015 are byte-identical
between 3.4.1 and master, so the same patches apply to both.

patches/3.0.1/ is the canonical source of the backfill code of the 3.0.x series, kept by hand. 3.0.0
differs from 3.0.1 in two ways only, both kept here as data:
- its 0012 has no backfill at all, so its first patch adds one (patches/3.0.0/ patch 1, kept by hand:
  OWN_PATCHES), where 3.0.1's first patch rewrites the `.all()` loop it has;
- the final AlterField of 0012 declares token_checksum as each release wrote it, which the patches
  leave alone: blank=False in 3.0.1 (FIELD_IN_3_0_1), blank=True in 3.0.0 (FIELD_IN_3_0_0), which on
  MySQL gives the column a default of '' during the NOT NULL step (docs/design.rst).
Patches 2 to 5 of 3.0.0 are 3.0.1's, with their messages, authors and dates: each one's 0012 is 3.0.1's
at the same step with FIELD_IN_3_0_1 replaced by FIELD_IN_3_0_0. This needs DOT's git repository:
DOT0012_DOT_REPO, or the mirror at DEFAULT_DOT_REPO.

    python tools/generate_series.py          # rewrite patches/3.4.1/ and patches/3.0.0/
    python tools/generate_series.py --check  # exit 1, one line per difference, if they are not what it
                                             # would write, or if the patched files below differ

What --check also verifies, on the series as committed, each applied with `git am` to its DOT tag:
- the patched 0012 of 3.0.0 is the patched 0012 of 3.0.1 with FIELD_IN_3_0_1 replaced by FIELD_IN_3_0_0
  (the backfill code, imports, helpers and operations are identical);
- the patched 0012 and 0015 of 3.4.1 are those of DOT master with the upstream stack applied.
Without a DOT repository it checks patches/3.4.1/ only and says in one line that it skipped the rest.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from dot_suite import DOT_MASTER


ROOT = Path(__file__).resolve().parents[1]
PATCHES = ROOT / "patches"
UPSTREAM = PATCHES / "upstream"
DEFAULT_DOT_REPO = Path("/work/.mirror/django-oauth+django-oauth-toolkit/repo")
# What the sdist ships, and so what a code patch may touch.
SDIST_PATHS = ("oauth2_provider/", "tests/")
SUBJECT = re.compile(r"^Subject: \[PATCH \d+/\d+\]", re.MULTILINE)
DIFF_PATH = re.compile(r"^diff --git a/(\S+) b/", re.MULTILINE)

MIGRATION_0012 = "oauth2_provider/migrations/0012_add_token_checksum.py"
MIGRATION_0015 = "oauth2_provider/migrations/0015_refreshtoken_token_checksum.py"
CANONICAL = "3.0.1"
BACKPORT = "3.0.0"
# How many of the first patches of patches/3.0.0/ are its own, kept by hand; the rest are generated.
OWN_PATCHES = 1
# The token_checksum field of 0012's final operation, verbatim as each release wrote it: not only the
# quotes differ, blank does too, and the patches keep each release's.
FIELD_IN_3_0_1 = """\
            model_name='accesstoken',
            name='token_checksum',
            field=oauth2_provider.models.TokenChecksumField(blank=False, max_length=64,  db_index=True, unique=True),
"""  # noqa: E501
FIELD_IN_3_0_0 = """\
            model_name="accesstoken",
            name="token_checksum",
            field=oauth2_provider.models.TokenChecksumField(
                blank=True, db_index=True, max_length=64, unique=True
            ),
"""
# The git version that wrote the hand-kept patches, pinned so that the output does not depend on the
# git that runs this script.
SIGNATURE = "2.39.5"
# Neither the user's nor the system's git configuration (diff.algorithm, format.signOff...) may change
# what format-patch writes; the identity only names the committer, which format-patch does not write.
GIT_ENV = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
GIT_IDENTITY = ["-c", "user.name=dot0012", "-c", "user.email=dot0012@invalid", "-c", "commit.gpgsign=false"]


class Failure(Exception):
    """A one-line error: exit status 2."""


def git(*args, cwd, stdin=None):
    result = subprocess.run(
        ["git", *GIT_IDENTITY, *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
    )
    if result.returncode:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise Failure(f"git {args[0]} in {cwd}: {lines[-1] if lines else f'exit {result.returncode}'}")
    return result.stdout


# patches/3.4.1/ from the upstream stack


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


def series_3_4_1():
    """{file name: text} of the 3.4.1 series."""
    patches = code_patches()
    files = {}
    for number, patch in enumerate(patches, start=1):
        text = SUBJECT.sub(f"Subject: [PATCH {number}/{len(patches)}]", patch.read_text(), count=1)
        name = re.sub(r"^\d{4}", f"{number:04}", patch.name)
        files[name] = text
    return files


# patches/3.0.0/ from patches/3.0.1/, in a clone of DOT


def dot_repository():
    """DOT's git repository, or None when there is none here."""
    repo = os.environ.get("DOT0012_DOT_REPO")
    if repo:
        return Path(repo)
    return DEFAULT_DOT_REPO if DEFAULT_DOT_REPO.exists() else None


def series_patches(version):
    return sorted((PATCHES / version).glob("*.patch"))


def apply_series(clone, tag, patches):
    """Check out a branch named after the tag, at the tag, and `git am` the patches onto it."""
    git("checkout", "--quiet", "--force", "-B", f"series-{tag}", tag, cwd=clone)
    if patches:
        git("am", "--quiet", *map(str, patches), cwd=clone)
    return f"series-{tag}"


def file_at(clone, commit, path):
    return git("show", f"{commit}:{path}", cwd=clone)


def as_in_3_0_0(migration_0012):
    """3.0.1's 0012, at any step of its series, with the final field as 3.0.0 declares it."""
    if migration_0012.count(FIELD_IN_3_0_1) != 1:
        raise Failure("3.0.1's 0012 no longer declares its final field once as FIELD_IN_3_0_1 says")
    return migration_0012.replace(FIELD_IN_3_0_1, FIELD_IN_3_0_0)


def series_3_0_0(clone):
    """{file name: text} of the 3.0.0 series, built in the clone."""
    canonical = apply_series(clone, CANONICAL, series_patches(CANONICAL))
    canonical_commits = git("rev-list", "--reverse", f"{CANONICAL}..{canonical}", cwd=clone).split()
    branch = apply_series(clone, BACKPORT, series_patches(BACKPORT)[:OWN_PATCHES])
    for commit in canonical_commits[OWN_PATCHES:]:
        touched = git("diff-tree", "--no-commit-id", "--name-only", "-r", commit, cwd=clone).split()
        if touched != [MIGRATION_0012]:
            raise Failure(f"a patch of patches/{CANONICAL}/ touches {touched}, not only {MIGRATION_0012}")
        (clone / MIGRATION_0012).write_text(as_in_3_0_0(file_at(clone, commit, MIGRATION_0012)))
        # -C takes the canonical commit's message, author and author date, which format-patch writes.
        git("commit", "--quiet", "--all", "-C", commit, cwd=clone)
    out = Path(tempfile.mkdtemp(dir=clone.parent))
    git(
        "format-patch", "--quiet", "--zero-commit", f"--signature={SIGNATURE}", "-o", str(out),
        f"{BACKPORT}..{branch}", cwd=clone,
    )  # fmt: skip
    return {patch.name: patch.read_text() for patch in sorted(out.glob("*.patch"))}


def equivalence_failures(clone):
    """One line per patched file that is not what it must be equal to (see the module's docstring)."""
    failures = []
    patched_3_0_0 = apply_series(clone, "3.0.0", series_patches("3.0.0"))
    patched_3_0_1 = apply_series(clone, "3.0.1", series_patches("3.0.1"))
    if file_at(clone, patched_3_0_0, MIGRATION_0012) != as_in_3_0_0(
        file_at(clone, patched_3_0_1, MIGRATION_0012)
    ):
        failures.append(f"{MIGRATION_0012} patched by 3.0.0's series is not 3.0.1's with 3.0.0's own field")
    patched_3_4_1 = apply_series(clone, "3.4.1", series_patches("3.4.1"))
    git("checkout", "--quiet", "--force", "-B", "upstream-stack", DOT_MASTER, cwd=clone)
    for folder in pull_requests():
        git("am", "--quiet", *map(str, sorted(folder.glob("*.patch"))), cwd=clone)
    for path in (MIGRATION_0012, MIGRATION_0015):
        if file_at(clone, patched_3_4_1, path) != file_at(clone, "upstream-stack", path):
            failures.append(f"{path} patched by 3.4.1's series is not DOT master's with the upstream stack")
    return failures


# Writing and checking


def differences(folder, wanted):
    """One line per file of patches/<folder>/ that is not what the script writes."""
    current = {patch.name: patch.read_text() for patch in (PATCHES / folder).glob("*.patch")}
    lines = []
    for name in sorted(current.keys() | wanted.keys()):
        if name not in wanted:
            lines.append(f"patches/{folder}/{name}: not written by tools/generate_series.py")
        elif name not in current:
            lines.append(f"patches/{folder}/{name}: missing")
        elif current[name] != wanted[name]:
            lines.append(f"patches/{folder}/{name}: differs from what tools/generate_series.py writes")
    return lines


def write(folder, wanted):
    directory = PATCHES / folder
    directory.mkdir(parents=True, exist_ok=True)
    for patch in directory.glob("*.patch"):
        if patch.name not in wanted:
            patch.unlink()
    for name, text in wanted.items():
        (directory / name).write_text(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the series are up to date")
    args = parser.parse_args()
    wanted = {"3.4.1": series_3_4_1()}
    repo = dot_repository()
    failures = []
    if repo is None:
        print(
            f"generate_series: patches/{BACKPORT}/ and the patched files not checked: no DOT repository "
            f"(set DOT0012_DOT_REPO to a DOT git repository; {DEFAULT_DOT_REPO} is absent)"
        )
    else:
        with tempfile.TemporaryDirectory(prefix="generate_series-") as temp:
            clone = Path(temp) / "dot"
            try:
                git("clone", "--quiet", "--no-checkout", str(repo), str(clone), cwd=temp)
                wanted[BACKPORT] = series_3_0_0(clone)
                if args.check:
                    failures = equivalence_failures(clone)
            except Failure as error:
                print(f"generate_series: {error}", file=sys.stderr)
                return 2
    if args.check:
        for folder, files in wanted.items():
            failures += differences(folder, files)
        for line in failures:
            print(line, file=sys.stderr)
        if failures:
            print("generate_series: python tools/generate_series.py rewrites the series", file=sys.stderr)
        return 1 if failures else 0
    for folder, files in wanted.items():
        write(folder, files)
    return 0


if __name__ == "__main__":
    sys.exit(main())
