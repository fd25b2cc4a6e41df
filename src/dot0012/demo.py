"""`dot0012 demo`: migration 0012 with unpatched and with patched django-oauth-toolkit, side by side.

Both variants migrate the same database, populated once at migration 0011 and rolled back to it in
between. Every Django step runs in a child process (dot0012.migrate_child) with that variant's DOT tree
first on PYTHONPATH, so that each migration is measured in a fresh process of its own.
"""

import contextlib
import io
import json
import os
import queue
import signal
import site
import subprocess
import sys
import tempfile
import threading
import time
from importlib.util import find_spec
from pathlib import Path

import dot0012
from dot0012.cli import CommandError
from dot0012.databases import database_settings


DEMO_DEPENDENCIES = ("django", "oauthlib", "jwcrypto", "requests")
SQLITE_NAME = "dot0012_demo.sqlite3"
# series for dot0012.patching.prepare, and how the table names the variant.
VARIANTS = (("none", "as released"), ("all", "+ dot0012 series"))
TICK_SECONDS = 0.25
# How often a waiting step prints a line when stderr is not a terminal.
QUIET_INTERVAL_SECONDS = 30


def run_demo(tokens, database_url, dot_version):
    if tokens < 1:
        raise CommandError("--tokens must be at least 1")
    if not Path("/proc/self/status").exists():
        raise CommandError("the demo reads memory use from /proc/self/status, so it runs on Linux only")
    missing = [name for name in DEMO_DEPENDENCIES if find_spec(name) is None]
    if missing:
        raise CommandError(f"{', '.join(missing)} not installed: pip install 'dot0012[demo]'")

    with tempfile.TemporaryDirectory(prefix="dot0012-demo-") as work_dir:
        database = demo_database(database_url, work_dir)
        create_database(database, work_dir)
        try:
            trees = build_trees(dot_version, work_dir)
            info = populate(tokens, database, trees[0], work_dir)
            variant_rows = []
            for (_, description), tree in zip(VARIANTS, trees, strict=True):
                if variant_rows:
                    restore_0011(tokens, database, trees[0], work_dir)
                label = f"DOT {dot_version} {description}"
                variant_rows.append(migrate_variant(label, database, tree, work_dir))
        finally:
            drop_database(database, work_dir)
    report, patched_ok = format_report(tokens, dot_version, info, variant_rows)
    print(report)
    if not patched_ok:
        raise CommandError("the patched migration did not give every row its correct checksum (see above)")


def demo_database(url, work_dir):
    """The Django DATABASES entry for --database, or for a SQLite file in the work directory."""
    if url is None:
        url = f"sqlite:///{Path(work_dir) / SQLITE_NAME}"
    try:
        database = database_settings(url)
    except ValueError as error:
        raise CommandError(f"unsupported database URL: {error}") from None
    if database["ENGINE"].endswith("sqlite3"):
        if database["NAME"] == ":memory:":
            raise CommandError("an in-memory SQLite database cannot be shared by the demo's processes")
        # The child processes run in the work directory.
        database["NAME"] = str(Path(database["NAME"]).resolve())
    elif not database["NAME"]:
        raise CommandError(f"the database URL names no database, e.g. {url.rstrip('/')}/dot0012_demo")
    return database


def create_database(database, work_dir):
    if database["ENGINE"].endswith("sqlite3"):
        Path(database["NAME"]).unlink(missing_ok=True)
        return
    result = run_child("create-database", database, None, work_dir)
    if "error" in result:
        server = (database["HOST"] or "localhost") + (f":{database['PORT']}" if database["PORT"] else "")
        raise CommandError(f"cannot create database {database['NAME']!r} on {server}: {result['error']}")


def drop_database(database, work_dir):
    if database["ENGINE"].endswith("sqlite3"):
        Path(database["NAME"]).unlink(missing_ok=True)
        return
    result = run_child("drop-database", database, None, work_dir)
    if "error" in result:
        print(f"dot0012 demo: cannot drop database {database['NAME']!r}: {result['error']}", file=sys.stderr)


def build_trees(dot_version, work_dir):
    """The unpacked DOT sdist for each variant, importable by putting it on PYTHONPATH."""
    from dot0012.patching import prepare

    trees = []
    for series, _ in VARIANTS:
        tree = Path(work_dir) / f"django-oauth-toolkit-{dot_version}-series-{series}"
        # prepare() reports where it built the tree, a temporary directory the user never sees.
        with contextlib.redirect_stdout(io.StringIO()):
            prepare(dot_version, tree, series)
        trees.append(tree)
    return trees


def populate(tokens, database, tree, work_dir):
    shown = [0]

    def show_progress(message):
        inserted = message["progress"]
        text = f"creating access tokens at migration 0011: {inserted:,} / {tokens:,}"
        if sys.stderr.isatty():
            status(text, done=inserted == tokens)
        elif inserted * 10 // tokens > shown[0] * 10 // tokens or inserted == tokens:
            shown[0] = inserted
            print(text, file=sys.stderr)

    result = run_child("populate", database, tree, work_dir, args=[tokens], on_message=show_progress)
    if "error" in result:
        raise CommandError(f"populating the database failed: {result['error']}")
    check_tree(result, tree)
    return result


def restore_0011(tokens, database, tree, work_dir):
    """Take the database back to migration 0011 for the next variant, or rebuild it if that fails."""
    text = "rolling the database back to migration 0011"
    if sys.stderr.isatty():
        status(text)
    else:
        print(text, file=sys.stderr)
    result = run_child("rollback", database, tree, work_dir)
    if "error" in result:
        print(
            f"rolling back to migration 0011 failed ({result['error']}): creating the database again",
            file=sys.stderr,
        )
        create_database(database, work_dir)
        populate(tokens, database, tree, work_dir)


def migrate_variant(label, database, tree, work_dir):
    started = time.monotonic()
    last_line = [started]

    def show_elapsed():
        now = time.monotonic()
        text = f"{label}: migrating to 0012_add_token_checksum, {now - started:.0f} s"
        if sys.stderr.isatty():
            status(text)
        elif now - last_line[0] >= QUIET_INTERVAL_SECONDS:
            last_line[0] = now
            print(text, file=sys.stderr)

    if not sys.stderr.isatty():
        print(f"{label}: migrating to 0012_add_token_checksum", file=sys.stderr)
    result = run_child("migrate-0012", database, tree, work_dir, on_tick=show_elapsed)
    if sys.stderr.isatty():
        status(f"{label}: done in {time.monotonic() - started:.1f} s", done=True)
    if "oauth2_provider" in result:
        check_tree(result, tree)
    return {"label": label, **result}


def check_tree(result, tree):
    if Path(result["oauth2_provider"]).resolve().parent != Path(tree).resolve():
        raise CommandError(f"the child process imported oauth2_provider from {result['oauth2_provider']}")


def status(text, done=False):
    """Rewrite the current terminal line; end it when done."""
    sys.stderr.write(f"\r\033[K{text}" + ("\n" if done else ""))
    sys.stderr.flush()


def child_environment(database, tree):
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env["DOT0012_DEMO_DATABASE"] = json.dumps(database)
    paths = [str(tree)] if tree else []
    paths += [path for path in env.get("PYTHONPATH", "").split(os.pathsep) if path]
    package_root = str(Path(dot0012.__file__).resolve().parent.parent)
    # Running from a source checkout: let the child import dot0012 too. Never add site-packages, which
    # would then come before the standard library.
    if package_root not in site.getsitepackages():
        paths.append(package_root)
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def run_child(step, database, tree, work_dir, args=(), on_message=None, on_tick=None):
    """Run one step in a fresh process; returns its result, or a dict with an "error" line."""
    command = [sys.executable, "-m", "dot0012.migrate_child", step, *map(str, args)]
    # The work directory as the current one keeps an oauth2_provider in the caller's directory off sys.path.
    with (
        tempfile.TemporaryFile(mode="w+", dir=work_dir) as stderr,
        subprocess.Popen(
            command,
            cwd=work_dir,
            env=child_environment(database, tree),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        ) as process,
    ):
        lines = queue.Queue()
        reader = threading.Thread(target=read_lines, args=(process.stdout, lines), daemon=True)
        reader.start()
        outcome = None
        while True:
            try:
                line = lines.get(timeout=TICK_SECONDS)
            except queue.Empty:
                if on_tick:
                    on_tick()
                continue
            if line is None:
                break
            message = json.loads(line)
            if "progress" in message:
                if on_message:
                    on_message(message)
            else:
                outcome = message
        returncode = process.wait()
        if outcome is None or (returncode and "error" not in outcome):
            stderr.seek(0)
            return {"error": describe_exit(returncode, stderr.read())}
        if "error" in outcome:
            return {"error": outcome["error"]}
        return outcome["result"]


def read_lines(stream, lines):
    for line in stream:
        if line.startswith("{"):
            lines.put(line)
    lines.put(None)


def describe_exit(returncode, stderr_text):
    if returncode < 0:
        name = signal.Signals(-returncode).name
        return f"killed by {name}" + (" (out of memory?)" if name == "SIGKILL" else "")
    last_lines = stderr_text.strip().splitlines()
    return f"exited with status {returncode}" + (f": {last_lines[-1]}" if last_lines else "")


def format_report(tokens, dot_version, info, variant_rows):
    """The table and the comparison lines, and whether the patched variant filled every checksum."""
    header = (
        f"DOT {dot_version} migration 0012 on {info['database']}: {tokens:,} access tokens, "
        f"Django {info['django']}, Python {info['python']}"
    )
    columns = ("variant", "outcome", "wall time", "peak RSS growth", "rows checked", "correct checksum")
    table = [columns]
    notes = []
    for row in variant_rows:
        error = row.get("error")
        if error and error.startswith("killed by"):
            outcome = "killed"
        elif error:
            outcome = "failed"
        else:
            outcome = "migrated"
        table.append(
            (
                row["label"],
                outcome,
                f"{row['seconds']:.1f} s" if "seconds" in row else "-",
                f"{row['peak_growth_kib'] / 1024:.1f} MiB" if "peak_growth_kib" in row else "-",
                f"{row['checked']:,}" if "checked" in row else "-",
                f"{row['correct']:,}" if "correct" in row else "-",
            )
        )
        if error:
            notes.append(f"{row['label']}: {error}")
        elif row["correct"] != tokens or row["checked"] != tokens:
            notes.append(
                f"{row['label']}: {row['checked']:,} rows after migrating, "
                f"{row['correct']:,} with the SHA-256 of their token as token_checksum"
            )
    widths = [max(len(line[column]) for line in table) for column in range(len(columns))]
    lines = [header, ""]
    for number, line in enumerate(table):
        cells = [line[0].ljust(widths[0]), line[1].ljust(widths[1])]
        cells += [cell.rjust(width) for cell, width in zip(line[2:], widths[2:], strict=True)]
        lines.append("  ".join(cells))
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    lines.append("")
    lines += notes
    released, patched = variant_rows
    if "error" not in released and "error" not in patched:
        patched_mib, released_mib = patched["peak_growth_kib"] / 1024, released["peak_growth_kib"] / 1024
        lines.append(f"memory: {patched_mib:.1f} MiB patched vs {released_mib:.1f} MiB as released")
        lines.append(f"time:   {patched['seconds']:.1f} s patched vs {released['seconds']:.1f} s as released")
    patched_ok = "error" not in patched and patched["checked"] == patched["correct"] == tokens
    return "\n".join(lines).rstrip(), patched_ok
