"""Measure migration 0015 (DOT 3.4.0 and later) on a table of refresh tokens.

Creates the database dot0012_0015 on the backend DOT0012_BACKEND names (servers found as for the
tests), migrates it to 0014, inserts N refresh tokens of 50 characters, then migrates to 0015 and
prints one JSON line: wall time and peak RSS growth, or with --memray memray's peak instead, and how
many checksums equal the SHA-256 of their token. With --out, it also adds that line as a row of the
results file (JSON, created if missing), with --variant naming the DOT measured, the command line, the
date and the machine's load average. The DOT to measure is the one first on PYTHONPATH:

    dot0012 prepare --dot 3.4.1 --series none --dest /tmp/dot-3.4.1
    dot0012 prepare --dot 3.4.1 --dest /tmp/dot-3.4.1-series
    DOT0012_BACKEND=mysql PYTHONPATH=/tmp/dot-3.4.1 python tools/measure_0015.py 100000
    DOT0012_BACKEND=mysql PYTHONPATH=/tmp/dot-3.4.1-series python tools/measure_0015.py 100000 --memray
    DOT0012_BACKEND=postgres PYTHONPATH=/tmp/dot-3.4.1 python tools/measure_0015.py 1000000 \
        --out docs/_static/measure-0015/results.json --variant 3.4.1

Needs the demo and bench extras (pip install '.[demo,bench]') and the backend's driver.
"""

import argparse
import datetime
import hashlib
import json
import os
import shlex
import sys
from pathlib import Path

from dot0012 import migrate_child
from dot0012.databases import backend_from_env, database_settings, server_url


DATABASE_NAME = "dot0012_0015"
BEFORE_0015 = "0014_alter_help_text"
MIGRATION_0015 = "0015_refreshtoken_token_checksum"
INSERT_BATCH_SIZE = 5000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tokens", type=int, help="refresh tokens to create")
    parser.add_argument("--memray", action="store_true", help="report memray's peak instead of time and RSS")
    parser.add_argument("--out", help="results file (JSON) to add the measurement to as a row")
    parser.add_argument("--variant", help="with --out: the DOT measured, e.g. 3.4.1 or 3.4.1+3")
    args = parser.parse_args()
    if args.out and not args.variant:
        parser.error("--out needs --variant")

    os.environ[migrate_child.DATABASE_ENV] = json.dumps(
        database_settings(server_url(backend_from_env(), DATABASE_NAME))
    )
    migrate_child.setup_django()
    drop_database(create=True)
    load_average = round(os.getloadavg()[0], 2)
    try:
        result = measure_0015(args.tokens, args.memray)
    finally:
        drop_database(create=False)
    print(json.dumps(result))
    if args.out:
        add_row(Path(args.out), args.variant, result, load_average)


def add_row(path, variant, result, load_average):
    """Add the measurement to the results file, replacing an earlier row of the same backend, N, variant."""
    results = (
        json.loads(path.read_text())
        if path.exists()
        else {
            # Each row has its own command line.
            "command": "python tools/measure_0015.py N --out FILE --variant NAME",
            "what": "wall time, peak RSS growth or memray peak of `migrate oauth2_provider 0015` alone",
            "rows": [],
        }
    )
    row = {
        "backend": backend_from_env(),
        "tokens": result["tokens"],
        "variant": variant,
        "memray": "memray_peak_bytes" in result,
        "database": result["database"],
        "correct": result["correct"],
        "command": shlex.join([os.path.basename(sys.executable), *sys.argv]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        # What else kept the machine busy: the 1-minute load average as the measurement started.
        "load_average": load_average,
    }
    if "seconds" in result:
        row["seconds"] = result["seconds"]
        row["rss_growth_mib"] = result["peak_growth_kib"] / 1024
    if "memray_peak_bytes" in result:
        row["memray_peak_mib"] = result["memray_peak_bytes"] / 2**20
    key = ("backend", "tokens", "variant", "memray")
    results["rows"] = [old for old in results["rows"] if any(old[k] != row[k] for k in key)] + [row]
    results["date"] = row["date"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n")


def drop_database(create):
    from django.db import connection

    connection.close()
    if connection.vendor == "sqlite":
        Path(connection.settings_dict["NAME"]).unlink(missing_ok=True)
        return
    migrate_child.recreate_database(migrate_child.empty_database_options if create else None)


def measure_0015(count, use_memray):
    import oauth2_provider

    migrate_child.migrate("contenttypes")
    migrate_child.migrate("auth")
    migrate_child.migrate("oauth2_provider", BEFORE_0015)
    apps = migrate_child.historical_apps(BEFORE_0015)
    user = apps.get_model("auth", "User").objects.create(username="refresh-token-owner")
    application = apps.get_model("oauth2_provider", "Application").objects.create(
        name="refresh tokens", client_type="confidential", authorization_grant_type="password"
    )
    RefreshToken = apps.get_model("oauth2_provider", "RefreshToken")
    for start in range(0, count, INSERT_BATCH_SIZE):
        RefreshToken.objects.bulk_create(
            RefreshToken(token=f"refresh-{index:012d}-{'x' * 29}", user=user, application=application)
            for index in range(start, min(count, start + INSERT_BATCH_SIZE))
        )
    result = migrate_child.measure(
        lambda: migrate_child.migrate("oauth2_provider", MIGRATION_0015), use_memray
    )
    RefreshToken = migrate_child.historical_apps(MIGRATION_0015).get_model("oauth2_provider", "RefreshToken")
    rows = RefreshToken.objects.values_list("token", "token_checksum").iterator(chunk_size=INSERT_BATCH_SIZE)
    correct = sum(checksum == hashlib.sha256(token.encode()).hexdigest() for token, checksum in rows)
    return {
        **result,
        "tokens": count,
        "correct": correct,
        "database": migrate_child.describe_database(),
        "oauth2_provider": os.path.dirname(oauth2_provider.__file__),
    }


if __name__ == "__main__":
    main()
