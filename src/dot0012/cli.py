"""The dot0012 command: prepare, apply, demo, bench, online."""

import argparse
import logging
import sys
import time

from dot0012 import __version__
from dot0012.errors import CommandError
from dot0012.online import BATCH_SIZE, LOCK_TIMEOUT_SECONDS, STEPS


# How often a progress line is repeated when stderr is not a terminal (a CI log, a file).
QUIET_INTERVAL_SECONDS = 30


class ConsoleHandler(logging.Handler):
    """
    Show dot0012's log on stderr. On a terminal a progress record (extra={"progress": True}) rewrites
    the current line, and the next record takes its place; elsewhere a progress record is shown only
    if the last one shown is QUIET_INTERVAL_SECONDS old, so that a log does not fill with them.
    """

    def __init__(self, stream=None):
        super().__init__()
        self.stream = stream or sys.stderr
        self.last_progress = None

    def emit(self, record):
        text = self.format(record)
        progress = getattr(record, "progress", False)
        if self.stream.isatty():
            self.stream.write(f"\r\033[K{text}" + ("" if progress else "\n"))
        elif progress:
            now = time.monotonic()
            if self.last_progress is None or now - self.last_progress >= QUIET_INTERVAL_SECONDS:
                self.last_progress = now
                self.stream.write(text + "\n")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def build_parser():
    parser = argparse.ArgumentParser(
        prog="dot0012",
        description="Fix the memory use of django-oauth-toolkit's migration 0012_add_token_checksum.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    prepare = commands.add_parser(
        "prepare",
        help="download a pristine DOT sdist from PyPI, unpack it and apply a patch series",
        description="Download the pristine django-oauth-toolkit sdist from PyPI, unpack it into DEST "
        "and apply the series for that version, leaving a tree that pip can install.",
    )
    prepare.add_argument("--dot", required=True, metavar="VERSION", help="DOT version, e.g. 3.0.0")
    prepare.add_argument("--dest", required=True, metavar="DIR", help="directory to create (must not exist)")
    prepare.add_argument(
        "--series",
        default="all",
        metavar="N|all|none",
        help="apply the first N patches, all of them (default), or none for the unpatched control",
    )

    apply = commands.add_parser(
        "apply",
        help="apply the matching series to a DOT git checkout, unpacked sdist or installed DOT",
        description="Detect the django-oauth-toolkit version at PATH (a git checkout, an unpacked sdist, "
        "or the site-packages directory of an installed DOT) and apply the matching series. Nothing is "
        "changed unless the whole series applies.",
    )
    apply.add_argument("path", metavar="PATH")
    apply.add_argument("--check", action="store_true", help="only check that the series applies")

    demo = commands.add_parser(
        "demo",
        help="migrate the same populated database with unpatched and patched DOT, side by side",
        description="Download the pristine django-oauth-toolkit sdist from PyPI and build two trees from it, "
        "as released and with the dot0012 series applied. Populate a database with access tokens at "
        "migration 0011, then run migration 0012 with each tree in a process of its own, rolling the "
        "database back to 0011 in between, and print wall time, peak RSS growth and how many rows got "
        "the right token_checksum. Exits with status 2 if the patched migration does not fill every row.",
    )
    demo.add_argument("--tokens", type=int, default=100_000, help="access tokens to create (default 100000)")
    demo.add_argument(
        "--database",
        metavar="URL",
        help="database URL (dj-database-url form), e.g. postgres://postgres:@127.0.0.1:5432/dot0012_demo; "
        "the database it names is the demo's own: it is dropped if it exists, created, and dropped at the "
        "end. Default: a SQLite file in a temporary directory",
    )
    demo.add_argument(
        "--dot", default="3.0.1", metavar="VERSION", help="DOT version to compare (default 3.0.1)"
    )

    bench = commands.add_parser(
        "bench",
        help="benchmark migrations 0012 and 0015: DOT releases and our series, per backend and N",
        description="Populate each backend before migration 0012 (access tokens) and 0015 (refresh "
        "tokens) once per table size and token length, then migrate it with DOT 3.0.1, 3.1.0 and 3.4.1 "
        "as released, each step of our 3.0.1 series, and pull request 1 and the whole stack of our 3.4.1 "
        "series (0015 exists from DOT 3.4.0 on), each run in a fresh process on the same data, and compare "
        "with two floors: one set-based UPDATE alone (floor), and our 3.4.1 series' migration with its "
        "backfill made that one UPDATE (floor-0012, floor-0015). Writes results.json, results.csv, "
        "results.md and PNG plots.",
    )
    bench.add_argument(
        "--backends",
        default="sqlite,postgres,postgres-nossc,mysql",
        help="comma-separated: sqlite, postgres, postgres-nossc (DISABLE_SERVER_SIDE_CURSORS), mysql "
        "(default: all four); servers are found as for the tests (POSTGRES_*, MYSQL_*)",
    )
    bench.add_argument(
        "--migrations", default="0012,0015", help="comma-separated: 0012, 0015 (default: both)"
    )
    bench.add_argument(
        "--tokens", default="10000,100000", help="comma-separated table sizes (default 10000,100000)"
    )
    bench.add_argument(
        "--token-lengths", default="40,255", help="comma-separated token lengths (default 40,255)"
    )
    bench.add_argument(
        "--repeat", type=int, default=3, help="timed runs per variant; medians are reported (default 3)"
    )
    bench.add_argument(
        "--variants",
        metavar="KEYS",
        help="comma-separated subset, e.g. 3.0.1,3.0.1+all (keys: 3.0.1, 3.1.0, 3.4.1, 3.0.1+N, 3.4.1+N, "
        "3.0.1+all, 3.4.1+all); the floors are always included. Default: all",
    )
    bench.add_argument(
        "--slow-seconds",
        type=float,
        default=0,
        metavar="S",
        help="run a variant only once, and not under memray, if its first run takes longer than S seconds "
        "(default 0: never)",
    )
    bench.add_argument("--no-memray", dest="memray", action="store_false", help="skip the run under memray")
    bench.add_argument("--no-plots", dest="plots", action="store_false", help="skip the PNG plots")
    bench.add_argument("--note", help="a paragraph to add to results.md")
    bench.add_argument("--out", default="bench-results", help="output directory (default bench-results)")

    online = commands.add_parser(
        "online",
        help="upgrade from DOT < 3.0 to 3.x with no window: one step of expand/contract",
        description="Run one step of the upgrade with no window on PostgreSQL 12+ or MariaDB 10.6+, while "
        "instances of DOT < 3.0 keep serving: expand (nullable token_checksum and a trigger that fills it), "
        "backfill, index (unique, built online), not-null, then DOT 3.x's migrate, then contract (drop the "
        "trigger). status shows what is done. Every step can be run again and does what is left.",
    )
    online.add_argument("step", choices=STEPS, metavar="STEP", help=", ".join(STEPS))
    online.add_argument(
        "--database",
        required=True,
        metavar="URL",
        help="the database DOT's tables are in (dj-database-url form), e.g. "
        "postgres://postgres:@127.0.0.1:5432/app or mysql://root:@127.0.0.1:3306/app",
    )
    online.add_argument(
        "--lock-timeout",
        type=float,
        default=LOCK_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help="how long a schema change may wait for its lock before it tries again "
        f"(default {LOCK_TIMEOUT_SECONDS}; MariaDB counts whole seconds)",
    )
    online.add_argument(
        "--batch-size", type=int, default=BATCH_SIZE, help=f"backfill: rows per UPDATE (default {BATCH_SIZE})"
    )
    return parser


def run_online_step(args):
    from dot0012 import online

    if args.lock_timeout <= 0:
        raise CommandError(f"--lock-timeout must be positive, not {args.lock_timeout}")
    if args.batch_size < 1:
        raise CommandError(f"--batch-size must be at least 1, not {args.batch_size}")
    options = {}
    if args.step == "backfill":
        options["batch_size"] = args.batch_size
    elif args.step not in ("status",):
        options["lock_timeout"] = args.lock_timeout
    connection = online.connect(args.database)
    try:
        result = online.run_step(args.step, connection, **options)
    finally:
        connection.close()
    return "\n".join(f"{key}: {value}" for key, value in result.items())


def main(argv=None):
    args = build_parser().parse_args(argv)
    logger = logging.getLogger("dot0012")
    handler = ConsoleHandler()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        if args.command == "prepare":
            from dot0012.patching import prepare

            print(prepare(args.dot, args.dest, args.series))
        elif args.command == "apply":
            from dot0012.patching import apply_to_path

            print(apply_to_path(args.path, check=args.check))
        elif args.command == "demo":
            from dot0012.demo import run_demo

            print(run_demo(tokens=args.tokens, database_url=args.database, dot_version=args.dot))
        elif args.command == "bench":
            from dot0012.bench import run_bench
            from dot0012.report import format_targets

            args.argv = sys.argv[1:] if argv is None else list(argv)
            results = run_bench(args)
            print(format_targets(results["targets"]))
            print(f"\nresults in {args.out}/: results.json, results.csv, results.md")
        elif args.command == "online":
            print(run_online_step(args))
    except CommandError as error:
        message, *report = error.args
        if report:
            print(report[0])
        print(f"dot0012 {args.command}: error: {message}", file=sys.stderr)
        return 2
    finally:
        logger.removeHandler(handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
