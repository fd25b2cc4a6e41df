"""Run the steps of dot0012.migrate_child, each in a fresh process, for `dot0012 demo` and `dot0012 bench`.

The parent passes the Django DATABASES entry and puts the django-oauth-toolkit tree to use first on the
child's PYTHONPATH; the child answers with JSON lines (see dot0012.migrate_child).
"""

import json
import logging
import os
import queue
import signal
import site
import subprocess
import sys
import tempfile
import threading
from importlib.util import find_spec
from pathlib import Path

import dot0012
from dot0012.errors import CommandError


TICK_SECONDS = 0.25
# Progress goes to this logger; the dot0012 command shows it on stderr (cli.ConsoleHandler). A record
# with extra=PROGRESS reports how far a long step is, and a terminal shows it in place of the last one.
logger = logging.getLogger("dot0012")
PROGRESS = {"progress": True}
# What the children need to run django-oauth-toolkit's migrations: the demo extra.
DEMO_DEPENDENCIES = ("django", "oauthlib", "jwcrypto", "requests")


def check_requirements(command, extra=(), extra_name="demo"):
    """Raise CommandError unless this is Linux and the demo extra (and the modules in extra) are installed."""
    if not Path("/proc/self/status").exists():
        raise CommandError(f"the {command} reads memory use from /proc/self/status, so it runs on Linux only")
    missing = [name for name in DEMO_DEPENDENCIES if find_spec(name) is None]
    if missing:
        raise CommandError(f"{', '.join(missing)} not installed: pip install 'dot0012[demo]'")
    missing = [name for name in extra if find_spec(name) is None]
    if missing:
        raise CommandError(f"{', '.join(missing)} not installed: pip install 'dot0012[{extra_name}]'")


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
        logger.warning("cannot drop database %r: %s", database["NAME"], result["error"])


def populate(tokens, database, tree, work_dir, token_length=None, migration="0012"):
    """
    Migrate to the migration before `migration` and create the tokens it fills (access tokens for 0012,
    refresh tokens for 0015); token_length None: the demo's tokens (30-37 chars).
    """

    def show_progress(message):
        inserted = message["progress"]
        text = f"creating tokens before migration {migration}: {inserted:,} / {tokens:,}"
        logger.info(text, extra=None if inserted == tokens else PROGRESS)

    options = {"count": tokens, "migration": migration}
    if token_length is not None:
        options["length"] = token_length
    result = run_child("populate", database, tree, work_dir, options=options, on_message=show_progress)
    if "error" in result:
        raise CommandError(f"populating the database failed: {result['error']}")
    check_tree(result, tree)
    return result


def check_tree(result, tree):
    if Path(result["oauth2_provider"]).resolve().parent != Path(tree).resolve():
        raise CommandError(f"the child process imported oauth2_provider from {result['oauth2_provider']}")


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


def run_child(step, database, tree, work_dir, options=None, on_message=None, on_tick=None):
    """
    Run one step of dot0012.migrate_child in a fresh process, with options as its keyword arguments;
    return its result, or a dict with an "error" line.
    """
    command = [sys.executable, "-m", "dot0012.migrate_child", step, json.dumps(options or {})]
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
