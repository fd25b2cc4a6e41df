"""Measure which plain-ORM way of writing the 0012 checksums makes the keyset-batched backfill fastest.

The backfill reads access tokens in keyset batches of BATCH_SIZE through the historical model
(`only("pk", "token").order_by("pk")`, then `filter(pk__gt=last)`), computes each SHA-256 in Python and
writes the batch in its own `transaction.atomic()`, with RunPython(atomic=False) as in the upstream fix.
Only the write differs between the candidates, each named STRATEGY/BATCH_SIZE[/K]:

    bulk_update/1000        bulk_update(batch, ["token_checksum"]): one CASE WHEN statement per batch
                            (on SQLite Django splits it by the query parameter limit anyway)
    bulk_update/1000/250    bulk_update(batch, ["token_checksum"], batch_size=250)
    per_row/1000            manager.filter(pk=t.pk).update(token_checksum=...) for each token
    released                django-oauth-toolkit's own 0012, unchanged: iterator() and bulk_update of 1000

For each backend it creates the database dot0012_ormwrites, migrates DOT to 0011 and inserts N tokens of
--length characters once. Then, for each repeat and each candidate in turn (round-robin, so that drift
on the machine is shared out), a fresh child process replaces the RunPython's `code` in DOT's 0012 by
the candidate, times the whole `migrate oauth2_provider 0012`, checks that every token_checksum is the
SHA-256 of its token (and stops everything if one is not), migrates back to 0011 and compacts the table
(VACUUM FULL on PostgreSQL, VACUUM on SQLite, OPTIMIZE TABLE on MySQL; not timed). The DOT measured is
the one installed, e.g. 3.4.1 from PyPI:

    /root/.pyenv/versions/3.12.1/bin/python -m venv /work/venvs/orm
    /work/venvs/orm/bin/pip install django-oauth-toolkit==3.4.1 'Django>=5.2,<6' oauthlib==3.3.1 \\
        'psycopg[binary]' mysqlclient dj-database-url
    /work/venvs/orm/bin/pip install -e .
    /work/venvs/orm/bin/python tools/measure_orm_writes.py --backends sqlite,postgres,mysql \\
        --tokens 100000 --repeats 3 --note "what else ran on the machine"

Servers are found as for the tests (see dot0012.databases); SQLite files go to DOT0012_SQLITE_DIR or a
temporary directory. The JSON written to --out holds one row per backend and candidate, with the wall
seconds of every run and their median, and the machine, versions, date and command line.
"""

import argparse
import hashlib
import importlib
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from dot0012 import migrate_child
from dot0012.databases import BACKENDS, database_settings, server_url


DATABASE_NAME = "dot0012_ormwrites"
TOKEN_LENGTH = 40
BULK_BATCH_SIZES = (50, 100, 250, 500, 1000)
READ_BATCH_SIZES = (1000, 2000)
DEFAULT_OUT = "docs/_static/orm-writes/results.json"
# Batches the installed candidate wrote in this process: proof that the replacement took effect.
batches_written = []
PACKAGES = ("Django", "django-oauth-toolkit", "oauthlib", "psycopg", "mysqlclient", "dj-database-url")


def all_candidates():
    candidates = ["released"]
    for batch_size in READ_BATCH_SIZES:
        candidates.append(f"bulk_update/{batch_size}")
        candidates += [f"bulk_update/{batch_size}/{k}" for k in BULK_BATCH_SIZES if k <= batch_size]
        candidates.append(f"per_row/{batch_size}")
    return candidates


def parse_candidate(name):
    """(strategy, BATCH_SIZE, bulk_update's batch_size) of a candidate's name."""
    strategy, *numbers = name.split("/")
    if strategy == "released" and not numbers:
        return strategy, 1000, None
    if strategy == "bulk_update" and len(numbers) in (1, 2):
        return strategy, int(numbers[0]), int(numbers[1]) if len(numbers) == 2 else None
    if strategy == "per_row" and len(numbers) == 1:
        return strategy, int(numbers[0]), None
    raise ValueError(f"unknown candidate {name!r}: STRATEGY/BATCH_SIZE[/K], or released")


def write_bulk_update(manager, batch, bulk_batch_size):
    manager.bulk_update(batch, ["token_checksum"], batch_size=bulk_batch_size)


def write_per_row(manager, batch, bulk_batch_size):
    for token in batch:
        manager.filter(pk=token.pk).update(token_checksum=token.token_checksum)


WRITES = {"bulk_update": write_bulk_update, "per_row": write_per_row}


def keyset_backfill(write, batch_size, bulk_batch_size):
    """The RunPython code of the upstream fix, with `write` for the batch's write."""
    from django.db import transaction

    def backfill(apps, schema_editor):
        AccessToken = apps.get_model("oauth2_provider", "AccessToken")
        alias = schema_editor.connection.alias
        manager = AccessToken._default_manager.using(alias)
        tokens = manager.only("pk", "token").order_by("pk")
        batch = list(tokens[:batch_size])
        while batch:
            for token in batch:
                token.token_checksum = hashlib.sha256(token.token.encode("utf-8")).hexdigest()
            with transaction.atomic(using=alias):
                write(manager, batch, bulk_batch_size)
            batches_written.append(len(batch))
            if len(batch) < batch_size:
                break
            batch = list(tokens.filter(pk__gt=batch[-1].pk)[:batch_size])

    return backfill


def install_candidate(name):
    """Replace the backfill of DOT's 0012 by the candidate's (the released one is left as it is)."""
    from django.db import migrations

    strategy, batch_size, bulk_batch_size = parse_candidate(name)
    if strategy == "released":
        return
    module = importlib.import_module(f"oauth2_provider.migrations.{migrate_child.MIGRATION_0012}")
    run_pythons = [op for op in module.Migration.operations if isinstance(op, migrations.RunPython)]
    if len(run_pythons) != 1:
        raise RuntimeError(f"{module.__file__} has {len(run_pythons)} RunPython operations, not one")
    run_pythons[0].code = keyset_backfill(WRITES[strategy], batch_size, bulk_batch_size)
    run_pythons[0].atomic = False


def compact_table():
    """Give the next run a table as fresh as the first one had (the updates leave dead rows)."""
    from django.db import connection

    table = connection.ops.quote_name(migrate_child.BACKFILLS["0012"].table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"VACUUM FULL ANALYZE {table}")
        elif connection.vendor == "sqlite":
            cursor.execute("VACUUM")
        elif connection.vendor == "mysql":
            cursor.execute(f"OPTIMIZE TABLE {table}")
            cursor.fetchall()


def child_run(send, candidate, tokens):
    """One timed `migrate oauth2_provider 0012` with the candidate, checked, then undone."""
    migrate_child.setup_django()
    from django.core.management import load_command_class
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    connection.ensure_connection()
    load_command_class("django.core", "migrate")
    MigrationLoader(connection)
    install_candidate(candidate)
    result = migrate_child.measure(
        lambda: migrate_child.migrate("oauth2_provider", migrate_child.MIGRATION_0012)
    )
    if "error" in result:
        raise RuntimeError(f"{candidate}: {result['error']}")
    checked, correct = migrate_child.count_checksums()
    if checked != tokens or correct != tokens:
        raise RuntimeError(f"{candidate}: {correct} correct checksums of {checked} rows, expected {tokens}")
    strategy, batch_size, _ = parse_candidate(candidate)
    if strategy != "released" and len(batches_written) != -(-tokens // batch_size):
        raise RuntimeError(f"{candidate}: the candidate's backfill wrote {len(batches_written)} batches")
    migrate_child.migrate("oauth2_provider", migrate_child.BEFORE_0012)
    compact_table()
    return {**result, "checked": checked, "correct": correct, "batches": len(batches_written)}


def child_describe(send):
    """The database server, its version string and the driver."""
    migrate_child.setup_django(with_dot=False)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT sqlite_version()" if connection.vendor == "sqlite" else "SELECT version()")
        return {"description": migrate_child.describe_database(), "server_version": cursor.fetchone()[0]}


def child_recreate(send, create):
    """Drop the server's database and, with create, create it empty."""
    return migrate_child.drop_then_create(migrate_child.empty_database_options if create else None)


def child_populate(send, tokens, length):
    return migrate_child.populate(send, tokens, length)


CHILD_STEPS = {
    "recreate": child_recreate,
    "populate": child_populate,
    "run": child_run,
    "describe-server": child_describe,
}


def drop_database(backend, create):
    """Drop the backend's database (a file for SQLite) and, with create, create it empty."""
    if backend == "sqlite":
        Path(database_settings(server_url(backend, DATABASE_NAME))["NAME"]).unlink(missing_ok=True)
    else:
        run_child(backend, "recreate", create=create)


def run_child(backend, step, **options):
    env = dict(os.environ)
    env[migrate_child.DATABASE_ENV] = json.dumps(database_settings(server_url(backend, DATABASE_NAME)))
    command = [sys.executable, os.path.abspath(__file__), "--child", step, json.dumps(options)]
    completed = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True)
    messages = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
    final = messages[-1] if messages else {"error": f"no answer (exit status {completed.returncode})"}
    if "result" not in final:
        raise SystemExit(f"{backend} {step} {json.dumps(options)}: {final.get('error')}")
    return final["result"]


def machine_facts():
    cpu = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as meminfo:
        memory_kib = int(next(line for line in meminfo if line.startswith("MemTotal:")).split()[1])
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024**2, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def package_versions():
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    import sqlite3

    versions["sqlite3 library"] = sqlite3.sqlite_version
    return versions


def write_results(path, results):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated (default: all)")
    parser.add_argument("--tokens", type=int, default=100_000, help="access tokens to create")
    parser.add_argument("--length", type=int, default=TOKEN_LENGTH, help="characters per token")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per candidate")
    parser.add_argument("--candidates", default=",".join(all_candidates()), help="comma-separated names")
    parser.add_argument("--out", default=DEFAULT_OUT, help="JSON file to write")
    parser.add_argument("--note", default="", help="free text for the record, e.g. what else ran")
    args = parser.parse_args()

    backends = args.backends.split(",")
    candidates = args.candidates.split(",")
    for candidate in candidates:
        parse_candidate(candidate)
    sqlite_dir = os.environ.setdefault("DOT0012_SQLITE_DIR", tempfile.mkdtemp(prefix="dot0012-ormwrites-"))
    out = Path(args.out)
    started = time.monotonic()
    results = {
        "what": "wall seconds of `migrate oauth2_provider 0012` per way of writing the checksums",
        "command": shlex.join([sys.executable, *sys.argv]),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "notes": args.note,
        "tokens": args.tokens,
        "token_length": args.length,
        "repeats": args.repeats,
        "sqlite_dir": sqlite_dir,
        "machine": machine_facts(),
        "packages": package_versions(),
        "databases": {},
        "rows": [],
    }
    for backend in backends:
        print(f"{backend}: inserting {args.tokens} tokens", file=sys.stderr, flush=True)
        drop_database(backend, create=True)
        run_child(backend, "populate", tokens=args.tokens, length=args.length)
        results["databases"][backend] = run_child(backend, "describe-server")
        rows = {}
        for candidate in candidates:
            strategy, batch_size, bulk_batch_size = parse_candidate(candidate)
            rows[candidate] = {
                "backend": backend,
                "tokens": args.tokens,
                "token_length": args.length,
                "candidate": candidate,
                "strategy": strategy,
                "batch_size": batch_size,
                "bulk_update_batch_size": bulk_batch_size,
                "runs": [],
                "peak_growth_kib": [],
                "median": None,
            }
            results["rows"].append(rows[candidate])
        try:
            for repeat in range(args.repeats):
                for candidate in candidates:
                    run = run_child(backend, "run", candidate=candidate, tokens=args.tokens)
                    row = rows[candidate]
                    row["runs"].append(round(run["seconds"], 3))
                    row["peak_growth_kib"].append(run["peak_growth_kib"])
                    row["median"] = round(statistics.median(row["runs"]), 3)
                    print(
                        f"{backend} {candidate} run {repeat + 1}: {run['seconds']:.2f} s",
                        file=sys.stderr,
                        flush=True,
                    )
                    results["wall_seconds"] = round(time.monotonic() - started)
                    write_results(out, results)
        finally:
            drop_database(backend, create=False)
    results["wall_seconds"] = round(time.monotonic() - started)
    write_results(out, results)
    for row in results["rows"]:
        print(f"{row['backend']:9} {row['candidate']:24} {row['median']:8.2f} s  {row['runs']}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        # One step in this process, answering as migrate_child's steps do.
        sys.exit(migrate_child.main(sys.argv[2:], CHILD_STEPS))
    main()
