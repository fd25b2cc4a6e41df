"""Run django-oauth-toolkit's own test suite on DOT master with the upstream stack applied.

The PyPI sdist of DOT ships tests/test_*.py but not what they need (tests/settings.py, conftest.py,
models.py, migrations/, the *_settings modules...), so DOT's suite runs only from a git checkout. The
`dotsuite-*` and `dotmigrations-*` tox envs call this script, which clones the DOT repository named by
DOT0012_DOT_REPO into DEST, checks out DOT_MASTER, applies pull requests 1 to N of patches/upstream/
with `git am`, installs the result with DOT's `test` extra into the running Python and runs, in the
checkout, what DOT's own tox runs, under the DJANGO_SETTINGS_MODULE the env sets:

    python tools/dot_suite.py test --prs all --dest DIR [-- PYTEST ARGS]   # pytest
    python tools/dot_suite.py migrations --prs 1 --dest DIR                # makemigrations --check
    python tools/dot_suite.py control --dest DIR [-- PYTEST ARGS]
    python tools/dot_suite.py lint --prs all --dest DIR                      # ruff, sphinx-lint

`control` applies no pull request: it takes pull request 1's new test file alone onto DOT master and
succeeds only if that test fails, by assertion and with no errors, i.e. the test shows the bug of
master as released. `lint` runs what DOT's lint and sphinxlint envs run (`ruff format --check`,
`ruff check`, `sphinx-lint docs/`) with the ruff and sphinx-lint of the running Python, installing
nothing.

Without DOT0012_DOT_REPO, or if it is not a git repository, this says so in one line and exits 0 (the
env skips). If the repository lacks DOT_MASTER or a patch does not apply, it exits 2 with a one-line
error.
"""

import argparse
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from importlib.metadata import version
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
UPSTREAM = ROOT / "patches" / "upstream"
# DOT master as the upstream stack is written against: the one place that names the commit.
DOT_MASTER = "0f9d49f4abe00bc5c605ed52cf42cd96a3ed2ae2"
# Pull request 1's regression test, which `control` runs against master without the fix.
CONTROL_TEST = "tests/test_migration_token_checksum_backfill.py"
# So that `git am` needs no name, e-mail or signing setup in the machine's git configuration.
GIT_IDENTITY = ["-c", "user.name=dot0012", "-c", "user.email=dot0012@invalid", "-c", "commit.gpgsign=false"]
PROG = "dot_suite"


class Failure(Exception):
    """A one-line error: exit status 2."""


def git(*args, cwd=None, check=True):
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if check and result.returncode:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise Failure(f"git {args[0]}: {lines[0] if lines else f'exit status {result.returncode}'}")
    return result


def dot_repository():
    """The DOT repository to clone, or None (the reason printed) when the env is to skip."""
    repo = os.environ.get("DOT0012_DOT_REPO", "")
    if not repo:
        print(f"{PROG}: skipped: DOT0012_DOT_REPO is not set (the path of a DOT git repository)")
        return None
    path = os.path.realpath(repo)
    # The repository itself (a work tree, its .git or a bare repository), not a folder inside another.
    tops = set()
    if os.path.isdir(path):
        for option in ("--absolute-git-dir", "--show-toplevel"):
            result = git("-C", path, "rev-parse", option, check=False)
            if result.returncode == 0:
                tops.add(os.path.realpath(result.stdout.strip()))
    if path not in tops:
        print(f"{PROG}: skipped: DOT0012_DOT_REPO={repo} is not a git repository")
        return None
    if git("-C", path, "cat-file", "-e", f"{DOT_MASTER}^{{commit}}", check=False).returncode:
        raise Failure(f"DOT0012_DOT_REPO={repo} lacks DOT master's commit {DOT_MASTER}")
    return path


def pull_requests(count="all"):
    """The first `count` (or all) pull request folders of the stack, in stack order (each folder's name
    starts with its number)."""
    folders = sorted(
        (folder for folder in UPSTREAM.iterdir() if folder.is_dir()),
        key=lambda folder: int(folder.name.split("-", 1)[0]),
    )
    if count == "all":
        return folders
    if not str(count).isdigit() or not 1 <= int(count) <= len(folders):
        raise Failure(f"--prs must be all or 1 to {len(folders)}, not {count}")
    return folders[: int(count)]


def checkout(repo, dest):
    """A fresh clone of `repo` in `dest`, at DOT_MASTER."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    git("clone", "--quiet", "--no-checkout", repo, str(dest))
    git("-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", DOT_MASTER, cwd=dest)
    print(f"{PROG}: DOT {DOT_MASTER[:8]} cloned from {repo} into {dest}")


def apply_pull_requests(dest, folders):
    for folder in folders:
        patches = sorted(str(patch) for patch in folder.glob("*.patch"))
        if git(*GIT_IDENTITY, "am", "--quiet", *patches, cwd=dest, check=False).returncode:
            git("am", "--abort", cwd=dest, check=False)
            raise Failure(f"git am of patches/upstream/{folder.name} does not apply to DOT {DOT_MASTER[:8]}")
        print(f"{PROG}: applied patches/upstream/{folder.name} ({len(patches)} patches)")


def apply_control_test(dest):
    """Pull request 1's new test file alone, from the pull request's patch that adds it."""
    (folder,) = pull_requests(1)
    marker = f"diff --git a/{CONTROL_TEST} b/{CONTROL_TEST}\n"
    patches = [patch for patch in sorted(folder.glob("*.patch")) if marker in patch.read_text()]
    if not patches:
        raise Failure(f"no patch of patches/upstream/{folder.name} adds {CONTROL_TEST}")
    if (dest / CONTROL_TEST).exists():
        raise Failure(f"DOT {DOT_MASTER[:8]} has {CONTROL_TEST} already")
    git("apply", f"--include={CONTROL_TEST}", str(patches[0]), cwd=dest)
    print(f"{PROG}: took {CONTROL_TEST} alone from patches/upstream/{patches[0].relative_to(UPSTREAM)}")


def install(dest):
    """
    DOT from the checkout with its test extra, as DOT's tox installs it (`extras = test`), keeping the
    Django the env installed: without the pin, the newest django-ninja of the extra upgrades Django.
    """
    django = f"django=={version('django')}"
    command = [sys.executable, "-m", "pip", "install", "--quiet", f"{dest}[test]", django]
    if subprocess.run(command).returncode:
        raise Failure("pip install of the DOT checkout failed")


def run(command, dest):
    """`command` in the checkout, with the checkout on PYTHONPATH as DOT's tox sets it."""
    env = dict(os.environ, PYTHONPATH=str(dest))
    print(f"{PROG}: {' '.join(command)} (DJANGO_SETTINGS_MODULE={env.get('DJANGO_SETTINGS_MODULE')})")
    sys.stdout.flush()
    return subprocess.run(command, cwd=dest, env=env).returncode


def check_control(report, status):
    """0 if pytest's run of the control test failed, by assertion only; else 1, saying why."""
    failed, errors, other = [], [], []
    if report.exists():
        for case in ElementTree.parse(report).iter("testcase"):
            for failure in case.iter("failure"):
                message = failure.get("message", "")
                (failed if message.startswith("AssertionError") else other).append(case.get("name"))
            errors.extend(case.get("name") for _ in case.iter("error"))
    # pytest's exit status 1 is "tests failed"; 2 to 5 are interruptions, usage errors, no tests.
    if status != 1 or errors or other or not failed:
        print(
            f"{PROG}: control FAILED: {CONTROL_TEST} should fail on DOT master by assertion only; pytest "
            f"exit status {status}, assertion failures {failed}, errors {errors}, other failures {other}"
        )
        return 1
    print(f"{PROG}: control passed: {CONTROL_TEST} fails on DOT master as released ({', '.join(failed)})")
    return 0


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], epilog="Arguments after -- go to pytest."
    )
    parser.add_argument("mode", choices=["test", "migrations", "control", "lint"])
    parser.add_argument("--prs", default="all", help="pull requests to apply: 1 to N, or all (the default)")
    parser.add_argument("--dest", type=Path, required=True, help="where to clone DOT (removed first)")
    argv = sys.argv[1:]
    # What follows --, even nothing (tox's empty {posargs}), is pytest's.
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    pytest_args = argv[split + 1 :]
    dest = args.dest.resolve()
    try:
        stack = pull_requests(args.prs)
        repo = dot_repository()
        if repo is None:
            return 0
        checkout(repo, dest)
        if args.mode == "control":
            apply_control_test(dest)
        else:
            apply_pull_requests(dest, stack)
        if args.mode != "lint":
            install(dest)
    except Failure as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    if args.mode == "lint":
        # DOT's [testenv:lint] and [testenv:sphinxlint].
        commands = (["ruff", "format", "--check"], ["ruff", "check"], ["sphinx-lint", "docs/"])
        return max(run(command, dest) for command in commands)
    if args.mode == "migrations":
        # DOT's [testenv:.migrations-base]: connect first, then check that no migration is missing.
        connect = (
            "import django; django.setup(); from django.db import connections; "
            "c=connections['default']; c.ensure_connection(); c.close()"
        )
        return run([sys.executable, "-c", connect], dest) or run(
            ["django-admin", "makemigrations", "--dry-run", "--check"], dest
        )
    if args.mode == "control":
        report = dest / "control-junit.xml"
        command = [sys.executable, "-m", "pytest", CONTROL_TEST, f"--junitxml={report}", *pytest_args]
        return check_control(report, run(command, dest))
    return run([sys.executable, "-m", "pytest", *pytest_args], dest)


if __name__ == "__main__":
    sys.exit(main())
