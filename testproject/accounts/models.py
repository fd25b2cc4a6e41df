from django.db import models
from oauth2_provider.models import TokenChecksumField


class AccessToken(models.Model):
    """The token fields of DOT's AbstractAccessToken, as the example migration leaves them."""

    token = models.TextField()
    token_checksum = TokenChecksumField(db_index=True, max_length=64, unique=True)
