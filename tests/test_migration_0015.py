"""
Migration 0015 (DOT 3.4.0 and later) on a table that already holds refresh tokens: the same backfill
as 0012, for RefreshToken.token_checksum, within the same memory bound, which 3.4.1 as released
exceeds on MariaDB (mysqlclient buffers the whole `iterator()` result).
"""

import pytest
from django.db.migrations.loader import MigrationLoader

from tests.memory import MB, peak_allocated
from tests.test_memory import BOUND
from tests.tokens import checksum, generate_tokens, historical_apps, insert_refresh_tokens, migrate


BEFORE_0015 = "0014_alter_help_text"
MIGRATION_0015 = "0015_refreshtoken_token_checksum"


def has_migration_0015():
    return ("oauth2_provider", MIGRATION_0015) in MigrationLoader(
        None, ignore_no_migrations=True
    ).disk_migrations


pytestmark = pytest.mark.skipif(not has_migration_0015(), reason="this DOT has no migration 0015")


def stored_checksums():
    """{token: token_checksum} read through the model as 0015 leaves it."""
    RefreshToken = historical_apps(MIGRATION_0015).get_model("oauth2_provider", "RefreshToken")
    return dict(RefreshToken.objects.values_list("token", "token_checksum"))


@pytest.fixture
def before_0015(before_0012):
    migrate(BEFORE_0015)


def test_backfill_stores_sha256_of_utf8_refresh_token(before_0015):
    tokens = list(generate_tokens(5000))
    insert_refresh_tokens(tokens, BEFORE_0015)

    migrate(MIGRATION_0015)

    assert stored_checksums() == {token: checksum(token) for token in tokens}


@pytest.fixture
def refresh_tokens_100k(before_0015):
    insert_refresh_tokens(generate_tokens(100_000), BEFORE_0015)


@pytest.mark.slow
@pytest.mark.limit_memory("16 MB")
def test_backfill_of_100k_refresh_tokens_stays_within_bound(refresh_tokens_100k):
    migrate(MIGRATION_0015)

    RefreshToken = historical_apps(MIGRATION_0015).get_model("oauth2_provider", "RefreshToken")
    assert RefreshToken.objects.count() == 100_000
    assert not RefreshToken.objects.filter(token_checksum="").exists()


@pytest.mark.slow
@pytest.mark.control("3.4.1", series="none", backends=["mysql"])
def test_refresh_token_backfill_exceeds_bound_as_released(refresh_tokens_100k):
    """The same 100,000 refresh tokens and bound, against DOT 3.4.1 as released on MySQL/MariaDB."""
    peak = peak_allocated(lambda: migrate(MIGRATION_0015))

    assert peak > BOUND, f"{peak / MB:.1f} MB"
