"""Download django-oauth-toolkit sdists and apply the patch series under patches/<version>/.

A series is applied with git: `git am` in a DOT git checkout, so that the patches become commits, and
`git apply` in an unpacked sdist or an installed DOT. Every check runs before anything is written, and
the patches of a series go to `git apply` as one stream, so either the whole series applies or the
tree is left as it was.
"""

import ast
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from dot0012.errors import CommandError


DISTRIBUTION = "django-oauth-toolkit"
PACKAGE = "oauth2_provider"

CHECKOUT = "git checkout"
SDIST = "unpacked sdist"
INSTALLED = "installed package"

VERSION_PATTERN = re.compile(r"\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?")

# Variables that would point git at another repository than the one in the tree (they are set, for
# example, while git runs a hook).
GIT_LOCATION_VARIABLES = {
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
}


def patches_dir():
    """The patches directory: package data in an installed wheel, the repository's patches/ otherwise."""
    packaged = Path(__file__).resolve().parent / "patches"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "patches"


def version_key(version):
    return [int(part) if part.isdecimal() else -1 for part in version.split(".")]


def versions_with_series():
    """The DOT versions that have a patch series, oldest first."""
    root = patches_dir()
    if not root.is_dir():
        return []
    versions = [
        entry.name
        for entry in root.iterdir()
        if VERSION_PATTERN.fullmatch(entry.name) and any(entry.glob("*.patch"))
    ]
    return sorted(versions, key=version_key)


def check_version(version):
    if not VERSION_PATTERN.fullmatch(version):
        raise CommandError(f"{version!r} is not a {DISTRIBUTION} version such as 3.0.1")


def series_patches(version):
    """
    The patch files of the series for a DOT version, in the order they apply.

    Raise CommandError, naming the versions that have a series, if this one has none.
    """
    check_version(version)
    patches = sorted((patches_dir() / version).glob("*.patch"))
    if not patches:
        available = ", ".join(versions_with_series()) or "none"
        raise CommandError(
            f"there is no patch series for {DISTRIBUTION} {version} (series exist for: {available})"
        )
    return patches


def sdist_cache_dir():
    cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache_home) / "dot0012" / "sdists"


def fetch_sdist(version):
    """
    The pristine sdist of a DOT version, downloaded from PyPI with pip the first time.

    Later calls return the cached .tar.gz without touching the network.
    """
    check_version(version)
    cache = sdist_cache_dir()
    # Older sdists keep the project's dashes in the file name.
    for name in (f"django_oauth_toolkit-{version}.tar.gz", f"{DISTRIBUTION}-{version}.tar.gz"):
        if (cache / name).is_file():
            return cache / name
    try:
        cache.mkdir(parents=True, exist_ok=True)
        # Download next to the cache and move the archive in whole, so that a download that breaks
        # off or runs concurrently never leaves a truncated archive under its final name.
        with tempfile.TemporaryDirectory(dir=cache, prefix=".download-") as download:
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--quiet",
                    "--no-deps",
                    "--no-binary",
                    ":all:",
                    "--dest",
                    download,
                    f"{DISTRIBUTION}=={version}",
                ],
                capture_output=True,
                text=True,
            )
            if result.returncode:
                reason = last_line(result.stderr) or f"pip exited with status {result.returncode}"
                raise CommandError(f"could not download the {DISTRIBUTION} {version} sdist: {reason}")
            archives = list(Path(download).glob("*.tar.gz"))
            if len(archives) != 1:
                raise CommandError(f"pip did not download one .tar.gz sdist of {DISTRIBUTION} {version}")
            cached = cache / archives[0].name
            os.replace(archives[0], cached)
    except OSError as error:
        raise CommandError(f"cannot cache the {DISTRIBUTION} {version} sdist in {cache}: {error}") from error
    return cached


def last_line(text):
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def check_members(archive, members):
    # What tarfile's "data" filter refuses, for the Pythons that do not have it.
    for member in members:
        parts = PurePosixPath(member.name).parts
        if member.name.startswith("/") or ".." in parts or not (member.isfile() or member.isdir()):
            raise CommandError(f"{archive} holds {member.name!r}, which is not a plain file inside the sdist")


def unpack_sdist(archive, dest):
    """Unpack an sdist so that the contents of its top-level folder become dest, which must not exist."""
    dest = Path(dest).absolute()
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            tops = {PurePosixPath(member.name).parts[0] for member in members}
            if len(tops) != 1:
                raise CommandError(f"{archive} does not hold a single top-level folder")
            with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{dest.name}-") as scratch:
                if hasattr(tarfile, "data_filter"):
                    tar.extractall(scratch, filter="data")
                else:
                    check_members(archive, members)
                    tar.extractall(scratch)
                (Path(scratch) / tops.pop()).rename(dest)
    except (OSError, tarfile.TarError) as error:
        raise CommandError(f"cannot unpack {archive} into {dest}: {error}") from error
    return dest


def dot_version(tree):
    """The version in tree/oauth2_provider/__init__.py, read without importing it."""
    init = Path(tree) / PACKAGE / "__init__.py"
    try:
        module = ast.parse(init.read_bytes(), filename=str(init))
    except (OSError, SyntaxError, ValueError) as error:
        raise CommandError(f"cannot read the {DISTRIBUTION} version from {init}: {error}") from error
    for node in module.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(target, ast.Name) and target.id == "__version__" for target in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    raise CommandError(f'{init} has no __version__ = "..." line')


def find_tree(path):
    """The directory holding oauth2_provider/ at or above path, and what kind of tree it is."""
    path = Path(path)
    if not path.exists():
        raise CommandError(f"{path} does not exist")
    path = path.resolve()
    if (path / PACKAGE / "__init__.py").is_file():
        tree = path
    elif path.name == PACKAGE and (path / "__init__.py").is_file():
        tree = path.parent
    else:
        raise CommandError(f"{path} is not a {DISTRIBUTION} tree: it has no {PACKAGE}/__init__.py")
    if (tree / ".git").exists():
        return tree, CHECKOUT
    if (tree / "PKG-INFO").is_file():
        return tree, SDIST
    return tree, INSTALLED


def git(tree, *args, stdin=None):
    env = {name: value for name, value in os.environ.items() if name not in GIT_LOCATION_VARIABLES}
    # Run inside another project's work tree (a virtualenv in a checkout, say), git apply would take
    # that repository as its own and silently skip every path outside the current directory, so the
    # search for a repository stops at the tree.
    env["GIT_CEILING_DIRECTORIES"] = str(tree.parent)
    # Keeps `git status` from refreshing the index, so that checking a checkout writes nothing.
    env["GIT_OPTIONAL_LOCKS"] = "0"
    try:
        return subprocess.run(["git", *args], cwd=tree, env=env, input=stdin, capture_output=True)
    except FileNotFoundError as error:
        raise CommandError("git is needed to apply the patches, and it is not on PATH") from error


def git_error(result):
    messages = result.stderr.decode(errors="replace").splitlines()
    errors = [line.removeprefix("error: ").strip() for line in messages if line.startswith("error: ")]
    return errors[0] if errors else last_line("\n".join(messages)) or "git failed"


def patch_stream(patches):
    # Given as separate files, git apply checks and writes each patch before reading the next one: a
    # later patch that fails leaves the earlier ones applied, and --check fails patches that build on
    # earlier ones. As one stream, the series is checked in memory as a whole before anything is
    # written.
    chunks = []
    for patch in patches:
        text = Path(patch).read_bytes()
        chunks.append(text if text.endswith(b"\n") else text + b"\n")
    return b"".join(chunks)


def apply_options(include, reverse=False):
    options = ["--include", include] if include else []
    # Reversing a stream, git apply also reverses the order of its patches.
    return [*options, "--reverse"] if reverse else options


def applies(tree, patches, include, reverse=False):
    return git(tree, "apply", "--check", *apply_options(include, reverse), stdin=patch_stream(patches))


def check_series(tree, version, patches, include):
    """Raise CommandError unless the whole series applies to tree as it is."""
    if applies(tree, patches, include, reverse=True).returncode == 0:
        raise CommandError(f"the {DISTRIBUTION} {version} series is already applied to {tree}")
    if applies(tree, patches, include).returncode == 0:
        return
    for applied in range(len(patches) - 1, 0, -1):
        if (
            applies(tree, patches[:applied], include, reverse=True).returncode == 0
            and applies(tree, patches[applied:], include).returncode == 0
        ):
            raise CommandError(
                f"{patches[0].name} does not apply to {tree}: the {DISTRIBUTION} {version} series is "
                f"partially applied (the first {applied} of its {len(patches)} patches are in); "
                "restore the pristine files, or apply the rest of the series by hand"
            )
    for count in range(1, len(patches) + 1):
        result = applies(tree, patches[:count], include)
        if result.returncode:
            raise CommandError(f"{patches[count - 1].name} does not apply to {tree}: {git_error(result)}")


def touched_paths(tree, patches, include):
    result = git(tree, "apply", "--numstat", "-z", *apply_options(include), stdin=patch_stream(patches))
    if result.returncode:
        raise CommandError(f"cannot read the patches: {git_error(result)}")
    paths = {record.split(b"\t", 2)[2].decode() for record in result.stdout.split(b"\0") if record}
    if not paths:
        raise CommandError(f"the series changes no file under {include or tree}")
    return sorted(paths)


def check_writable(tree, kind, paths):
    targets = set()
    for path in paths:
        target = tree / path
        targets.add(target)
        # git apply replaces a file by deleting and creating it, which takes a writable directory.
        directory = target.parent
        while not directory.exists():
            directory = directory.parent
        targets.add(directory)
    if kind == CHECKOUT:
        result = git(tree, "rev-parse", "--absolute-git-dir")
        targets.add(Path(result.stdout.decode().strip()))
    for target in sorted(targets):
        if target.exists() and not os.access(target, os.W_OK):
            raise CommandError(f"{tree} is not writable: cannot write {target}")


def check_checkout(tree):
    for state in ("rebase-apply", "rebase-merge"):
        result = git(tree, "rev-parse", "--git-path", state)
        if (tree / result.stdout.decode().strip()).exists():
            raise CommandError(f"a git am or rebase is in progress in {tree}; finish or abort it first")
    result = git(tree, "status", "--porcelain", "--untracked-files=no")
    if result.returncode:
        raise CommandError(f"git status failed in {tree}: {git_error(result)}")
    changes = result.stdout.decode(errors="replace").splitlines()
    if changes:
        more = f" and {len(changes) - 1} more" if len(changes) > 1 else ""
        raise CommandError(
            f"{tree} has uncommitted changes to tracked files ({changes[0].strip()}{more}); "
            "dot0012 apply wants a clean checkout: commit or stash them first"
        )
    if git(tree, "var", "GIT_COMMITTER_IDENT").returncode:
        raise CommandError(f"git am needs a committer: set user.name and user.email for {tree}")


def remove_stale_bytecode(tree, paths):
    for path in paths:
        source = tree / path
        if source.suffix != ".py":
            continue
        for compiled in (source.parent / "__pycache__").glob(f"{source.stem}.*.pyc"):
            try:
                compiled.unlink()
            except OSError:
                # Harmless: Python recompiles a module whose source has a new mtime and size.
                pass


def parse_series(series, version):
    """How many patches of the version's series --series asks for."""
    if series == "none":
        return 0
    total = len(series_patches(version))
    if series == "all":
        return total
    if not series.isdecimal() or not 1 <= int(series) <= total:
        raise CommandError(f"--series must be all, none or a number from 1 to {total}, not {series!r}")
    return int(series)


def prepare(version, dest, series):
    """
    Unpack the pristine DOT sdist into dest, which must not exist, and apply the first patches of the
    version's series: all of them, none (then any version on PyPI will do), or a number as a string.
    Return a line saying what dest holds.
    """
    check_version(version)
    count = parse_series(series, version)
    patches = series_patches(version)[:count] if count else []
    dest = Path(dest).absolute()
    if dest.exists() or dest.is_symlink():
        raise CommandError(f"{dest} already exists; give a directory that does not exist yet")
    archive = fetch_sdist(version)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        # Build the tree next to dest and move it into place at the end, so that a failure leaves no dest.
        with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{dest.name}-") as scratch:
            tree = unpack_sdist(archive, Path(scratch) / "sdist")
            if patches:
                check_series(tree, version, patches, include=None)
                result = git(tree, "apply", stdin=patch_stream(patches))
                if result.returncode:
                    raise CommandError(f"git apply failed in {tree}: {git_error(result)}")
            tree.rename(dest)
    except OSError as error:
        raise CommandError(f"cannot create {dest}: {error}") from error
    return f"{dest}: the {DISTRIBUTION} {version} sdist with {count} patches of its series applied"


def apply_to_path(path, check=False):
    """
    Apply the series matching the DOT version at path: a DOT git checkout (as commits, with git am), an
    unpacked sdist, or a site-packages directory holding oauth2_provider/ (only files under
    oauth2_provider/ are patched there). With check, only check that it would apply. Return a line
    saying what was done.
    """
    tree, kind = find_tree(path)
    version = dot_version(tree)
    patches = series_patches(version)
    include = f"{PACKAGE}/*" if kind == INSTALLED else None
    if kind == CHECKOUT:
        check_checkout(tree)
    check_series(tree, version, patches, include)
    paths = touched_paths(tree, patches, include)
    check_writable(tree, kind, paths)
    summary = f"the {len(patches)} patches of the {DISTRIBUTION} {version} series"
    if check:
        return f"{tree} ({kind}): {summary} apply"
    if kind == CHECKOUT:
        result = git(tree, "am", "--quiet", *[str(patch) for patch in patches])
        if result.returncode:
            error = git_error(result)
            git(tree, "am", "--abort")
            raise CommandError(f"git am failed in {tree} and was aborted: {error}")
        return f"{tree} ({kind}): {summary} are committed"
    result = git(tree, "apply", *apply_options(include), stdin=patch_stream(patches))
    if result.returncode:
        raise CommandError(f"git apply failed in {tree}: {git_error(result)}")
    remove_stale_bytecode(tree, paths)
    return f"{tree} ({kind}): {summary} are applied"


def prepare_trees(wanted, work_dir):
    """
    prepare() each (version, series) of wanted once, in work_dir; return {(version, series): tree}, each
    tree importable by putting it first on PYTHONPATH.
    """
    trees = {}
    for version, series in wanted:
        if (version, series) not in trees:
            tree = Path(work_dir) / f"django-oauth-toolkit-{version}-series-{series}"
            prepare(version, tree, series)
            trees[(version, series)] = tree
    return trees
