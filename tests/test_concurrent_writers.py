"""
During a rolling deploy, app instances still running DOT < 3 keep writing access tokens while 0012
runs, without a checksum. What the series guarantees on MySQL and MariaDB, where they can write while
the backfill runs (PostgreSQL and SQLite lock the table for the whole of 0012):

- a token written before the backfill's last batch gets its checksum;
- a token written after it, before 0012 makes the column NOT NULL, makes that step fail: 0012 is not
  recorded, and the next `migrate` fills the token in and completes;
- after 0012, the old instances can no longer write tokens (the column has no default), see #1495.

No token is lost in any case.
"""

import os
import threading
from datetime import timedelta

import pytest
from django.db import DatabaseError, connections
from django.utils import timezone

from tests.test_migration_0012 import applied, stored_checksums
from tests.tokens import MIGRATION_0012, checksum, generate_tokens, insert_tokens, migrate


OLD_INSTANCE_INSERT = (
    "INSERT INTO oauth2_provider_accesstoken (token, expires, scope, created, updated) "
    "VALUES (%s, %s, %s, %s, %s)"
)


class OldInstance(threading.Thread):
    """Writes tokens the way DOT < 3 does, on a connection of its own, until stopped or refused."""

    def __init__(self):
        super().__init__()
        self.stopping = threading.Event()
        self.written = []
        self.refusal = None

    def run(self):
        connection = connections["default"]
        try:
            while not self.stopping.is_set():
                token = f"old-instance-{len(self.written)}"
                now = timezone.now()
                try:
                    with connection.cursor() as cursor:
                        cursor.execute(
                            OLD_INSTANCE_INSERT, [token, now + timedelta(hours=1), "read", now, now]
                        )
                except DatabaseError as error:
                    self.refusal = error
                    return
                self.written.append(token)
        finally:
            connection.close()

    def stop(self):
        self.stopping.set()
        self.join()


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("DOT0012_BACKEND") != "mysql",
    reason="PostgreSQL and SQLite hold the table locked for the whole of 0012",
)
def test_tokens_written_by_old_instances_during_the_backfill_are_not_lost(before_0012):
    insert_tokens(generate_tokens(100_000))
    old_instance = OldInstance()
    old_instance.start()
    try:
        migrate(MIGRATION_0012)
    except DatabaseError as error:
        # A token written after the last batch: the NOT NULL step refused to run.
        failure = error
    else:
        failure = None
    finally:
        old_instance.stop()
    written_during_migrate = list(old_instance.written)

    if failure is not None:
        assert MIGRATION_0012 not in applied(), failure
        migrate(MIGRATION_0012)

    assert MIGRATION_0012 in applied()
    assert len(written_during_migrate) > 0
    stored = stored_checksums()
    assert len(stored) == 100_000 + len(written_during_migrate)
    assert all(stored_checksum == checksum(token) for token, stored_checksum in stored.items())
    if failure is None and old_instance.refusal is not None:
        # The instance outlived 0012: its next token was refused, not stored without a checksum.
        assert f"old-instance-{len(written_during_migrate)}" not in stored
