"""
Specify `dot0012 prepare` and `dot0012 apply`: every series applies to its pristine sdist, and every
refusal leaves the tree byte-for-byte as it was.

The sdists come from PyPI (once, then from the dot0012 cache); no test needs a database.
"""

import compileall
import email
import email.policy
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

import dot0012
from dot0012 import patching
from dot0012.cli import main
from dot0012.patching import (
    dot_version,
    fetch_sdist,
    prepare,
    series_patches,
    unpack_sdist,
    versions_with_series,
)


MIGRATION = "oauth2_provider/migrations/0012_add_token_checksum.py"
SERIES = versions_with_series()
# A version on PyPI that has no series.
VERSION_WITHOUT_SERIES = "3.1.0"

STRAY_PATCH = """\
diff --git a/tests/test_stray.py b/tests/test_stray.py
new file mode 100644
--- /dev/null
+++ b/tests/test_stray.py
@@ -0,0 +1 @@
+stray = True
"""

BROKEN_PATCH = """\
diff --git a/oauth2_provider/migrations/0012_add_token_checksum.py \
b/oauth2_provider/migrations/0012_add_token_checksum.py
--- a/oauth2_provider/migrations/0012_add_token_checksum.py
+++ b/oauth2_provider/migrations/0012_add_token_checksum.py
@@ -1 +1 @@
-# This line is in no version of the migration
+# Neither is this one
"""


@pytest.fixture(scope="session")
def sdist():
    """The cached sdist of a DOT version, downloaded at most once per session."""
    archives = {}

    def fetch(version):
        if version not in archives:
            archives[version] = fetch_sdist(version)
        return archives[version]

    return fetch


@pytest.fixture
def unpack(sdist, tmp_path):
    def unpack_version(version, dest=None):
        return unpack_sdist(sdist(version), dest or tmp_path / f"dot-{version}")

    return unpack_version


@pytest.fixture
def git_identity(monkeypatch):
    """A committer for git, and no user or system git configuration to depend on."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "dot0012 tests")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "tests@dot0012.invalid")


def run_git(cwd, *args):
    # Stop at cwd: the test trees may lie inside another git work tree.
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(Path(cwd).parent)}
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True).stdout


def git_applies(tree, patches, reverse=False):
    stream = b"".join(Path(patch).read_bytes() for patch in patches)
    args = ["apply", "--check", *(["--reverse"] if reverse else [])]
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(Path(tree).parent)}
    result = subprocess.run(["git", *args], cwd=tree, env=env, input=stream, capture_output=True)
    return result.returncode == 0


def make_checkout(tree):
    run_git(tree, "init", "--quiet")
    run_git(tree, "add", "--all")
    run_git(tree, "commit", "--quiet", "--message", "Pristine sdist")
    return tree


def make_site_packages(pristine, site):
    """A site-packages directory with DOT installed from the pristine tree, byte-compiled."""
    site.mkdir(parents=True)
    shutil.copytree(pristine / "oauth2_provider", site / "oauth2_provider")
    version = dot_version(pristine)
    dist_info = site / f"django_oauth_toolkit-{version}.dist-info"
    dist_info.mkdir()
    metadata = f"Metadata-Version: 2.1\nName: django-oauth-toolkit\nVersion: {version}\n"
    (dist_info / "METADATA").write_text(metadata)
    compileall.compile_dir(site / "oauth2_provider", quiet=1)
    return site


def snapshot(tree):
    """Every path under tree, with the SHA-256 of each file's bytes."""
    digests = {}
    for path in sorted(Path(tree).rglob("*")):
        digests[path.relative_to(tree).as_posix()] = (
            hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        )
    return digests


def changed_paths(before, after):
    return {path for path in before.keys() | after.keys() if before.get(path, "") != after.get(path, "")}


def refusal(capsys, *argv):
    """Run the dot0012 command, which must refuse with status 2 and one line on stderr."""
    assert main([str(arg) for arg in argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1, captured.err
    assert captured.err.startswith(f"dot0012 {argv[0]}: error: ")
    return captured.err


def patch_author_and_subject(patch):
    message = email.message_from_bytes(patch.read_bytes(), policy=email.policy.default)
    subject = re.sub(r"^\[PATCH[^]]*\] ", "", message["Subject"])
    return f"{message['From']}\0{subject}"


def test_every_series_has_its_patches_in_order():
    assert {"3.0.0", "3.0.1"} <= set(SERIES)
    for version in SERIES:
        patches = series_patches(version)
        assert patches == sorted(patches)
        numbers = [f"{number:04}-" for number in range(1, len(patches) + 1)]
        assert [patch.name[:5] for patch in patches] == numbers


def test_fetch_sdist_reuses_the_cached_archive(sdist, tmp_path, monkeypatch):
    archive = sdist("3.0.0")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cached = tmp_path / "dot0012" / "sdists" / archive.name
    cached.parent.mkdir(parents=True)
    shutil.copyfile(archive, cached)

    def no_network(*args, **kwargs):
        raise AssertionError(f"fetch_sdist ran {args} although the sdist is cached")

    monkeypatch.setattr(subprocess, "run", no_network)
    assert fetch_sdist("3.0.0") == cached


def test_dot_version_reads_the_version_without_importing(tmp_path):
    (tmp_path / "oauth2_provider").mkdir()
    init = tmp_path / "oauth2_provider" / "__init__.py"
    init.write_text('__version__ = "3.0.0"\nraise SystemExit("imported")\n')
    assert dot_version(tmp_path) == "3.0.0"


@pytest.mark.parametrize("version", SERIES)
def test_prepare_applies_the_whole_series(version, unpack, tmp_path, capsys):
    pristine = unpack(version)
    patches = series_patches(version)

    assert main(["prepare", "--dot", version, "--dest", str(tmp_path / "patched")]) == 0

    patched = tmp_path / "patched"
    assert f"{len(patches)} patches" in capsys.readouterr().out
    assert git_applies(patched, patches, reverse=True)
    lines = [line for patch in patches for line in patch.read_text().splitlines()]
    touched = {line.removeprefix("+++ b/") for line in lines if line.startswith("+++ b/")}
    assert changed_paths(snapshot(pristine), snapshot(patched)) == touched
    compile((patched / MIGRATION).read_text(), MIGRATION, "exec")


@pytest.mark.parametrize("version", SERIES)
def test_prepare_series_none_is_the_pristine_sdist(version, sdist, tmp_path):
    prepare(version, tmp_path / "control", "none")

    with tarfile.open(sdist(version)) as archive:
        files = {member.name.split("/", 1)[1]: member for member in archive.getmembers() if member.isfile()}
        assert (tmp_path / "control" / MIGRATION).read_bytes() == archive.extractfile(files[MIGRATION]).read()
        for name, member in files.items():
            assert (tmp_path / "control" / name).read_bytes() == archive.extractfile(member).read(), name
    assert {path for path, digest in snapshot(tmp_path / "control").items() if digest} == set(files)


@pytest.mark.parametrize("version", SERIES)
def test_prepare_series_1_applies_only_the_first_patch(version, unpack, tmp_path):
    first = series_patches(version)[0]
    by_hand = unpack(version)
    run_git(by_hand, "apply", str(first))

    prepare(version, tmp_path / "first", "1")

    assert (tmp_path / "first" / MIGRATION).read_bytes() == (by_hand / MIGRATION).read_bytes()
    assert snapshot(tmp_path / "first") == snapshot(by_hand)


@pytest.mark.parametrize("series", ["0", "-1", "99", "first", "", " 1"])
def test_prepare_refuses_a_bad_series(series, tmp_path, capsys):
    error = refusal(capsys, "prepare", "--dot", "3.0.0", "--dest", tmp_path / "dot", "--series", series)
    assert f"--series must be all, none or a number from 1 to {len(series_patches('3.0.0'))}" in error
    assert not (tmp_path / "dot").exists()


def test_prepare_refuses_a_version_without_series(tmp_path, capsys):
    error = refusal(capsys, "prepare", "--dot", VERSION_WITHOUT_SERIES, "--dest", tmp_path / "dot")
    assert f"no patch series for django-oauth-toolkit {VERSION_WITHOUT_SERIES}" in error
    assert ", ".join(SERIES) in error
    assert not (tmp_path / "dot").exists()


def test_prepare_refuses_an_existing_dest(tmp_path, capsys):
    (tmp_path / "dot").mkdir()
    (tmp_path / "dot" / "keep").write_text("mine")
    assert "already exists" in refusal(capsys, "prepare", "--dot", "3.0.0", "--dest", tmp_path / "dot")
    assert snapshot(tmp_path) == {"dot": None, "dot/keep": hashlib.sha256(b"mine").hexdigest()}


def test_prepare_leaves_nothing_when_the_series_does_not_apply(sdist, tmp_path, monkeypatch, capsys):
    sdist("3.0.0")
    broken = tmp_path / "patches" / "0001-Broken.patch"
    broken.parent.mkdir()
    broken.write_text(BROKEN_PATCH)
    monkeypatch.setattr(patching, "series_patches", lambda version: [broken])
    (tmp_path / "work").mkdir()

    error = refusal(capsys, "prepare", "--dot", "3.0.0", "--dest", tmp_path / "work" / "dot")

    assert "0001-Broken.patch does not apply" in error
    assert list((tmp_path / "work").iterdir()) == []


def test_prepared_tree_is_pip_installable(tmp_path):
    version = SERIES[-1]
    prepare(version, tmp_path / "dot", "all")
    target = tmp_path / "target"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
    subprocess.run([*pip, "--target", target, tmp_path / "dot"], check=True)
    assert (target / MIGRATION).read_bytes() == (tmp_path / "dot" / MIGRATION).read_bytes()
    assert dot_version(target) == version


@pytest.mark.parametrize("version", SERIES)
def test_apply_to_an_unpacked_sdist_then_again_refuses(version, unpack, tmp_path, capsys):
    tree = unpack(version)
    prepare(version, tmp_path / "prepared", "all")
    capsys.readouterr()

    assert main(["apply", str(tree)]) == 0
    assert "are applied" in capsys.readouterr().out
    assert snapshot(tree) == snapshot(tmp_path / "prepared")

    before = snapshot(tree)
    assert "already applied" in refusal(capsys, "apply", tree)
    assert "already applied" in refusal(capsys, "apply", "--check", tree)
    assert snapshot(tree) == before


def test_apply_check_changes_nothing(unpack, capsys):
    tree = unpack("3.0.0")
    before = snapshot(tree)
    assert main(["apply", "--check", str(tree)]) == 0
    assert "apply" in capsys.readouterr().out
    assert snapshot(tree) == before


def test_apply_refuses_a_version_without_series(unpack, capsys):
    tree = unpack(VERSION_WITHOUT_SERIES)
    before = snapshot(tree)
    error = refusal(capsys, "apply", tree)
    assert f"no patch series for django-oauth-toolkit {VERSION_WITHOUT_SERIES}" in error
    assert ", ".join(SERIES) in error
    assert snapshot(tree) == before


def test_apply_refuses_a_faked_version(unpack, capsys):
    tree = unpack("3.0.0")
    init = tree / "oauth2_provider" / "__init__.py"
    init.write_text(init.read_text().replace('"3.0.0"', '"9.9.9"'))
    before = snapshot(tree)
    assert "no patch series for django-oauth-toolkit 9.9.9" in refusal(capsys, "apply", tree)
    assert snapshot(tree) == before


def test_apply_refuses_what_is_not_a_dot_tree(tmp_path, capsys):
    (tmp_path / "project" / "oauth2").mkdir(parents=True)
    (tmp_path / "project" / "oauth2" / "__init__.py").write_text('__version__ = "3.0.0"\n')
    before = snapshot(tmp_path)
    assert "is not a django-oauth-toolkit tree" in refusal(capsys, "apply", tmp_path / "project")
    assert "does not exist" in refusal(capsys, "apply", tmp_path / "missing")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("version", [version for version in SERIES if len(series_patches(version)) > 1])
def test_apply_refuses_a_partially_applied_series(version, tmp_path, capsys):
    prepare(version, tmp_path / "dot", "1")
    capsys.readouterr()
    before = snapshot(tmp_path / "dot")
    error = refusal(capsys, "apply", tmp_path / "dot")
    assert f"{series_patches(version)[0].name} does not apply" in error
    assert "partially applied" in error
    assert snapshot(tmp_path / "dot") == before


@pytest.mark.parametrize("version", SERIES)
def test_apply_names_the_first_patch_that_does_not_apply(version, unpack, capsys):
    tree = unpack(version)
    (tree / MIGRATION).write_text("# Not the migration any version of DOT ships.\n")
    before = snapshot(tree)
    assert f"{series_patches(version)[0].name} does not apply" in refusal(capsys, "apply", tree)
    assert snapshot(tree) == before


@pytest.mark.parametrize("version", ["3.0.0", "3.0.1"])
def test_apply_writes_no_patch_when_a_later_one_does_not_apply(version, unpack, capsys):
    tree = unpack(version)
    migration = tree / MIGRATION
    lines = migration.read_text().splitlines(keepends=True)
    # Line 1 is context of the second patch only: the first one still applies on its own.
    migration.write_text("# Generated by Django, edited here\n" + "".join(lines[1:]))
    first, second = series_patches(version)[:2]
    assert git_applies(tree, [first])
    before = snapshot(tree)

    error = refusal(capsys, "apply", tree)

    assert f"{second.name} does not apply" in error
    assert snapshot(tree) == before


def test_apply_refuses_a_read_only_tree(unpack, tmp_path, capsys):
    tree = unpack("3.0.0")
    before = snapshot(tree)
    if os.geteuid() != 0:
        for path in [tree, *tree.rglob("*")]:
            path.chmod(path.stat().st_mode & ~0o222)
        try:
            error = refusal(capsys, "apply", tree)
        finally:
            for path in [tree, *tree.rglob("*")]:
                path.chmod(path.stat().st_mode | 0o200)
    else:
        # Permissions do not stop root: mount the tree read-only in a mount namespace of its own.
        if not shutil.which("unshare"):
            pytest.skip("root needs unshare to make a read-only tree")
        script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" || exit 77; shift; exec "$@"'
        python_path = os.pathsep.join(
            filter(None, [str(Path(dot0012.__file__).parents[1]), os.environ.get("PYTHONPATH")])
        )
        command = [sys.executable, "-m", "dot0012", "apply", tree]
        result = subprocess.run(
            ["unshare", "--mount", "sh", "-c", script, "sh", tree, *command],
            env={**os.environ, "PYTHONPATH": python_path},
            capture_output=True,
            text=True,
        )
        if result.returncode == 77:
            pytest.skip(f"cannot mount a read-only tree here: {result.stderr.strip()}")
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1, result.stderr
        error = result.stderr
    assert f"{tree} is not writable" in error
    assert snapshot(tree) == before


def test_apply_commits_the_series_to_a_clean_checkout(unpack, git_identity, tmp_path, capsys):
    version = "3.0.0"
    patches = series_patches(version)
    checkout = make_checkout(unpack(version))
    prepare(version, tmp_path / "prepared", "all")
    capsys.readouterr()

    assert main(["apply", "--check", str(checkout)]) == 0
    assert run_git(checkout, "rev-list", "--count", "HEAD") == "1\n"

    assert main(["apply", str(checkout)]) == 0
    assert "committed" in capsys.readouterr().out

    log = run_git(checkout, "log", "--reverse", "--format=%an <%ae>%x00%s", f"HEAD~{len(patches)}..HEAD")
    assert log.splitlines() == [patch_author_and_subject(patch) for patch in patches]
    assert run_git(checkout, "status", "--porcelain") == ""
    assert (checkout / MIGRATION).read_bytes() == (tmp_path / "prepared" / MIGRATION).read_bytes()

    before = snapshot(checkout)
    assert "already applied" in refusal(capsys, "apply", checkout)
    assert snapshot(checkout) == before


@pytest.mark.parametrize("dirty", ["README.rst", MIGRATION])
def test_apply_refuses_a_dirty_checkout(dirty, unpack, git_identity, capsys):
    checkout = make_checkout(unpack("3.0.0"))
    with open(checkout / dirty, "a") as file:
        file.write("\n# A local change\n")
    # A file whose stat data no longer matches the index, which a plain `git status` would rewrite.
    os.utime(checkout / "LICENSE", (0, 0))
    before = snapshot(checkout)
    error = refusal(capsys, "apply", checkout)
    assert "uncommitted changes" in error
    assert dirty in error
    assert snapshot(checkout) == before


@pytest.mark.parametrize("target", ["site-packages", "site-packages/oauth2_provider"])
def test_apply_to_an_installed_package_patches_only_oauth2_provider(
    target, unpack, tmp_path, monkeypatch, capsys
):
    version = "3.0.0"
    site = make_site_packages(unpack(version), tmp_path / "site-packages")
    prepare(version, tmp_path / "prepared", "all")
    # A patch outside oauth2_provider/, as a series may hold for DOT's own tests, must not land in
    # site-packages.
    stray = tmp_path / "9999-Stray.patch"
    stray.write_text(STRAY_PATCH)
    monkeypatch.setattr(patching, "series_patches", lambda version: [*series_patches(version), stray])
    before = snapshot(site)

    assert main(["apply", str(tmp_path / target)]) == 0

    after = snapshot(site)
    stale = {path for path in before if re.fullmatch(r".*/0012_add_token_checksum\..*\.pyc", path)}
    assert stale
    assert changed_paths(before, after) == {MIGRATION} | stale
    assert stale.isdisjoint(after)
    assert (site / MIGRATION).read_bytes() == (tmp_path / "prepared" / MIGRATION).read_bytes()


def test_apply_to_an_installed_package_inside_another_git_work_tree(unpack, git_identity, tmp_path, capsys):
    # A virtualenv inside a project checkout: git apply run there would take the project's
    # repository as its own and skip every file, yet succeed.
    project = tmp_path / "project"
    project.mkdir()
    run_git(project, "init", "--quiet")
    site = make_site_packages(unpack("3.0.1"), project / ".venv" / "lib" / "python3" / "site-packages")
    prepare("3.0.1", tmp_path / "prepared", "all")

    assert main(["apply", str(site)]) == 0

    assert (site / MIGRATION).read_bytes() == (tmp_path / "prepared" / MIGRATION).read_bytes()
    assert run_git(project, "status", "--porcelain", "--untracked-files=no") == ""
