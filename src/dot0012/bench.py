"""`dot0012 bench`: migrations 0012 and 0015 across DOT releases, our series, backends and table sizes.

For each backend, migration, table size and token length the database is populated once at the
migration before it. Each variant (variants.py: an unpacked, possibly patched DOT sdist put first on the
child's PYTHONPATH, or a floor) then migrates that same data in a fresh process of its own, --repeat
times for wall time and peak RSS growth and once more under memray for its allocation peak, the
database being put back before every run: a copy of the SQLite file, a copy of the PostgreSQL database
made from a template, and on MySQL a rollback with the variant's own migrations. report.py writes the
results, plots.py the plots.
"""

import datetime
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from dot0012.databases import database_settings, server_url
from dot0012.errors import CommandError
from dot0012.processes import (
    check_requirements,
    check_tree,
    create_database,
    drop_database,
    logger,
    populate,
    run_child,
)
from dot0012.report import MIB, add_ratios, check_targets, machine, versions, write_results
from dot0012.variants import FLOOR, build_trees, select_variants


BACKENDS = ("sqlite", "postgres", "postgres-nossc", "mysql")
# The server each backend column runs on; postgres-nossc is PostgreSQL with DISABLE_SERVER_SIDE_CURSORS.
SERVER = {"sqlite": "sqlite", "postgres": "postgres", "postgres-nossc": "postgres", "mysql": "mysql"}
MIGRATIONS = ("0012", "0015")
DATABASE_NAME = "dot0012_bench"
TEMPLATE_NAME = "dot0012_bench_template"


def parse_list(text, option, convert=str, choices=None):
    try:
        values = [convert(item.strip().replace("_", "")) for item in text.split(",") if item.strip()]
    except ValueError:
        raise CommandError(f"{option} takes a comma-separated list, not {text!r}") from None
    if not values:
        raise CommandError(f"{option} is empty")
    if choices is not None:
        wrong = [value for value in values if value not in choices]
        if wrong:
            raise CommandError(f"{option}: unknown {', '.join(wrong)}; choose from {', '.join(choices)}")
    return values


def run_bench(args):
    backends = parse_list(args.backends, "--backends", choices=BACKENDS)
    migrations = parse_list(args.migrations, "--migrations", choices=MIGRATIONS)
    token_counts = sorted(set(parse_list(args.tokens, "--tokens", int)))
    lengths = sorted(set(parse_list(args.token_lengths, "--token-lengths", int)))
    keys = parse_list(args.variants, "--variants") if args.variants else None
    if min(token_counts) < 1:
        raise CommandError("--tokens must be at least 1")
    if not all(16 <= length <= 255 for length in lengths):
        raise CommandError("--token-lengths must be from 16 to 255 (DOT's token column holds 255)")
    if args.repeat < 1:
        raise CommandError("--repeat must be at least 1")
    variants = select_variants(keys)
    # A migration that none of the chosen DOTs has would have only floors to show.
    migrations = [
        migration
        for migration in migrations
        if any(
            variant.version and not variant.schema_floor and variant.has(migration) for variant in variants
        )
    ]
    if not migrations:
        raise CommandError("none of the chosen variants has a migration of --migrations (0015: DOT 3.4.0 on)")
    extra = ("memray",) if args.memray else ()
    check_requirements("bench", extra=extra + (("matplotlib",) if args.plots else ()), extra_name="bench")
    out = Path(args.out)
    started = time.monotonic()
    settings = {
        "backends": backends,
        "migrations": migrations,
        "tokens": token_counts,
        "token_lengths": lengths,
        "repeat": args.repeat,
        "slow_seconds": args.slow_seconds,
        "memray": args.memray,
        "variants": [
            {"key": v.key, "label": v.label, "version": v.version, "series": v.series} for v in variants
        ],
    }

    with tempfile.TemporaryDirectory(prefix="dot0012-bench-") as work_dir:
        build_trees(variants, work_dir)
        rows = []
        descriptions = {}

        def save(complete):
            """Write the results so far, so that an interrupted run keeps what it measured."""
            results = {
                "command": "dot0012 " + " ".join(args.argv),
                # How the run went (what else ran on the machine, say): a field, not a hand edit.
                "note": args.note,
                "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "duration_seconds": round(time.monotonic() - started),
                "complete": complete,
                "machine": machine(),
                "versions": versions(descriptions),
                "settings": settings,
                "rows": rows,
            }
            add_ratios(rows)
            results["targets"] = check_targets(rows, [variant.key for variant in variants if variant.final])
            write_results(results, out, args.plots and complete)
            return results

        servers = [
            server for server in ("sqlite", "postgres", "mysql") if server in map(SERVER.get, backends)
        ]
        for server in servers:
            columns = [backend for backend in backends if SERVER[backend] == server]
            bench = ServerBench(server, work_dir)
            try:
                for migration in migrations:
                    measured = [variant for variant in variants if variant.has(migration)]
                    # Any tree that has the migration migrates to the one before it alike.
                    tree = next(variant.tree for variant in measured if variant.tree)
                    for tokens in token_counts:
                        for length in lengths:
                            info = bench.populate(migration, tokens, length, tree)
                            descriptions[server] = info["database"]
                            for backend in columns:
                                for variant in measured:
                                    rows.append(bench.measure(backend, tokens, length, variant, args))
                                save(complete=False)
            finally:
                bench.close()
    return save(complete=True)


class ServerBench:
    """Populate one server's database before a migration, and put it back there before every run."""

    def __init__(self, server, work_dir):
        self.server = server
        self.work_dir = work_dir
        self.migration = self.tokens = self.length = self.tree = None
        self.dirty_with = None
        if server == "sqlite":
            self.database = database_settings(f"sqlite:///{Path(work_dir) / DATABASE_NAME}.sqlite3")
            self.pristine = database_settings(f"sqlite:///{Path(work_dir) / TEMPLATE_NAME}.sqlite3")
        else:
            self.database = database_settings(server_url(server, DATABASE_NAME))
            # PostgreSQL copies the populated template for every run; MySQL rolls back instead.
            self.pristine = (
                database_settings(server_url(server, TEMPLATE_NAME))
                if server == "postgres"
                else self.database
            )

    def populate(self, migration, tokens, length, tree):
        """Populate the database before `migration`, migrating it with the DOT in `tree`."""
        logger.info(f"{self.server}: creating {tokens:,} tokens of {length} characters before {migration}")
        self.close()
        create_database(self.pristine, self.work_dir)
        info = populate(tokens, self.pristine, tree, self.work_dir, token_length=length, migration=migration)
        self.migration, self.tokens, self.length, self.tree = migration, tokens, length, tree
        self.dirty_with = None
        return info

    def restore(self):
        """Bring the working database back to the populated state, before the migration."""
        if self.server == "sqlite":
            for suffix in ("-journal", "-wal", "-shm"):
                Path(self.database["NAME"] + suffix).unlink(missing_ok=True)
            shutil.copyfile(self.pristine["NAME"], self.database["NAME"])
        elif self.server == "postgres":
            result = run_child(
                "clone-database", self.database, None, self.work_dir, options={"template": TEMPLATE_NAME}
            )
            if "error" in result:
                raise CommandError(f"cannot copy the populated PostgreSQL database: {result['error']}")
        elif self.dirty_with is not None:
            variant = self.dirty_with
            if variant.key == FLOOR:
                result = {}  # the floor step dropped its column itself
            else:
                options = {"migration": self.migration}
                result = run_child("rollback", self.database, variant.tree, self.work_dir, options=options)
            if "error" in result:
                logger.info(
                    f"rolling back {variant.label} failed ({result['error']}): populating the database again"
                )
                self.populate(self.migration, self.tokens, self.length, self.tree)
        self.dirty_with = None

    def run(self, backend, variant, verify, use_memray):
        self.restore()
        database = dict(self.database)
        if backend == "postgres-nossc":
            database["DISABLE_SERVER_SIDE_CURSORS"] = True
        self.dirty_with = variant
        if variant.key == FLOOR:
            options = {"migration": self.migration, "undo": self.server == "mysql", "use_memray": use_memray}
            return run_child("floor", database, None, self.work_dir, options=options)
        options = {
            "migration": self.migration,
            "verify": verify,
            "use_memray": use_memray,
            "one_update": variant.schema_floor,
        }
        result = run_child("migrate", database, variant.tree, self.work_dir, options=options)
        if "oauth2_provider" in result:
            check_tree(result, variant.tree)
        return result

    def measure(self, backend, tokens, length, variant, args):
        row = {
            "backend": backend,
            "migration": self.migration,
            "tokens": tokens,
            "token_length": length,
            "variant": variant.key_for(self.migration),
            "label": variant.label,
            "runs": [],
            "errors": [],
            # What else kept the machine busy: the 1-minute load average as each variant started.
            "load_average": round(os.getloadavg()[0], 2),
        }
        for repetition in range(args.repeat):
            where = f"{backend}, {self.migration}, {tokens:,} tokens of {length}"
            logger.info(f"{where}: {variant.label}, run {repetition + 1}")
            result = self.run(backend, variant, verify=repetition == 0, use_memray=False)
            if "error" in result:
                row["errors"].append(result["error"])
                logger.info(f"  failed: {result['error']}")
                break
            row["runs"].append({"seconds": result["seconds"], "peak_growth_kib": result["peak_growth_kib"]})
            if "checked" in result:
                row["checked"], row["correct"] = result["checked"], result["correct"]
            logger.info(f"  {result['seconds']:.2f} s, {result['peak_growth_kib'] / 1024:.1f} MiB")
            if args.slow_seconds and result["seconds"] > args.slow_seconds:
                logger.info(f"  slower than {args.slow_seconds} s: no more runs, none under memray")
                row["cut_short"] = True
                break
        if args.memray and not row["errors"] and not row.get("cut_short"):
            logger.info(
                f"{backend}, {self.migration}, {tokens:,} tokens of {length}: {variant.label}, under memray"
            )
            result = self.run(backend, variant, verify=False, use_memray=True)
            if "error" in result:
                row["errors"].append(f"under memray: {result['error']}")
            else:
                row["memray_peak_bytes"] = result["memray_peak_bytes"]
                logger.info(f"  memray peak {result['memray_peak_bytes'] / MIB:.1f} MiB")
        if row["runs"]:
            row["median_seconds"] = statistics.median(run["seconds"] for run in row["runs"])
            row["median_rss_growth_mib"] = (
                statistics.median(run["peak_growth_kib"] for run in row["runs"]) / 1024
            )
        if "memray_peak_bytes" in row:
            row["memray_peak_mib"] = row["memray_peak_bytes"] / MIB
        if row.get("checked") is not None and row["correct"] != tokens:
            row["errors"].append(f"{row['correct']:,} of {tokens:,} rows got the right checksum")
        return row

    def close(self):
        if self.server == "sqlite":
            for settings in (self.database, self.pristine):
                Path(settings["NAME"]).unlink(missing_ok=True)
            return
        drop_database(self.database, self.work_dir)
        if self.pristine is not self.database:
            drop_database(self.pristine, self.work_dir)
