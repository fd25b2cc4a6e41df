"""Upgrade from DOT < 3.0 to 3.x with no window, on PostgreSQL and MariaDB: expand, then contract.

DOT's 0012 adds token_checksum (the SHA-256 hex of token, varchar(64), unique, NOT NULL) to the access
token table and fills it, holding the table locked on PostgreSQL for the whole migration; after it the
instances still on DOT < 3.0, which insert tokens without a checksum, fail. The steps here do the same
schema work ahead of 0012, each with short locks only, while the old instances serve:

1. expand: a nullable token_checksum column, and a trigger that fills the checksum of every row
   inserted, or whose token is updated, without one (what the old instances write);
2. backfill: the checksums of the rows that existed before, in short keyset batches;
3. index: the unique index on token_checksum, built without blocking writes, under the name Django's
   0012 gives it, and an index on token that 0012 leaves in place for the old instances' reads;
4. not-null: token_checksum NOT NULL, without a long lock.

Then DOT 3.x's `migrate` with our series' 0012 finds the column, the checksums and the constraint in
place and skips them (its AddFieldUnlessPresent and AlterFieldUnlessDone), leaving only the change of
token to a TextField. Once no old instance remains:

6. contract: drop the trigger, and the index on token the old instances' reads needed.

status tells which of these are done. Every step is idempotent: run again, it does what is left. Each
takes a Django connection (configured with the database only: no DOT is needed) and logs to the
"dot0012" logger. SQLite is not covered: it has no online schema change at all.
"""

import contextlib
import logging
import re
import time

# Django is imported where it is used: the dot0012 command imports this module for its options,
# and runs without Django for its other subcommands.
from dot0012.errors import CommandError


logger = logging.getLogger("dot0012")

TABLE = "oauth2_provider_accesstoken"
COLUMN = "token_checksum"
TRIGGER = "dot0012_accesstoken_checksum"
# An index on token for the old instances' lookups by value, which 0012 leaves without one (DOT 3.x
# looks tokens up by checksum): without it each of their reads scans the table between 0012 and
# contract. A hash index on PostgreSQL (no size limit on the token, equality only), a prefix on MariaDB
# (one that survives 0012's change of token to longtext, which an index on the whole column would not).
TOKEN_INDEX = "dot0012_accesstoken_token"
MARIADB_TOKEN_INDEX_PREFIX = 191
# The CHECK constraint that lets PostgreSQL 12+ set NOT NULL without scanning the table.
NOT_NULL_CHECK = "dot0012_accesstoken_checksum_not_null"
STEPS = ("expand", "backfill", "index", "not-null", "status", "contract")
BATCH_SIZE = 1000
# How long one DDL statement may wait for its lock before it gives up and tries again: while it
# waits, the statements that arrive after it wait behind it.
LOCK_TIMEOUT_SECONDS = 0.5
LOCK_ATTEMPTS = 30
RETRY_PAUSE_SECONDS = 0.5
MINIMUM_POSTGRESQL = 120000
MINIMUM_MARIADB = (10, 6)

# The checksum as the database computes it from a token expression, by connection.vendor: the same
# as hashlib.sha256(token.encode("utf-8")).hexdigest(), and as our series' 0012 computes it.
CHECKSUM_SQL = {
    "postgresql": "encode(sha256(convert_to({token}, 'UTF8')), 'hex')",
    "mysql": "SHA2(CONVERT({token} USING utf8mb4), 256)",
}

# The function reads the token as to_jsonb(NEW) ->> 'token', never as NEW.token: PL/pgSQL caches the
# plan of an expression with the type each field had when a session first ran it, and once 0012 has
# changed token from varchar to text, every insert of a session that ran the trigger before fails with
# "type of parameter N (text) does not match that when preparing the plan (character varying)". The
# row's own type does not change.
POSTGRESQL_TRIGGER_FUNCTION = """
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.{column} IS NULL THEN
        NEW.{column} := {checksum};
    ELSIF TG_OP = 'UPDATE' THEN
        -- A token changed without its checksum: by an instance that knows nothing of checksums.
        IF to_jsonb(NEW) ->> 'token' IS DISTINCT FROM to_jsonb(OLD) ->> 'token'
                AND NEW.{column} IS NOT DISTINCT FROM OLD.{column} THEN
            NEW.{column} := {checksum};
        END IF;
    END IF;
    RETURN NEW;
END
$$
"""
POSTGRESQL_TRIGGER = (
    "CREATE TRIGGER {trigger} BEFORE INSERT OR UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION {function}()"
)
MARIADB_INSERT_TRIGGER = (
    "CREATE TRIGGER {trigger}_insert BEFORE INSERT ON {table} FOR EACH ROW "
    "SET NEW.{column} = COALESCE(NEW.{column}, {checksum})"
)
MARIADB_UPDATE_TRIGGER = """
CREATE TRIGGER {trigger}_update BEFORE UPDATE ON {table} FOR EACH ROW
BEGIN
    IF NEW.{column} IS NULL OR (NOT (NEW.token <=> OLD.token) AND NEW.{column} <=> OLD.{column}) THEN
        SET NEW.{column} = {checksum};
    END IF;
END
"""


def check_database(connection):
    """Raise CommandError unless the connection is to a PostgreSQL 12+ or MariaDB with the token table."""
    from django.core.exceptions import ImproperlyConfigured
    from django.db import DatabaseError

    if connection.vendor not in CHECKSUM_SQL:
        raise CommandError(
            f"the online upgrade supports PostgreSQL and MariaDB only, not {connection.display_name}"
        )
    try:
        connection.ensure_connection()
    except (DatabaseError, ImproperlyConfigured) as error:
        raise CommandError(
            f"cannot connect to {connection.settings_dict['NAME']!r}: {one_line(error)}"
        ) from None
    if connection.vendor == "postgresql" and connection.pg_version < MINIMUM_POSTGRESQL:
        raise CommandError("the online upgrade needs PostgreSQL 12 or later (NOT NULL from a CHECK)")
    if connection.vendor == "mysql":
        if not connection.mysql_is_mariadb:
            raise CommandError("the online upgrade is tested on MariaDB only, not on MySQL")
        if connection.mysql_version[:2] < MINIMUM_MARIADB:
            raise CommandError("the online upgrade needs MariaDB 10.6 or later")
        if not strict_mode(connection):
            # Without it MariaDB would turn a NULL checksum into "" when the column becomes NOT NULL.
            raise CommandError(
                "the session is not in strict mode (STRICT_TRANS_TABLES): see Django's mysql.W002"
            )
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
    if TABLE not in tables:
        raise CommandError(
            f"no table {TABLE} in {connection.settings_dict['NAME']!r}: is DOT migrated to 0011?"
        )


def strict_mode(connection):
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@SESSION.sql_mode")
        modes = set(cursor.fetchone()[0].split(","))
    return bool(modes & {"STRICT_TRANS_TABLES", "STRICT_ALL_TABLES"})


def one_line(error):
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def quote(connection, name):
    return connection.ops.quote_name(name)


def checksum_sql(connection, token):
    return CHECKSUM_SQL[connection.vendor].format(token=token)


# What the database says about the table.


def column_info(connection):
    """token_checksum as introspection describes it, or None."""
    with connection.cursor() as cursor:
        description = connection.introspection.get_table_description(cursor, TABLE)
    return next((info for info in description if info.name == COLUMN), None)


def constraints(connection):
    with connection.cursor() as cursor:
        return connection.introspection.get_constraints(cursor, TABLE)


def unique_constraint_name(connection):
    """
    The name Django's schema editor gives the unique constraint of token_checksum when 0012 makes the
    field unique (BaseDatabaseSchemaEditor._create_unique_sql): the name 0012 and later migrations
    look for, and what our series' AlterFieldUnlessDone finds as done.
    """
    return connection.schema_editor()._create_index_name(TABLE, [COLUMN], suffix="_uniq")


def like_index_name(connection):
    """The name of the varchar_pattern_ops index Django adds beside it on PostgreSQL."""
    return connection.schema_editor()._create_index_name(TABLE, [COLUMN], suffix="_like")


def has_unique_index(connection):
    return any(
        constraint["unique"] and constraint["columns"] == [COLUMN]
        for constraint in constraints(connection).values()
    )


def trigger_names(connection):
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal "
                "ORDER BY tgname",
                [TABLE],
            )
        else:
            cursor.execute(
                "SELECT trigger_name FROM information_schema.triggers "
                "WHERE event_object_schema = DATABASE() AND event_object_table = %s ORDER BY trigger_name",
                [TABLE],
            )
        return [row[0] for row in cursor.fetchall() if row[0].startswith(TRIGGER)]


def missing_checksums(connection):
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM {quote(connection, TABLE)} WHERE {quote(connection, COLUMN)} IS NULL"
        )
        return cursor.fetchone()[0]


def migration_0012_applied(connection):
    with connection.cursor() as cursor:
        if "django_migrations" not in connection.introspection.table_names(cursor):
            return False
        cursor.execute(
            "SELECT COUNT(*) FROM django_migrations WHERE app = %s AND name = %s",
            ["oauth2_provider", "0012_add_token_checksum"],
        )
        return cursor.fetchone()[0] > 0


def status(connection):
    """Which steps are done, as a dict: column, trigger, missing checksums, unique index, NOT NULL, 0012."""
    check_database(connection)
    column = column_info(connection)
    return {
        "column": column is not None,
        "trigger": bool(trigger_names(connection)),
        "missing_checksums": missing_checksums(connection) if column else None,
        "unique_index": has_unique_index(connection) if column else False,
        "token_index": has_token_index(connection),
        "not_null": column is not None and not column.null_ok,
        "migration_0012": migration_0012_applied(connection),
    }


# Short locks.


def is_lock_timeout(connection, error):
    cause = error.__cause__
    if connection.vendor == "postgresql":
        # lock_not_available
        return (
            getattr(getattr(cause, "diag", None), "sqlstate", None) == "55P03"
            or getattr(cause, "sqlstate", None) == "55P03"
        )
    # ER_LOCK_WAIT_TIMEOUT, which MariaDB also gives when lock_wait_timeout runs out on a metadata lock.
    return bool(cause and cause.args and cause.args[0] == 1205)


def run_with_short_locks(connection, statements, lock_timeout=LOCK_TIMEOUT_SECONDS, attempts=LOCK_ATTEMPTS):
    """
    Run statements (PostgreSQL: in one transaction) with a lock timeout, so that none waits long for
    its lock while the reads and writes that come after it queue behind it; on a timeout, pause and
    try again, up to `attempts` times.
    """
    from django.db import transaction

    def run():
        # MariaDB's DDL is not transactional: each statement commits on its own.
        in_transaction = (
            transaction.atomic(using=connection.alias)
            if connection.vendor == "postgresql"
            else contextlib.nullcontext()
        )
        with in_transaction, connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)

    return with_lock_timeout(connection, run, lock_timeout, attempts)


def with_lock_timeout(connection, function, lock_timeout=LOCK_TIMEOUT_SECONDS, attempts=LOCK_ATTEMPTS):
    """
    Call function (e.g. DOT 3.x's `migrate` to 0012) with the session's lock timeout set on connection,
    and again after a pause when a statement of it times out waiting for its lock, up to `attempts`
    times. Safe for 0012 of our series: on PostgreSQL it runs in one transaction, rolled back whole;
    on MariaDB it goes on from where it stopped. Return how many attempts it took.
    """
    from django.db import DatabaseError

    connection.ensure_connection()
    for attempt in range(1, attempts + 1):
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    "SELECT set_config('lock_timeout', %s, false)", [f"{int(lock_timeout * 1000)}ms"]
                )
            else:
                cursor.execute("SET SESSION lock_wait_timeout = %s", [max(1, round(lock_timeout))])
        try:
            function()
            return attempt
        except DatabaseError as error:
            if not is_lock_timeout(connection, error) or attempt == attempts:
                raise
            logger.info(
                "lock not granted within %ss, attempt %d of %d: retrying", lock_timeout, attempt, attempts
            )
            time.sleep(RETRY_PAUSE_SECONDS)
        finally:
            with connection.cursor() as cursor:
                if connection.vendor == "postgresql":
                    cursor.execute("RESET lock_timeout")
                else:
                    cursor.execute("SET SESSION lock_wait_timeout = DEFAULT")


# The steps.


def expand(connection, lock_timeout=LOCK_TIMEOUT_SECONDS, attempts=LOCK_ATTEMPTS):
    """Add the nullable token_checksum column and the trigger that fills it for the old instances."""
    check_database(connection)
    table, column = quote(connection, TABLE), quote(connection, COLUMN)
    statements = []
    if column_info(connection) is None:
        statements.append(f"ALTER TABLE {table} ADD COLUMN {column} varchar(64) NULL")
    if not trigger_names(connection):
        statements += trigger_sql(connection)
    if not statements:
        logger.info("expand: the column and the trigger are there already")
        return {"changed": False}
    if connection.vendor == "mysql" and statements[0].startswith("ALTER"):
        # Adding a nullable column last is instant in MariaDB 10.3+: refuse anything that would copy.
        statements[0] += ", ALGORITHM=INSTANT"
    run_with_short_locks(connection, statements, lock_timeout, attempts)
    logger.info("expand: added %s", "the column and the trigger" if len(statements) > 2 else "the trigger")
    return {"changed": True}


def trigger_sql(connection):
    names = {
        "table": quote(connection, TABLE),
        "column": quote(connection, COLUMN),
        "trigger": TRIGGER,
        "function": TRIGGER,
        "checksum": checksum_sql(
            connection, "(to_jsonb(NEW) ->> 'token')" if connection.vendor == "postgresql" else "NEW.token"
        ),
    }
    if connection.vendor == "postgresql":
        return [POSTGRESQL_TRIGGER_FUNCTION.format(**names), POSTGRESQL_TRIGGER.format(**names)]
    return [MARIADB_INSERT_TRIGGER.format(**names), MARIADB_UPDATE_TRIGGER.format(**names)]


def backfill(connection, batch_size=BATCH_SIZE):
    """
    Fill the checksums still NULL, in batches of batch_size primary keys, each an UPDATE of its own
    committed at once, so that no row stays locked for long.
    """
    from django.db import transaction

    check_database(connection)
    if batch_size < 1:
        raise CommandError(f"the batch size must be at least 1, not {batch_size}")
    if column_info(connection) is None:
        raise CommandError("no token_checksum column: run the expand step first")
    table, column = quote(connection, TABLE), quote(connection, COLUMN)
    update = (
        f"UPDATE {table} SET {column} = {checksum_sql(connection, quote(connection, 'token'))} "
        f"WHERE id >= %s AND id < %s AND {column} IS NULL"
    )
    filled = batches = 0
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MIN(id), MAX(id) FROM {table} WHERE {column} IS NULL")
        low, last = cursor.fetchone()
        while low is not None and low <= last:
            # The next bound from the primary key index alone, so gaps left by deleted tokens keep
            # the batches full.
            cursor.execute(
                f"SELECT id FROM {table} WHERE id >= %s ORDER BY id LIMIT 1 OFFSET %s", [low, batch_size]
            )
            row = cursor.fetchone()
            high = row[0] if row else last + 1
            with transaction.atomic(using=connection.alias):
                cursor.execute(update, [low, high])
                filled += cursor.rowcount
            batches += 1
            if batches % 100 == 0:
                logger.info("backfill: %d checksums filled", filled, extra={"progress": True})
            low = high
    logger.info("backfill: %d checksums filled", filled)
    return {"filled": filled, "batches": batches}


def create_index(connection, lock_timeout=LOCK_TIMEOUT_SECONDS):
    """
    Build the unique index on token_checksum without blocking writes, under the name of the unique
    constraint 0012 would add, so that 0012 finds it done.
    """
    check_database(connection)
    if column_info(connection) is None:
        raise CommandError("no token_checksum column: run the expand step first")
    changed = create_token_index(connection, lock_timeout)
    if has_unique_index(connection):
        logger.info("index: token_checksum has its unique index already")
        return {"changed": changed}
    table, column = quote(connection, TABLE), quote(connection, COLUMN)
    name = unique_constraint_name(connection)
    if connection.vendor == "postgresql":
        create_postgresql_unique_constraint(connection, name, lock_timeout)
    else:
        run_with_short_locks(
            connection,
            [
                f"ALTER TABLE {table} ADD UNIQUE INDEX {quote(connection, name)} ({column}), "
                "ALGORITHM=INPLACE, LOCK=NONE"
            ],
            lock_timeout,
        )
    logger.info("index: created %s", name)
    return {"changed": True, "name": name}


def has_token_index(connection):
    return TOKEN_INDEX in constraints(connection)


def create_token_index(connection, lock_timeout):
    """The index on token that keeps the old instances' reads by value fast after 0012 (TOKEN_INDEX)."""
    table, token, name = quote(connection, TABLE), quote(connection, "token"), quote(connection, TOKEN_INDEX)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", [TOKEN_INDEX]
            )
            row = cursor.fetchone()
            if row and row[0]:
                return False
            if row:
                cursor.execute(f"DROP INDEX CONCURRENTLY {name}")
            cursor.execute(f"CREATE INDEX CONCURRENTLY {name} ON {table} USING hash ({token})")
    else:
        if has_token_index(connection):
            return False
        run_with_short_locks(
            connection,
            [
                f"ALTER TABLE {table} ADD INDEX {name} ({token}({MARIADB_TOKEN_INDEX_PREFIX})), "
                "ALGORITHM=INPLACE, LOCK=NONE"
            ],
            lock_timeout,
        )
    logger.info("index: created %s", TOKEN_INDEX)
    return True


def create_postgresql_unique_constraint(connection, name, lock_timeout):
    """
    CREATE UNIQUE INDEX CONCURRENTLY, then make it the table's unique constraint (ADD CONSTRAINT ...
    USING INDEX, a brief lock): a constraint as Django creates it, which a later AlterField can drop
    with ALTER TABLE ... DROP CONSTRAINT. Django's varchar_pattern_ops index beside it too.
    """
    table, column = quote(connection, TABLE), quote(connection, COLUMN)
    like_name = like_index_name(connection)
    with connection.cursor() as cursor:
        for index, definition in (
            (name, f"UNIQUE INDEX CONCURRENTLY {{name}} ON {table} ({column})"),
            (like_name, f"INDEX CONCURRENTLY {{name}} ON {table} ({column} varchar_pattern_ops)"),
        ):
            # A CREATE INDEX CONCURRENTLY that failed (a duplicate, a cancel) leaves an invalid index.
            cursor.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", [index])
            row = cursor.fetchone()
            if row and not row[0]:
                cursor.execute(f"DROP INDEX CONCURRENTLY {quote(connection, index)}")
                row = None
            if row is None:
                cursor.execute("CREATE " + definition.format(name=quote(connection, index)))
    run_with_short_locks(
        connection,
        [
            f"ALTER TABLE {table} ADD CONSTRAINT {quote(connection, name)} "
            f"UNIQUE USING INDEX {quote(connection, name)}"
        ],
        lock_timeout,
    )


def set_not_null(connection, lock_timeout=LOCK_TIMEOUT_SECONDS):
    """Make token_checksum NOT NULL without holding a lock that blocks reads or writes for long."""
    check_database(connection)
    column_description = column_info(connection)
    if column_description is None:
        raise CommandError("no token_checksum column: run the expand step first")
    if not column_description.null_ok:
        logger.info("not-null: token_checksum is NOT NULL already")
        return {"changed": False}
    if not trigger_names(connection):
        raise CommandError("no checksum trigger: run the expand step first, or old instances will fail")
    missing = missing_checksums(connection)
    if missing:
        raise CommandError(f"{missing} tokens have no checksum yet: run the backfill step first")
    table, column = quote(connection, TABLE), quote(connection, COLUMN)
    if connection.vendor == "postgresql":
        check = quote(connection, NOT_NULL_CHECK)
        if NOT_NULL_CHECK not in constraints(connection):
            # NOT VALID: a brief lock, no scan; new rows are checked from now on.
            run_with_short_locks(
                connection,
                [f"ALTER TABLE {table} ADD CONSTRAINT {check} CHECK ({column} IS NOT NULL) NOT VALID"],
                lock_timeout,
            )
        # The scan, under a SHARE UPDATE EXCLUSIVE lock that lets reads and writes go on.
        run_with_short_locks(connection, [f"ALTER TABLE {table} VALIDATE CONSTRAINT {check}"], lock_timeout)
        # PostgreSQL 12+ skips the scan for SET NOT NULL when a valid CHECK proves it.
        run_with_short_locks(
            connection,
            [
                f"ALTER TABLE {table} ALTER COLUMN {column} SET NOT NULL",
                f"ALTER TABLE {table} DROP CONSTRAINT {check}",
            ],
            lock_timeout,
        )
        # Statistics taken while the checksums were NULL make the planner read 0012's "first token
        # without a checksum" along the primary key, through the whole table, under 0012's ACCESS
        # EXCLUSIVE lock; fresh ones send it to the unique index, which has no NULL. ANALYZE lets
        # reads and writes go on.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {table}")
    else:
        # An online rebuild: MariaDB logs the writes made while it runs and applies them at the end.
        # In strict mode it refuses (1138 or 1265) if a NULL is left, instead of storing "".
        run_with_short_locks(
            connection,
            [f"ALTER TABLE {table} MODIFY {column} varchar(64) NOT NULL, ALGORITHM=INPLACE, LOCK=NONE"],
            lock_timeout,
        )
    logger.info("not-null: token_checksum is NOT NULL")
    return {"changed": True}


def contract(connection, lock_timeout=LOCK_TIMEOUT_SECONDS):
    """Drop the trigger and the token index, once no instance of DOT < 3.0 serves any more."""
    check_database(connection)
    names = trigger_names(connection)
    token_index = has_token_index(connection)
    if not names and not token_index:
        logger.info("contract: no checksum trigger or token index left")
        return {"changed": False}
    table = quote(connection, TABLE)
    if names:
        if connection.vendor == "postgresql":
            statements = [f"DROP TRIGGER {TRIGGER} ON {table}", f"DROP FUNCTION IF EXISTS {TRIGGER}()"]
        else:
            statements = [f"DROP TRIGGER {name}" for name in names]
        run_with_short_locks(connection, statements, lock_timeout)
        logger.info("contract: dropped %s", ", ".join(names))
    if token_index:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {quote(connection, TOKEN_INDEX)}")
        else:
            run_with_short_locks(
                connection,
                [
                    f"ALTER TABLE {table} DROP INDEX {quote(connection, TOKEN_INDEX)}, "
                    "ALGORITHM=INPLACE, LOCK=NONE"
                ],
                lock_timeout,
            )
        logger.info("contract: dropped %s", TOKEN_INDEX)
    return {"changed": True}


STEP_FUNCTIONS = {
    "expand": expand,
    "backfill": backfill,
    "index": create_index,
    "not-null": set_not_null,
    "status": status,
    "contract": contract,
}


def run_step(step, connection, **options):
    if step not in STEP_FUNCTIONS:
        raise CommandError(f"unknown step {step!r}: choose one of {', '.join(STEPS)}")
    return STEP_FUNCTIONS[step](connection, **options)


def connect(database_url):
    """
    A Django connection to the database the URL names, configuring Django with that database alone
    if it is not configured yet (the dot0012 command).
    """
    from django.conf import settings

    from dot0012.databases import UnknownBackend, database_settings

    if not re.match(r"^(postgres|postgresql|pgsql|mysql|mysql2)(\+\w+)?://", database_url or ""):
        raise CommandError(f"not a PostgreSQL or MariaDB URL: {database_url!r}")
    try:
        database = database_settings(database_url)
    except (UnknownBackend, ValueError) as error:
        raise CommandError(f"bad database URL {database_url!r}: {error}") from None
    if not database.get("NAME"):
        raise CommandError(f"the database URL names no database: {database_url!r}")
    if settings.configured:
        # The dot0012 command configures Django itself; a program that has its own settings passes
        # its connection to the steps instead.
        raise CommandError("Django is configured already: pass a connection to the steps instead")
    import django
    from django.core.exceptions import ImproperlyConfigured
    from django.db import connections

    settings.configure(USE_TZ=True, DATABASES={"default": database})
    django.setup()
    try:
        return connections["default"]
    except ImproperlyConfigured as error:
        # The driver of the URL's backend is not installed.
        raise CommandError(f"cannot connect to {database['NAME']!r}: {one_line(error)}") from None
