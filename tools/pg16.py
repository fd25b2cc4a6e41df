"""
Run a command beside a PostgreSQL 16 server of its own: tox's pg16 envs run their tests this way.

    python tools/pg16.py DIR -- COMMAND [ARG...]

The server is PyPI's pgserver (its wheels carry PostgreSQL's binaries; `pip install pgserver`), so that
nothing but tox is needed. It is made afresh in DIR (a previous run's directory is removed, and a server
a killed run left running there is stopped first), listens only on a Unix socket, in DIR or, if that path
is too long for a socket, in a directory of pgserver's under the user's runtime directory, and allows
the user postgres without a password. As root, pgserver runs it as the system user pgserver, which it
creates, and opens the directories above DIR to other users for reading.

COMMAND gets POSTGRES_HOST (the socket's directory), POSTGRES_PORT, POSTGRES_USER and POSTGRES_PASSWORD,
which dot0012.databases reads, and no DOT0012_DATABASE_URL, which would take precedence. The server is
stopped when COMMAND ends, however it ends: pgserver would stop it when this process exits, but tox gives
an interrupted command less than a second before killing it, so this script asks the server for a fast
shutdown at once, itself. Exits with COMMAND's status.
"""

import os
import shutil
import signal
import subprocess
import sys
import warnings
from pathlib import Path


def request_stop(process):
    """Ask the postmaster for a fast shutdown (it ends the sessions, then exits), which goes on if we die."""
    if process is not None and process.is_running():
        process.send_signal(signal.SIGINT)


def stop(process, timeout=60):
    import psutil

    request_stop(process)
    try:
        if process is not None:
            process.wait(timeout)
    except psutil.TimeoutExpired:
        process.kill()


def stop_leftover(directory):
    from pgserver.utils import PostmasterInfo

    if (directory / "postmaster.pid").exists():
        info = PostmasterInfo.read_from_pgdata(directory)
        if info is not None and info.is_running():
            print(f"pg16: stopping the server a previous run left in {directory}", file=sys.stderr)
            stop(info.process)


def main(argv):
    if len(argv) < 3 or argv[1] != "--":
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    directory = Path(argv[0]).resolve()
    command = argv[2:]

    # platformdirs warns, where XDG_RUNTIME_DIR is unset, that pgserver's lock goes to /tmp/runtime-$UID.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    import pgserver
    from pgserver._commands import POSTGRES_BIN_PATH

    if directory.exists():
        stop_leftover(directory)
        shutil.rmtree(directory)
    server = pgserver.get_server(directory, cleanup_mode="stop")
    info = server.get_postmaster_info()
    version = subprocess.run(
        [str(POSTGRES_BIN_PATH / "postgres"), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    print(f"pg16: {version}, data in {directory}, socket in {info.socket_dir}", file=sys.stderr, flush=True)

    env = {key: value for key, value in os.environ.items() if key != "DOT0012_DATABASE_URL"}
    env.update(
        POSTGRES_HOST=str(info.socket_dir),
        POSTGRES_PORT=str(info.port),
        POSTGRES_USER="postgres",
        POSTGRES_PASSWORD="",
    )

    child = None
    interrupted = []

    def forward(signum, frame):
        if child is not None and child.poll() is None:
            child.send_signal(signum)
        request_stop(info.process)
        if not interrupted:
            interrupted.append(signum)
            raise KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    try:
        child = subprocess.Popen(command, env=env)
        return child.wait()
    except KeyboardInterrupt:
        return 130
    finally:
        stop(info.process)
        server.cleanup()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
