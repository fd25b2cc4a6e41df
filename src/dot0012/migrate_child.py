"""The steps of `dot0012 demo`, each run in a process of its own by `python -m dot0012.migrate_child STEP
[OPTIONS]`, OPTIONS being the step's keyword arguments as a JSON object.

A fresh process per step keeps one migration's memory out of the next one's measurement. The parent
passes the Django DATABASES entry as JSON in DOT0012_DEMO_DATABASE and puts the django-oauth-toolkit
tree to use first on PYTHONPATH. The child answers on stdout, one JSON object per line: {"progress": n}
while it works, then {"result": {...}} or {"error": "one line"}. Everything else goes to stderr.
"""

import gc
import hashlib
import importlib
import json
import os
import random
import string
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from datetime import timedelta

from dot0012.online import CHECKSUM_SQL


DATABASE_ENV = "DOT0012_DEMO_DATABASE"
BEFORE_0012 = "0011_refreshtoken_token_family"
MIGRATION_0012 = "0012_add_token_checksum"


@dataclass(frozen=True)
class Backfill:
    """One of DOT's two checksum migrations: the one before it, itself, and the table it fills."""

    before: str
    migration: str
    model: str
    table: str


# 0012 fills the access tokens' checksums (DOT 3.0.0 and later), 0015 the refresh tokens' (3.4.0 and later).
BACKFILLS = {
    "0012": Backfill(BEFORE_0012, MIGRATION_0012, "AccessToken", "oauth2_provider_accesstoken"),
    "0015": Backfill(
        "0014_alter_help_text",
        "0015_refreshtoken_token_checksum",
        "RefreshToken",
        "oauth2_provider_refreshtoken",
    ),
}
INSERT_BATCH_SIZE = 5000
VERIFY_BATCH_SIZE = 2000
# oauthlib.common.UNICODE_ASCII_CHARACTER_SET, from which DOT's tokens are drawn.
TOKEN_CHARACTERS = string.ascii_letters + string.digits
TOKEN_RANDOM_LENGTH = 30


def setup_django(with_dot=True):
    import django
    from django.conf import settings

    settings.configure(
        SECRET_KEY="dot0012-demo-not-secret",
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "oauth2_provider"]
        if with_dot
        else [],
        DATABASES={"default": json.loads(os.environ[DATABASE_ENV])},
    )
    django.setup()


def migrate(app_label, target=None):
    from django.core.management import call_command

    args = [app_label] if target is None else [app_label, target]
    call_command("migrate", *args, verbosity=0, interactive=False)


def historical_apps(migration, alias="default", app_label="oauth2_provider"):
    """The models as they were at `app_label`'s `migration`, on database `alias`."""
    from django.db import connections
    from django.db.migrations.executor import MigrationExecutor

    return MigrationExecutor(connections[alias]).loader.project_state((app_label, migration)).apps


def memory_kib(field):
    """VmRSS (resident now) or VmHWM (peak resident) of this process, in KiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak_memory():
    """Make VmHWM start again from the current RSS, so that it shows the peak of what follows only."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        # Kernels before 4.0 cannot reset it; the peak of the setup then counts as well.
        pass


def describe_database():
    from django.db import connection

    if connection.vendor == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    if connection.vendor == "postgresql":
        major, minor = divmod(connection.pg_version, 10000)
        import psycopg

        return f"PostgreSQL {major}.{minor} (psycopg {psycopg.__version__})"
    if connection.vendor == "mysql":
        import MySQLdb

        server = "MariaDB" if connection.mysql_is_mariadb else "MySQL"
        version = ".".join(map(str, connection.mysql_version))
        driver_version = ".".join(map(str, MySQLdb.version_info[:3]))
        return f"{server} {version} (mysqlclient {driver_version})"
    return connection.display_name


def drop_then_create(create_options=None):
    """Drop the database in the settings if it exists; then create it, unless create_options is None."""
    setup_django(with_dot=False)
    return recreate_database(create_options)


def recreate_database(create_options=None):
    """drop_then_create() for a process whose Django settings are configured already."""
    from django.db import connection

    name = connection.ops.quote_name(connection.settings_dict["NAME"])
    with connection._nodb_cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name}")
        if create_options is not None:
            cursor.execute(f"CREATE DATABASE {name} {create_options(connection)}")
    return {}


def empty_database_options(connection):
    return connection.creation.sql_table_creation_suffix()


def create_database(send):
    """Drop the demo's database if it exists and create it empty (server databases only)."""
    return drop_then_create(empty_database_options)


def drop_database(send):
    return drop_then_create(create_options=None)


def demo_token(index, rng):
    """A token like the ones DOT generates, made distinct by the index after its random part."""
    return "".join(rng.choices(TOKEN_CHARACTERS, k=TOKEN_RANDOM_LENGTH)) + f"{index:x}"


def bench_token(index, rng, length):
    """A distinct token of exactly `length` characters: random ones, then the index in hex."""
    suffix = f"{index:x}"
    return "".join(rng.choices(TOKEN_CHARACTERS, k=length - len(suffix))) + suffix


def populate(send, count: int, length: int = 0, migration: str = "0012"):
    """
    Migrate to the migration before `migration` (0012 or 0015) and insert `count` tokens of the table it
    fills through the historical model: like the demo's (30 random characters and the index), or of
    `length` characters. Refresh tokens belong to one user and application.
    """
    setup_django()
    import django
    import oauth2_provider
    from django.utils import timezone

    backfill = BACKFILLS[migration]
    migrate("contenttypes")
    migrate("auth")
    migrate("oauth2_provider", backfill.before)
    apps = historical_apps(backfill.before)
    Token = apps.get_model("oauth2_provider", backfill.model)
    if backfill.model == "AccessToken":
        owners = {"expires": timezone.now() + timedelta(days=1), "scope": "read write"}
    else:
        owners = {
            "user": apps.get_model("auth", "User").objects.create(username="refresh-token-owner"),
            "application": apps.get_model("oauth2_provider", "Application").objects.create(
                name="refresh tokens", client_type="confidential", authorization_grant_type="password"
            ),
        }
    rng = random.Random(12)
    inserted = 0
    while inserted < count:
        batch_size = min(INSERT_BATCH_SIZE, count - inserted)
        Token.objects.bulk_create(
            Token(token=bench_token(index, rng, length) if length else demo_token(index, rng), **owners)
            for index in range(inserted, inserted + batch_size)
        )
        inserted += batch_size
        send({"progress": inserted})
    return {
        "database": describe_database(),
        "django": django.get_version(),
        "python": sys.version.split()[0],
        "oauth2_provider": os.path.dirname(oauth2_provider.__file__),
    }


def count_checksums(backfill=BACKFILLS["0012"]):
    """Rows, and rows whose token_checksum is the SHA-256 of their token, read in keyset batches."""
    Token = historical_apps(backfill.migration).get_model("oauth2_provider", backfill.model)
    rows = Token.objects.order_by("pk").values_list("pk", "token", "token_checksum")
    checked = correct = 0
    last_pk = None
    while True:
        batch = list((rows if last_pk is None else rows.filter(pk__gt=last_pk))[:VERIFY_BATCH_SIZE])
        if not batch:
            return checked, correct
        checked += len(batch)
        correct += sum(
            checksum == hashlib.sha256(token.encode("utf-8")).hexdigest() for _, token, checksum in batch
        )
        last_pk = batch[-1][0]


def memray_peak_bytes(function):
    """
    Run function under memray's Tracker and return the bytes allocated while it runs and still held at
    its high-water mark, C allocations (such as a driver's client-side result buffer) as well as Python
    ones: the figure pytest-memray's limit_memory compares with its limit. function's exceptions
    propagate.
    """
    import memray

    with tempfile.TemporaryDirectory(prefix="dot0012-memray-") as directory:
        path = os.path.join(directory, "allocations.bin")
        with memray.Tracker(path, file_format=memray.FileFormat.AGGREGATED_ALLOCATIONS):
            function()
        records = memray.FileReader(path).get_high_watermark_allocation_records(merge_threads=True)
        return sum(record.size for record in records)


def measure(function, use_memray=False):
    """
    Run function and return its wall time and peak RSS growth; with use_memray, run it under memray's
    Tracker instead and return the bytes held at the high-water mark of its allocations (memray's own
    overhead makes that run's time and RSS meaningless, so they are not returned). If function
    raises, the result has the error too, in one line, and the traceback goes to stderr.
    """
    error = None

    def run():
        nonlocal error
        try:
            function()
        except Exception as exception:
            traceback.print_exc()
            error = one_line(exception)

    gc.collect()
    if use_memray:
        result = {"memray_peak_bytes": memray_peak_bytes(run)}
    else:
        reset_peak_memory()
        rss_before = memory_kib("VmRSS")
        started = time.perf_counter()
        run()
        seconds = time.perf_counter() - started
        result = {"seconds": seconds, "peak_growth_kib": memory_kib("VmHWM") - rss_before}
    return {**result, "error": error} if error else result


def migrate_to(
    send, migration: str = "0012", verify: bool = True, use_memray: bool = False, one_update: bool = False
):
    """
    Migrate to `migration` (0012 or 0015) as the measured step: wall time and peak RSS growth (or, with
    use_memray, memray's peak), then, with verify, count the rows with a correct checksum. With
    one_update, the migration must be one of our series': its BATCH_SIZE is raised to the number of
    tokens, so that its backfill is a single UPDATE between the same schema steps.
    """
    setup_django()
    import oauth2_provider
    from django.core.management import load_command_class
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    backfill = BACKFILLS[migration]
    # Connect, and import the migrate command and the migration modules, first: none of that is the
    # backfill's memory, and both variants would pay it alike.
    connection.ensure_connection()
    load_command_class("django.core", "migrate")
    MigrationLoader(connection)
    if one_update:
        module = importlib.import_module(f"oauth2_provider.migrations.{backfill.migration}")
        if not hasattr(module, "BATCH_SIZE"):
            raise RuntimeError(f"{module.__file__} has no BATCH_SIZE: it is not one of our series")
        Token = historical_apps(backfill.before).get_model("oauth2_provider", backfill.model)
        module.BATCH_SIZE = max(1, Token.objects.count())
    result = measure(lambda: migrate("oauth2_provider", backfill.migration), use_memray=use_memray)
    result["oauth2_provider"] = os.path.dirname(oauth2_provider.__file__)
    if "error" in result or not verify:
        return result
    checked, correct = count_checksums(backfill)
    return {**result, "checked": checked, "correct": correct}


# The floor: one set-based UPDATE computing every checksum in the database, by connection.vendor.
FLOOR_CHECKSUM_SQL = {
    # The server's SHA-256, as the online upgrade computes it; on SQLite hashlib's, registered below.
    **{vendor: sql.format(token="token") for vendor, sql in CHECKSUM_SQL.items()},
    "sqlite": "dot0012_sha256(token)",
}


def floor(send, migration: str = "0012", undo: bool = False, use_memray: bool = False):
    """
    The floor the migration is compared with: add a nullable token_checksum column to the table that
    `migration` fills, at the migration before it (not measured), then fill it with one UPDATE computed
    by the database (measured). With undo, drop the column again, leaving the table as it was.
    """
    setup_django(with_dot=False)
    from django.db import connection, transaction

    connection.ensure_connection()
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            "dot0012_sha256",
            1,
            lambda token: hashlib.sha256(token.encode("utf-8")).hexdigest(),
            deterministic=True,
        )
    table = connection.ops.quote_name(BACKFILLS[migration].table)
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} ADD COLUMN token_checksum varchar(64) NULL")

    def update():
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET token_checksum = {FLOOR_CHECKSUM_SQL[connection.vendor]}")

    result = measure(update, use_memray=use_memray)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*), SUM(CASE WHEN token_checksum = {FLOOR_CHECKSUM_SQL[connection.vendor]} "
            f"AND token_checksum IS NOT NULL THEN 1 ELSE 0 END) FROM {table}"
        )
        checked, correct = cursor.fetchone()
    if undo:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {table} DROP COLUMN token_checksum")
    return {**result, "checked": int(checked), "correct": int(correct or 0)}


def clone_database(send, template: str):
    """Drop the database and create it again as a copy of template (PostgreSQL only)."""
    return drop_then_create(lambda connection: f"TEMPLATE {connection.ops.quote_name(template)}")


def describe(send):
    """The database server and driver, for the benchmark's record."""
    setup_django(with_dot=False)
    return {"database": describe_database()}


def rollback(send, migration: str = "0012"):
    setup_django()
    migrate("oauth2_provider", BACKFILLS[migration].before)
    return {}


STEPS = {
    "create-database": create_database,
    "drop-database": drop_database,
    "populate": populate,
    "migrate": migrate_to,
    "rollback": rollback,
    "floor": floor,
    "clone-database": clone_database,
    "describe": describe,
}


def one_line(exception):
    lines = str(exception).strip().splitlines()
    return f"{type(exception).__name__}: {lines[0].strip()}" if lines else type(exception).__name__


def main(argv, steps=STEPS):
    """Run the step argv names, from steps, answering the parent with JSON lines on stdout."""
    # The step, and its keyword arguments as one JSON object.
    step, *options = argv
    options = json.loads(options[0]) if options else {}
    messages = sys.stdout
    # Whatever Django or a driver prints must not be taken for a message to the parent.
    sys.stdout = sys.stderr

    def send(message):
        messages.write(json.dumps(message) + "\n")
        messages.flush()

    try:
        result = steps[step](send, **options)
    except Exception as exception:
        traceback.print_exc()
        send({"error": one_line(exception)})
        return 1
    send({"result": result})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
