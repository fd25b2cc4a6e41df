"""Patches, tests and tools for django-oauth-toolkit's migration 0012_add_token_checksum."""

__version__ = "0.1.0"
