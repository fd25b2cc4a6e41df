"""`dot0012 demo`: migration 0012 with unpatched and with patched django-oauth-toolkit, side by side.

Both variants migrate the same database, populated once at migration 0011 and rolled back to it in
between. Every Django step runs in a child process (dot0012.migrate_child) with that variant's DOT tree
first on PYTHONPATH, so that each migration is measured in a fresh process of its own.
"""

import tempfile
import time
from pathlib import Path

from dot0012.databases import database_settings
from dot0012.errors import CommandError
from dot0012.patching import prepare_trees
from dot0012.processes import (
    PROGRESS,
    check_requirements,
    check_tree,
    create_database,
    drop_database,
    logger,
    populate,
    run_child,
)


SQLITE_NAME = "dot0012_demo.sqlite3"
# series for dot0012.patching.prepare, and how the table names the variant.
VARIANTS = (("none", "as released"), ("all", "+ dot0012 series"))


def run_demo(tokens, database_url, dot_version):
    """
    Migrate the same tokens with DOT as released and as patched; return the report, and raise
    CommandError, the report as its second argument, if the patched migration did not fill every row.
    """
    if tokens < 1:
        raise CommandError("--tokens must be at least 1")
    check_requirements("demo")

    with tempfile.TemporaryDirectory(prefix="dot0012-demo-") as work_dir:
        database = demo_database(database_url, work_dir)
        create_database(database, work_dir)
        try:
            wanted = [(dot_version, series) for series, _ in VARIANTS]
            trees = list(prepare_trees(wanted, work_dir).values())
            info = populate(tokens, database, trees[0], work_dir)
            variant_rows = []
            for (_, description), tree in zip(VARIANTS, trees, strict=True):
                if variant_rows:
                    restore_0011(tokens, database, trees[0], work_dir)
                label = f"DOT {dot_version} {description}"
                variant_rows.append(migrate_variant(label, database, tree, work_dir))
        finally:
            drop_database(database, work_dir)
    report, patched_ok = format_report(tokens, dot_version, info, variant_rows)
    if not patched_ok:
        raise CommandError(
            "the patched migration did not give every row its correct checksum (see above)", report
        )
    return report


def demo_database(url, work_dir):
    """The Django DATABASES entry for --database, or for a SQLite file in the work directory."""
    if url is None:
        url = f"sqlite:///{Path(work_dir) / SQLITE_NAME}"
    try:
        database = database_settings(url)
    except ValueError as error:
        raise CommandError(f"unsupported database URL: {error}") from None
    if database["ENGINE"].endswith("sqlite3"):
        if database["NAME"] == ":memory:":
            raise CommandError("an in-memory SQLite database cannot be shared by the demo's processes")
        # The child processes run in the work directory.
        database["NAME"] = str(Path(database["NAME"]).resolve())
    elif not database["NAME"]:
        raise CommandError(f"the database URL names no database, e.g. {url.rstrip('/')}/dot0012_demo")
    return database


def restore_0011(tokens, database, tree, work_dir):
    """Take the database back to migration 0011 for the next variant, or rebuild it if that fails."""
    logger.info("rolling the database back to migration 0011")
    result = run_child("rollback", database, tree, work_dir)
    if "error" in result:
        logger.warning(
            "rolling back to migration 0011 failed (%s): creating the database again", result["error"]
        )
        create_database(database, work_dir)
        populate(tokens, database, tree, work_dir)


def migrate_variant(label, database, tree, work_dir):
    started = time.monotonic()

    def show_elapsed():
        logger.info("%s: migrating to 0012, %.0f s", label, time.monotonic() - started, extra=PROGRESS)

    logger.info("%s: migrating to 0012_add_token_checksum", label)
    result = run_child("migrate", database, tree, work_dir, on_tick=show_elapsed)
    logger.info("%s: done in %.1f s", label, time.monotonic() - started)
    if "oauth2_provider" in result:
        check_tree(result, tree)
    return {"label": label, **result}


def format_report(tokens, dot_version, info, variant_rows):
    """The table and the comparison lines, and whether the patched variant filled every checksum."""
    header = (
        f"DOT {dot_version} migration 0012 on {info['database']}: {tokens:,} access tokens, "
        f"Django {info['django']}, Python {info['python']}"
    )
    columns = ("variant", "outcome", "wall time", "peak RSS growth", "rows checked", "correct checksum")
    table = [columns]
    notes = []
    for row in variant_rows:
        error = row.get("error")
        if error and error.startswith("killed by"):
            outcome = "killed"
        elif error:
            outcome = "failed"
        else:
            outcome = "migrated"
        table.append(
            (
                row["label"],
                outcome,
                f"{row['seconds']:.1f} s" if "seconds" in row else "-",
                f"{row['peak_growth_kib'] / 1024:.1f} MiB" if "peak_growth_kib" in row else "-",
                f"{row['checked']:,}" if "checked" in row else "-",
                f"{row['correct']:,}" if "correct" in row else "-",
            )
        )
        if error:
            notes.append(f"{row['label']}: {error}")
        elif row["correct"] != tokens or row["checked"] != tokens:
            notes.append(
                f"{row['label']}: {row['checked']:,} rows after migrating, "
                f"{row['correct']:,} with the SHA-256 of their token as token_checksum"
            )
    widths = [max(len(line[column]) for line in table) for column in range(len(columns))]
    lines = [header, ""]
    for number, line in enumerate(table):
        cells = [line[0].ljust(widths[0]), line[1].ljust(widths[1])]
        cells += [cell.rjust(width) for cell, width in zip(line[2:], widths[2:], strict=True)]
        lines.append("  ".join(cells))
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    lines.append("")
    lines += notes
    released, patched = variant_rows
    if "error" not in released and "error" not in patched:
        patched_mib, released_mib = patched["peak_growth_kib"] / 1024, released["peak_growth_kib"] / 1024
        lines.append(f"memory: {patched_mib:.1f} MiB patched vs {released_mib:.1f} MiB as released")
        lines.append(f"time:   {patched['seconds']:.1f} s patched vs {released['seconds']:.1f} s as released")
    patched_ok = "error" not in patched and patched["checked"] == patched["correct"] == tokens
    return "\n".join(lines).rstrip(), patched_ok
