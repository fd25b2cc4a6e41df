from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """
    Stands for an operator's app with a swapped access token model, to run the upgrade guide's example
    migration (migrations/0005_accesstoken_token_checksum.py, included in docs/upgrade.rst).
    """

    name = "testproject.accounts"
    label = "accounts"
    default_auto_field = "django.db.models.BigAutoField"
