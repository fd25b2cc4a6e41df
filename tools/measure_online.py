"""Measure the upgrade to 0012 under an old instance's load: the standard path against the online one.

For each backend, token count and path, in a fresh child process: create the database
dot0012_online_measure on the server the backend names (found as for the tests: POSTGRES_*, MYSQL_*),
migrate it to 0011, insert N tokens (tests/tokens.py's kinds), then run tests/online_scenario.py: an
instance of DOT < 3.0 reads tokens by value every 20 ms and writes one without a checksum every tenth
request while the path runs (standard: `migrate oauth2_provider 0012` of our series alone; online:
`dot0012 online` expand, backfill, index, not-null, then that migrate with a lock timeout, then
contract once the old instance has stopped). Each step's duration and the longest read and insert
waits of the old instance during it are written to the results file, with the failed requests and
the checks, the machine's 1-minute load average, the command line and the date:

    dot0012 prepare --dot 3.4.1 --dest /tmp/dot-3.4.1-series
    python tools/measure_online.py --dot /tmp/dot-3.4.1-series --backends postgres,mysql \\
        --tokens 100000,1000000 --out docs/_static/online/results.json --note "..."

Needs the demo extra (pip install '.[demo]') and both drivers (psycopg, mysqlclient). Rows already in
the file for other backends, counts or paths are kept.
"""

import argparse
import datetime
import json
import logging
import os
import random
import shlex
import subprocess
import sys
from pathlib import Path

from dot0012 import migrate_child
from dot0012.databases import database_settings, server_url
from dot0012.report import machine


ROOT = Path(__file__).resolve().parents[1]
DATABASE_NAME = "dot0012_online_measure"
PATHS = ("standard", "online")
SUMMARY_FIELDS = (
    "longest_read_wait_seconds",
    "longest_insert_wait_seconds",
    "failed_inserts",
    "failed_reads",
    "reads",
    "inserts",
    "migrate_runs",
    "wrong_checksums",
    "not_found_by_checksum",
    "dot3_misses",
)


def child_run(send, path, tokens):
    """One measurement, in this child process: populate, then the scenario by `path`."""
    migrate_child.setup_django()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    migrate_child.recreate_database(migrate_child.empty_database_options)
    from django.db import connection

    connection.close()
    from tests import online_scenario
    from tests.tokens import BEFORE_0012, generate_tokens, insert_tokens, migrate

    migrate_child.migrate("contenttypes")
    migrate_child.migrate("auth")
    migrate(BEFORE_0012)
    generated = list(generate_tokens(tokens))
    insert_tokens(generated)
    sample = random.Random(5).sample(generated, online_scenario.READ_SAMPLE)
    del generated
    database = migrate_child.describe_database()
    connection.close()
    load_average = round(os.getloadavg()[0], 2)
    result = online_scenario.run("default", path, sample)
    result.pop("written")
    connection.close()
    migrate_child.recreate_database(None)
    return {**result, "database": database, "load_average": load_average}


CHILD_STEPS = {"run": child_run}


def run_child(dot, backend, path, tokens):
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env[migrate_child.DATABASE_ENV] = json.dumps(database_settings(server_url(backend, DATABASE_NAME)))
    env["PYTHONPATH"] = os.pathsep.join([str(Path(dot).resolve()), str(ROOT / "src"), str(ROOT)])
    options = json.dumps({"path": path, "tokens": tokens})
    completed = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", "run", options],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    for line in completed.stdout.splitlines():
        message = json.loads(line) if line.startswith("{") else {}
        if "result" in message:
            return message["result"]
        if "error" in message:
            return {"error": message["error"]}
    return {"error": f"the child exited with status {completed.returncode}"}


def rows_of(backend, tokens, path, result, command, date):
    common = {"backend": backend, "tokens": tokens, "path": path, "command": command, "date": date}
    if "error" in result:
        return [{**common, "step": "all", "error": result["error"]}]
    summary = {
        **common,
        "step": "all",
        "database": result["database"],
        "load_average": result["load_average"],
        "errors": result["errors"],
        "first_failures": result["first_failures"],
        "seconds": sum(step["seconds"] for step in result["steps"]),
        **{field: result[field] for field in SUMMARY_FIELDS},
    }
    steps = [{**common, **step} for step in result["steps"]]
    return [summary, *steps]


def add_milliseconds(rows):
    """The waits and short durations in milliseconds too (field_ms), for the docs to show them so."""
    for row in rows:
        for field in ("seconds", "longest_read_wait_seconds", "longest_insert_wait_seconds"):
            if field in row:
                row[field.removesuffix("seconds") + "ms" if field != "seconds" else "ms"] = (
                    float(row[field]) * 1000
                )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dot", help="the DOT tree with our series (dot0012 prepare)")
    parser.add_argument("--backends", default="postgres,mysql", help="comma-separated: postgres, mysql")
    parser.add_argument("--tokens", default="100000", help="comma-separated token counts")
    parser.add_argument("--paths", default=",".join(PATHS), help="comma-separated: standard, online")
    parser.add_argument("--out", required=True, help="results file (JSON), rows added or replaced")
    parser.add_argument("--note", default="", help="what to know about this run, recorded with it")
    parser.add_argument(
        "--derive-only", action="store_true", help="only add the derived fields (milliseconds) to the file"
    )
    args = parser.parse_args()
    out = Path(args.out)
    if not args.derive_only and not args.dot:
        parser.error("--dot is required")
    if args.derive_only:
        results = json.loads(out.read_text())
        add_milliseconds(results["rows"])
        out.write_text(json.dumps(results, indent=1) + "\n")
        return
    results = (
        json.loads(out.read_text())
        if out.exists()
        else {
            "what": "an upgrade to 0012 under the load of an instance of DOT < 3.0, by the standard path "
            "and by dot0012 online: per step its duration and the old instance's longest waits",
            "rows": [],
        }
    )
    command = shlex.join(["python", *sys.argv])
    for backend in args.backends.split(","):
        for tokens in map(int, args.tokens.split(",")):
            for path in args.paths.split(","):
                date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
                print(f"{backend} {tokens:,} {path}: running", file=sys.stderr, flush=True)
                result = run_child(args.dot, backend, path, tokens)
                rows = rows_of(backend, tokens, path, result, command, date)
                print(json.dumps(rows[0]), file=sys.stderr, flush=True)
                results["rows"] = [
                    row
                    for row in results["rows"]
                    if (row["backend"], row["tokens"], row["path"]) != (backend, tokens, path)
                ] + rows
                add_milliseconds(results["rows"])
                results.update(
                    command=command,
                    date=date,
                    note=args.note,
                    machine=machine(),
                )
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        # One step in this process, answering as migrate_child's steps do.
        sys.exit(migrate_child.main(sys.argv[2:], CHILD_STEPS))
    main()
