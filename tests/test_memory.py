"""
Memory of migration 0012's backfill, measured with memray, which also sees C allocations such as
mysqlclient's client-side result buffer (tracemalloc does not).

At 100,000 tokens the patched backfill stays within BOUND on every backend, and its peak does not grow
with the table. The releases do not: DOT 3.0.1's `.all()` loop exceeds BOUND on every backend, and
on MySQL/MariaDB, where mysqlclient buffers the whole result, so do the `iterator()` loop and 3.4.1's
`iterator()` with `bulk_update()`; the controls below prove it. The peaks themselves, measured by
`dot0012 bench`, are in docs/benchmark.rst.
"""

import os

import pytest
from django.db import connections
from oauth2_provider.models import AccessToken

from dot0012.migrate_child import BEFORE_0012, MIGRATION_0012, memray_peak_bytes
from tests.memory import BOUND, MB
from tests.tokens import delete_all_tokens, generate_tokens, insert_tokens, migrate


# SQLite's own page cache (2 MB by default) fills up as the table grows; nothing else may.
GROWTH_FROM_10K_TO_100K = 4 * MB


@pytest.fixture
def tokens_100k(before_0012):
    insert_tokens(generate_tokens(100_000))


@pytest.mark.slow
@pytest.mark.limit_memory("16 MB")
def test_backfill_of_100k_tokens_stays_within_bound(tokens_100k):
    migrate(MIGRATION_0012)

    assert not AccessToken.objects.filter(token_checksum__isnull=True).exists()


@pytest.mark.slow
def test_backfill_peak_does_not_grow_with_the_table(before_0012):
    peaks = {}
    for count in (10_000, 100_000):
        insert_tokens(generate_tokens(count))
        peaks[count] = memray_peak_bytes(lambda: migrate(MIGRATION_0012))
        migrate(BEFORE_0012)
        delete_all_tokens()

    assert peaks[100_000] < BOUND
    assert peaks[100_000] - peaks[10_000] < GROWTH_FROM_10K_TO_100K, {n: p / MB for n, p in peaks.items()}


@pytest.mark.slow
@pytest.mark.control("3.0.1", series="none")
@pytest.mark.control("3.0.0", series="1", backends=["mysql"])
@pytest.mark.control("3.4.1", series="none", backends=["mysql"])
def test_backfill_exceeds_bound_without_keyset_batches(tokens_100k):
    """
    The same 100,000 tokens and bound as above, against DOT 3.0.1 as released (`.all()`), and on
    MySQL/MariaDB, where mysqlclient buffers the whole result, against 3.0.0 with only the iterator()
    patch and against 3.4.1 as released (iterator() and bulk_update()).
    """
    peak = memray_peak_bytes(lambda: migrate(MIGRATION_0012))

    assert peak > BOUND, f"{peak / MB:.1f} MB"


@pytest.fixture
def without_server_side_cursors(monkeypatch):
    """
    DISABLE_SERVER_SIDE_CURSORS, as behind pgbouncer in transaction pooling mode: psycopg then fetches
    the whole result of a query, iterator() or not, into the client before Django sees a row.
    """
    monkeypatch.setitem(connections["default"].settings_dict, "DISABLE_SERVER_SIDE_CURSORS", True)


only_on_postgresql = pytest.mark.skipif(
    os.environ.get("DOT0012_BACKEND") != "postgres", reason="server-side cursors are PostgreSQL's"
)


@pytest.mark.slow
@only_on_postgresql
def test_backfill_of_100k_tokens_stays_within_bound_without_server_side_cursors(
    tokens_100k, without_server_side_cursors
):
    peak = memray_peak_bytes(lambda: migrate(MIGRATION_0012))

    assert peak < BOUND, f"{peak / MB:.1f} MB"
    assert not AccessToken.objects.filter(token_checksum__isnull=True).exists()


@pytest.mark.slow
@only_on_postgresql
@pytest.mark.control("3.4.1", series="none", backends=["postgres"])
def test_backfill_exceeds_bound_without_server_side_cursors_as_released(
    tokens_100k, without_server_side_cursors
):
    """The same tokens, bound and settings, against DOT 3.4.1 as released (iterator() and bulk_update())."""
    peak = memray_peak_bytes(lambda: migrate(MIGRATION_0012))

    assert peak > BOUND, f"{peak / MB:.1f} MB"
