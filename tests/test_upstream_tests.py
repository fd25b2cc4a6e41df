"""
The regression tests our series adds to DOT's own tests/ (patches/3.4.1/0006), run against the
installed DOT: they pass with the series and fail, on the LIMIT check, against 3.4.1 as released.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import installed_dot_version


ROOT = Path(__file__).resolve().parent.parent
UPSTREAM_TEST = "tests/test_migration_0012_backfill.py"


def patch_adding(path, version):
    """The patch of our series for `version` that adds `path` to DOT, or None."""
    for patch in sorted((ROOT / "patches" / version).glob("*.patch")):
        if f"\n+++ b/{path}\n" in patch.read_text():
            return patch
    return None


def run_upstream_test(tmp_path):
    """Extract DOT's test from its patch and run it with our settings on a database of its own."""
    patch = patch_adding(UPSTREAM_TEST, "3.4.1")
    subprocess.run(
        ["git", "apply", f"--include={UPSTREAM_TEST}", str(patch)],
        cwd=tmp_path,
        env={**os.environ, "GIT_CEILING_DIRECTORIES": str(tmp_path.parent)},
        check=True,
    )
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        # The outer test run uses the test database of DOT0012_DB_NAME; this one must not touch it.
        "DOT0012_DB_NAME": os.environ.get("DOT0012_DB_NAME", "dot0012") + "_upstream",
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", "-q", UPSTREAM_TEST],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_upstream_regression_tests_pass(tmp_path):
    if installed_dot_version() != "3.4.1" or not patch_adding(UPSTREAM_TEST, "3.4.1"):
        pytest.skip(f"our series adds {UPSTREAM_TEST} to DOT 3.4.1 only")

    result = run_upstream_test(tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout.splitlines()[-1], result.stdout


@pytest.mark.control("3.4.1", series="none")
def test_the_upstream_regression_tests_fail_as_released(tmp_path):
    result = run_upstream_test(tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "4 failed" in result.stdout.splitlines()[-1], result.stdout
    assert result.stdout.count("assert reads_without_limit(") == 4, result.stdout
