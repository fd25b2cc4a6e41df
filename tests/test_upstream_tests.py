"""
The regression tests the 3.4.1 series adds to DOT's own tests/ (the test files its patches create, as
the last patch leaves them), run against the installed DOT with our settings: they pass with the
series and fail against 3.4.1 as released, each for the reason it is there.

They set up a throwaway SQLite alias of their own with pytest-django's `db` and `settings` fixtures;
test_token_sha256_is_hashlib_sha256_on_the_test_database runs on the suite's database, so each
backend checks its own TokenSHA256.
"""

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import oauth2_provider
import pytest


ROOT = Path(__file__).resolve().parent.parent
VERSION = "3.4.1"

# What each DOT-side test must fail on against 3.4.1 as released. On an empty table 0012 has nothing
# to read, so that test passes there.
FAILURES_AS_RELEASED = {
    # Both parameters: the database path must read no token, the Python path only LIMITed batches.
    "test_0012_backfills_every_access_token_a_batch_at_a_time": (
        r"the database computes the checksums, yet tokens were read|reads tokens without a LIMIT"
    ),
    "test_0015_backfills_every_refresh_token_a_batch_at_a_time": (
        r"the database computes the checksums, yet tokens were read|reads tokens without a LIMIT"
    ),
    "test_token_sha256_is_hashlib_sha256_on_the_test_database": r"has no attribute 'DATABASE_SHA256_VENDORS'",
    "test_0012_goes_on_from_where_an_interrupted_run_stopped": r"duplicate column name: token_checksum",
}
# sqlmigrate shows every statement of 0012 as released too: the test guards pull request 3's operations.
PASSING_AS_RELEASED = {"test_0012_on_an_empty_table", "test_sqlmigrate_shows_every_schema_change_of_0012"}


def series_patches():
    return sorted((ROOT / "patches" / VERSION).glob("*.patch"))


def added_test_files():
    """The files under tests/ that the series creates in DOT, in the order the patches add them."""
    added = []
    for patch in series_patches():
        added += re.findall(r"^diff --git a/(tests/\S+) b/\1\nnew file mode", patch.read_text(), re.MULTILINE)
    return added


def extract_test_files(dest):
    """Write the added test files to dest as the whole series leaves them (later patches edit them)."""
    paths = added_test_files()
    for patch in series_patches():
        subprocess.run(
            ["git", "apply", *(f"--include={path}" for path in paths), str(patch)],
            cwd=dest,
            env={**os.environ, "GIT_CEILING_DIRECTORIES": str(dest.parent)},
            check=True,
        )
    return paths


def run_upstream_tests(tmp_path):
    """
    Run DOT's tests from the series with our settings, on databases of their own; return the outcome
    of each test, {node id: (outcome, failure message and text)}.
    """
    paths = extract_test_files(tmp_path)
    assert paths, f"the {VERSION} series adds no test to DOT's tests/"
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "testproject.settings",
        # The outer test run uses the test database of DOT0012_DB_NAME; this one must not touch it.
        "DOT0012_DB_NAME": os.environ.get("DOT0012_DB_NAME", "dot0012") + "_upstream",
    }
    report = tmp_path / "report.xml"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--junitxml={report}", *paths],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert report.exists(), result.stdout + result.stderr
    outcomes = {}
    for case in ElementTree.parse(report).iter("testcase"):
        outcome, detail = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome, detail = child.tag, f"{child.get('message', '')}\n{child.text or ''}"
        outcomes[f"{case.get('classname')}::{case.get('name')}"] = (outcome, detail)
    return result, paths, outcomes


def test_the_upstream_regression_tests_pass(tmp_path):
    if oauth2_provider.__version__ != VERSION:
        pytest.skip(f"the series adds tests to DOT's tests/ for {VERSION} only")

    result, paths, outcomes = run_upstream_tests(tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    # Every file ran, and every test in it passed: none skipped, which would hide its check.
    assert {test.split("::")[0].rsplit(".", 1)[-1] for test in outcomes} == {Path(p).stem for p in paths}
    assert {test: outcome for test, (outcome, _) in outcomes.items() if outcome != "passed"} == {}
    names = {test.rsplit("::", 1)[-1].split("[")[0] for test in outcomes}
    assert names == set(FAILURES_AS_RELEASED) | PASSING_AS_RELEASED, result.stdout


@pytest.mark.control("3.4.1", series="none")
def test_the_upstream_regression_tests_fail_as_released(tmp_path):
    result, paths, outcomes = run_upstream_tests(tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    names = set()
    for test, (outcome, detail) in outcomes.items():
        name = test.rsplit("::", 1)[-1].split("[")[0]
        names.add(name)
        if name in PASSING_AS_RELEASED:
            assert outcome == "passed", (test, detail)
        else:
            assert outcome == "failure", (test, outcome, detail)
            assert re.search(FAILURES_AS_RELEASED[name], detail), (test, detail)
    assert names == set(FAILURES_AS_RELEASED) | PASSING_AS_RELEASED, result.stdout
