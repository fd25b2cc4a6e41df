import os
import re

from dot0012.databases import database_from_env


SECRET_KEY = "dot0012-tests-not-secret"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "oauth2_provider",
    "testproject.accounts",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "oauth2_provider.middleware.OAuth2TokenMiddleware",
]
AUTHENTICATION_BACKENDS = [
    "oauth2_provider.backends.OAuth2Backend",
    "django.contrib.auth.backends.ModelBackend",
]
ROOT_URLCONF = "testproject.urls"

# Each tox env gets databases of its own, so that envs can share one server and run in parallel.
_database_name = re.sub(r"\W", "_", os.environ.get("DOT0012_DB_NAME", "dot0012"))
DATABASES = {
    "default": database_from_env(_database_name),
    "other": database_from_env(f"{_database_name}_other"),
}

OAUTH2_PROVIDER = {"SCOPES": {"read": "Reading scope", "write": "Writing scope"}}
