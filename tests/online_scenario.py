"""
The upgrade from DOT < 3.0 to 3.x under the load of an old instance, by the standard path (0012 of our
series alone) or the online one (dot0012.online's steps around it), for tests/test_online.py and
tools/measure_online.py.

The old instance reads tokens by value every READ_INTERVAL_SECONDS and writes one, without a checksum
as DOT < 3.0 does, every INSERT_EVERY-th request, each on a connection of its own; it times every
request, so that a request held behind a lock shows as a long wait. Needs Django configured with
oauth2_provider installed and the database at 0011 holding the tokens.
"""

import hashlib
import logging
import random
import threading
import time
from datetime import timedelta

from django.db import DatabaseError, connections
from django.utils import timezone

from dot0012 import online
from tests.tokens import MIGRATION_0012, historical_apps, migrate


logger = logging.getLogger("dot0012")

READ_INTERVAL_SECONDS = 0.02
INSERT_EVERY = 10
# Tokens of the table the old instance reads, drawn at random.
READ_SAMPLE = 2000
# How long the old instance and a DOT 3.x reader serve side by side after 0012.
AFTER_0012_SECONDS = 2.0
OLD_INSTANCE_INSERT = (
    "INSERT INTO oauth2_provider_accesstoken (token, expires, scope, created, updated) "
    "VALUES (%s, %s, %s, %s, %s)"
)
OLD_INSTANCE_READ = "SELECT id, token, expires, scope FROM oauth2_provider_accesstoken WHERE token = %s"
ONLINE_STEPS_BEFORE_0012 = ("expand", "backfill", "index", "not-null")


class OldInstance:
    """An instance of DOT < 3.0 serving: a reader and a writer thread, each timing its requests."""

    def __init__(self, alias, tokens_to_read, seed=13):
        self.alias = alias
        self.tokens_to_read = list(tokens_to_read)
        self.rng = random.Random(seed)
        self.stopping = threading.Event()
        self.phase = "before"
        self.waits = {}
        self.written = []
        self.failed_inserts = []
        self.failed_reads = []
        self.reads = 0
        self.lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self.serve, args=(self.read, "read", READ_INTERVAL_SECONDS)),
            threading.Thread(
                target=self.serve, args=(self.insert, "insert", READ_INTERVAL_SECONDS * INSERT_EVERY)
            ),
        ]

    def start(self):
        for thread in self.threads:
            thread.start()

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join()

    def serve(self, request, kind, interval):
        connection = connections.create_connection(self.alias)
        try:
            while not self.stopping.is_set():
                phase = self.phase
                started = time.perf_counter()
                try:
                    with connection.cursor() as cursor:
                        request(cursor)
                except DatabaseError as error:
                    (self.failed_reads if kind == "read" else self.failed_inserts).append(
                        f"{phase}: {online.one_line(error)}"
                    )
                waited = time.perf_counter() - started
                with self.lock:
                    key = (phase, kind)
                    self.waits[key] = max(self.waits.get(key, 0.0), waited)
                self.stopping.wait(interval)
        finally:
            connection.close()

    def read(self, cursor):
        with self.lock:
            token = self.rng.choice(self.tokens_to_read + self.written[-100:])
        cursor.execute(OLD_INSTANCE_READ, [token])
        cursor.fetchall()
        self.reads += 1

    def insert(self, cursor):
        token = f"old-instance-{len(self.written)}-{self.rng.getrandbits(64):016x}"
        now = timezone.now()
        cursor.execute(OLD_INSTANCE_INSERT, [token, now + timedelta(days=1), "read", now, now])
        with self.lock:
            self.written.append(token)

    def longest(self, kind, phase=None):
        return max(
            (wait for (p, k), wait in self.waits.items() if k == kind and phase in (None, p)), default=0.0
        )


def checksum(token):
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def migrate_0012(alias, lock_timeout):
    """DOT 3.x's migrate to 0012 (our series'), with a lock timeout and retries for the online path."""
    if lock_timeout is None:
        migrate(MIGRATION_0012, alias)
        return 1
    return online.with_lock_timeout(connections[alias], lambda: migrate(MIGRATION_0012, alias), lock_timeout)


def read_like_dot_3(alias, tokens):
    """
    Look tokens up as DOT 3.x's OAuth2Validator._load_access_token does (by the SHA-256 of the token),
    through the model as 0012 leaves it; return the tokens not found.
    """
    AccessToken = historical_apps(MIGRATION_0012, alias).get_model("oauth2_provider", "AccessToken")
    tokens_by_checksum = {checksum(token): token for token in tokens}
    found = set()
    checksums = list(tokens_by_checksum)
    for start in range(0, len(checksums), 500):
        rows = AccessToken.objects.using(alias).filter(token_checksum__in=checksums[start : start + 500])
        found.update(rows.values_list("token_checksum", flat=True))
    return [token for digest, token in tokens_by_checksum.items() if digest not in found]


def serve_like_dot_3(alias, old_instance, seconds):
    """
    A DOT 3.x instance serving beside the old one for `seconds`: it looks up, by checksum, tokens the
    old instance wrote and tokens of the table, every READ_INTERVAL_SECONDS; return how many it missed.
    """
    AccessToken = historical_apps(MIGRATION_0012, alias).get_model("oauth2_provider", "AccessToken")
    rng = random.Random(17)
    misses = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with old_instance.lock:
            token = rng.choice(old_instance.tokens_to_read + old_instance.written[-100:])
        if not AccessToken.objects.using(alias).filter(token_checksum=checksum(token)).exists():
            misses += 1
        time.sleep(READ_INTERVAL_SECONDS)
    return misses


def wrong_checksums(alias):
    """Tokens of the whole table whose checksum is missing or not the SHA-256 of the token."""
    connection = connections[alias]
    wrong = []
    last_id = 0
    if online.column_info(connection) is None:
        return None
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                "SELECT id, token, token_checksum FROM oauth2_provider_accesstoken WHERE id > %s "
                "ORDER BY id LIMIT 5000",
                [last_id],
            )
            rows = cursor.fetchall()
            if not rows:
                return wrong
            wrong += [token for _, token, digest in rows if digest != checksum(token)]
            last_id = rows[-1][0]


def run(alias, path, tokens_to_read, lock_timeout=online.LOCK_TIMEOUT_SECONDS, on_step=None):
    """
    Upgrade the database at 0011 to 0012 under an old instance's load, by `path` ("standard" or
    "online"), then serve a DOT 3.x reader beside the old instance, then contract (online). Return what
    happened: per step its duration and the longest read and insert waits, the failures, the checks.
    """
    connection = connections[alias]
    old_instance = OldInstance(alias, tokens_to_read)
    steps = []
    errors = []
    migrate_runs = 0

    def step(name, function):
        old_instance.phase = name
        if on_step:
            on_step(name)
        started = time.perf_counter()
        try:
            outcome = function()
        except Exception as error:
            errors.append(f"{name}: {online.one_line(error)}")
            outcome = None
        steps.append({"step": name, "seconds": time.perf_counter() - started})
        return outcome

    old_instance.start()
    try:
        # A moment of the load before anything changes, as the reference.
        step("before", lambda: time.sleep(1.0))
        if path == "online":
            for name in ONLINE_STEPS_BEFORE_0012:
                step(name, lambda name=name: online.run_step(name, connection))
        for attempt in range(2):
            migrate_runs += 1
            done = step(
                "migrate" if attempt == 0 else "migrate-again",
                lambda: migrate_0012(alias, lock_timeout if path == "online" else None),
            )
            if done is not None:
                break
        connection.close()
        dot3_misses = step("dot3-reads", lambda: serve_like_dot_3(alias, old_instance, AFTER_0012_SECONDS))
    finally:
        old_instance.stop()
    # The old instances are gone: only then may the trigger go.
    if path == "online":
        step("contract", lambda: online.run_step("contract", connection))
    for entry in steps:
        entry["longest_read_wait_seconds"] = old_instance.longest("read", entry["step"])
        entry["longest_insert_wait_seconds"] = old_instance.longest("insert", entry["step"])
    written = list(old_instance.written)
    wrong = wrong_checksums(alias)
    not_found = read_like_dot_3(alias, tokens_to_read + written) if wrong is not None else tokens_to_read
    return {
        "path": path,
        "steps": steps,
        "migrate_runs": migrate_runs,
        "migrate_errors": [error for error in errors if error.startswith("migrate")],
        "errors": errors,
        "longest_read_wait_seconds": old_instance.longest("read"),
        "longest_insert_wait_seconds": old_instance.longest("insert"),
        "reads": old_instance.reads,
        "inserts": len(written),
        "failed_inserts": len(old_instance.failed_inserts),
        "failed_reads": len(old_instance.failed_reads),
        "first_failures": (old_instance.failed_inserts + old_instance.failed_reads)[:3],
        "written": written,
        "dot3_misses": dot3_misses,
        "not_found_by_checksum": len(not_found),
        "wrong_checksums": None if wrong is None else len(wrong),
    }
