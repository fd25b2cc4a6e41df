"""After 0012, the tokens that existed before it still open a view protected by DOT."""

from tests.tokens import generate_tokens, insert_tokens, migrate


def test_old_tokens_open_a_protected_view_and_unknown_ones_do_not(before_0012, client):
    tokens = list(generate_tokens(400))
    insert_tokens(tokens)

    # Through 0012 to the latest migration: the view uses the installed DOT's models.
    migrate(None)

    # HTTP headers carry ASCII: DOT generates tokens from an ASCII alphabet, so the sample is the
    # ASCII kinds (30 and 255 characters); the others are checked through the validator.
    sample = [token for token in tokens[:40] + tokens[-40:] if token.isascii()]
    assert {len(token) for token in sample} >= {255} and len(sample) == 40
    for token in sample:
        response = client.get("/resource/", HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 200, token
        assert response.content == b"protected resource"
    response = client.get("/resource/", HTTP_AUTHORIZATION="Bearer not-a-token-of-ours")
    assert response.status_code == 403
