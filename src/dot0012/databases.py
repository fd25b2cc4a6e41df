"""Database settings for the tests, the demo and the benchmark, read from environment variables.

DOT0012_BACKEND chooses sqlite (the default), postgres or mysql. DOT0012_DATABASE_URL, if set, names
the server instead (a dj-database-url URL; its database name is replaced by the one asked for).
Otherwise the servers are found at POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER, POSTGRES_PASSWORD
(127.0.0.1, 5432, postgres, empty) and MYSQL_HOST, MYSQL_PORT, MYSQL_USER, MYSQL_PASSWORD (127.0.0.1,
3306, root, empty), and SQLite files under DOT0012_SQLITE_DIR (the current directory). POSTGRES_HOST may
be the directory of the server's Unix socket, as tools/pg16.py sets it.
"""

import os
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import dj_database_url


BACKENDS = ("sqlite", "postgres", "mysql")


class UnknownBackend(ValueError):
    pass


def backend_from_env():
    backend = os.environ.get("DOT0012_BACKEND", "sqlite")
    if backend not in BACKENDS:
        raise UnknownBackend(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    return backend


def server_url(backend, name):
    if backend == "sqlite":
        directory = Path(os.environ.get("DOT0012_SQLITE_DIR", ".")).resolve()
        return f"sqlite:///{directory / name}.sqlite3"
    if backend == "postgres":
        prefix, default_port, default_user = "POSTGRES", "5432", "postgres"
    elif backend == "mysql":
        prefix, default_port, default_user = "MYSQL", "3306", "root"
    else:
        raise UnknownBackend(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    # A socket directory goes into the URL percent-encoded, the way dj-database-url reads it.
    host = quote(os.environ.get(f"{prefix}_HOST", "127.0.0.1"), safe="")
    port = os.environ.get(f"{prefix}_PORT", default_port)
    user = quote(os.environ.get(f"{prefix}_USER", default_user))
    password = quote(os.environ.get(f"{prefix}_PASSWORD", ""))
    return f"{backend}://{user}:{password}@{host}:{port}/{name}"


def socket_directory(url):
    """
    The URL's host if it is a Unix-socket directory (percent-encoded), as written: dj-database-url reads
    the host lowercased, as urllib gives it, and a directory's name may not be.
    """
    host = unquote(urlsplit(url).netloc.rpartition("@")[2].partition(":")[0])
    return host if host.startswith("/") else None


def database_settings(url):
    """Django DATABASES entry for a dj-database-url URL, with the options the tests rely on."""
    config = dj_database_url.parse(url)
    socket_dir = socket_directory(url)
    if socket_dir:
        config["HOST"] = socket_dir
    engine = config["ENGINE"]
    if engine.endswith("mysql"):
        config.setdefault("OPTIONS", {})["charset"] = "utf8mb4"
        config["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_bin"}
    elif engine.endswith("sqlite3"):
        # A file, not Django's in-memory test database: SQLite's pages would otherwise count as
        # the migrating process's memory.
        path = Path(config["NAME"])
        config["TEST"] = {"NAME": str(path.with_name(f"test_{path.name}"))}
    elif not engine.endswith("postgresql"):
        raise UnknownBackend(f"unsupported database engine {engine!r} in {url!r}")
    return config


def database_from_env(name):
    """DATABASES entry for database `name` on the server the environment chooses."""
    url = os.environ.get("DOT0012_DATABASE_URL")
    if url:
        url = f"{url.rsplit('/', 1)[0]}/{name}"
    return database_settings(url or server_url(backend_from_env(), name))
