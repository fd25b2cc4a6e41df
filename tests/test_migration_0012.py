"""Migration 0012 on a table that already holds access tokens: what it must leave behind."""

import random

import pytest
from django.db import IntegrityError, connections, transaction
from oauth2_provider.models import AccessToken
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.common import Request

from dot0012.migrate_child import BEFORE_0012, MIGRATION_0012
from tests.tokens import (
    applied,
    checksum,
    columns,
    generate_tokens,
    insert_tokens,
    migrate,
    stored_checksums,
    token_kinds,
)


def test_backfill_stores_sha256_of_utf8_token(before_0012):
    tokens = list(generate_tokens(1000))
    insert_tokens(tokens)

    migrate(MIGRATION_0012)

    assert stored_checksums() == {token: checksum(token) for token in tokens}


def test_every_kind_of_token_gets_its_checksum(before_0012):
    tokens = token_kinds(7, random.Random(7))
    assert [len(token) for token in tokens[2:]] == [255, 255]
    assert "🔑" in tokens[1] and "🔑" in tokens[3]  # outside the BMP: needs utf8mb4 on MySQL
    insert_tokens(tokens)

    migrate(MIGRATION_0012)

    assert stored_checksums() == {token: checksum(token) for token in tokens}


def test_token_checksum_is_unique_and_indexed(before_0012):
    insert_tokens(generate_tokens(10))

    # Through 0012 to the latest migration: the test uses the installed DOT's models.
    migrate(None)

    connection = connections["default"]
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, AccessToken._meta.db_table)
    assert any(c["columns"] == ["token_checksum"] and c["unique"] for c in constraints.values())
    existing = AccessToken.objects.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        AccessToken.objects.filter(pk=AccessToken.objects.last().pk).update(
            token_checksum=existing.token_checksum
        )


def test_migrated_tokens_authenticate_and_unknown_ones_do_not(before_0012):
    tokens = list(generate_tokens(200))
    insert_tokens(tokens)

    # Through 0012 to the latest migration: the test uses the installed DOT's models.
    migrate(None)

    validator = OAuth2Validator()
    for token in tokens[:8] + tokens[-4:]:
        request = Request("/resource/")
        assert validator.validate_bearer_token(token, ["read"], request)
        assert request.access_token.token == token
    assert not validator.validate_bearer_token("not-a-token-of-ours", ["read"], Request("/resource/"))


def test_empty_table_migrates(before_0012):
    migrate(MIGRATION_0012)

    assert "token_checksum" in columns()
    assert MIGRATION_0012 in applied()
    assert AccessToken.objects.count() == 0


def test_migrates_back_to_0011_and_forward_again(before_0012):
    tokens = list(generate_tokens(100))
    insert_tokens(tokens)
    migrate(MIGRATION_0012)

    migrate(BEFORE_0012)
    assert "token_checksum" not in columns()

    migrate(MIGRATION_0012)
    assert stored_checksums() == {token: checksum(token) for token in tokens}


@pytest.mark.django_db(transaction=True, databases=["default", "other"])
def test_database_option_backfills_that_database_and_leaves_default_alone(before_0012, other_before_0012):
    other_tokens = list(generate_tokens(500, seed=1))
    insert_tokens(other_tokens, alias="other")
    insert_tokens(generate_tokens(3, seed=2), alias="default")

    migrate(MIGRATION_0012, alias="other")

    assert stored_checksums("other") == {token: checksum(token) for token in other_tokens}
    assert MIGRATION_0012 not in applied("default")
    assert "token_checksum" not in columns("default")


@pytest.mark.control("3.0.0")
def test_unpatched_3_0_0_fails_on_a_table_with_two_tokens(before_0012):
    insert_tokens(generate_tokens(2))

    with pytest.raises(IntegrityError):
        migrate(MIGRATION_0012)
