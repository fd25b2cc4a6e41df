"""`dot0012 bench`: migration 0012 across DOT releases, the steps of our series, backends and table sizes.

For each backend, table size and token length the database is populated once at migration 0011. Each
variant (an unpacked, possibly patched DOT sdist put first on the child's PYTHONPATH) then migrates
that same data to 0012 in a fresh process of its own, --repeat times for wall time and peak RSS growth
and once more under memray for its allocation peak, the database being put back to 0011 before every
run: a copy of the SQLite file, a copy of the PostgreSQL database made from a template, and on MySQL a
rollback with the variant's own migrations. There are two floors to compare with: "floor" is one
set-based UPDATE computing every checksum in the database, alone, on the same data with a nullable
column added; "floor-0012" is migration 0012 of our complete 3.4.1 series with its backfill made one
such UPDATE, that is the schema steps any 0012 must take (a table rebuild on SQLite, a table copy on
MySQL, the unique index everywhere) around the least backfill there is.
"""

import contextlib
import csv
import datetime
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from dot0012.databases import database_settings, server_url
from dot0012.errors import CommandError
from dot0012.patching import prepare_trees
from dot0012.processes import (
    check_requirements,
    check_tree,
    create_database,
    drop_database,
    logger,
    populate,
    run_child,
)


BACKENDS = ("sqlite", "postgres", "postgres-nossc", "mysql")
# The server each backend column runs on; postgres-nossc is PostgreSQL with DISABLE_SERVER_SIDE_CURSORS.
SERVER = {"sqlite": "sqlite", "postgres": "postgres", "postgres-nossc": "postgres", "mysql": "mysql"}
DATABASE_NAME = "dot0012_bench"
TEMPLATE_NAME = "dot0012_bench_0011"
UPSTREAM = ("3.0.1", "3.1.0", "3.4.1")
FLOOR = "floor"
FLOOR_0012 = "floor-0012"
FLOORS = (FLOOR, FLOOR_0012)
MIB = 2**20
# Targets, checked at the largest N on each backend for our complete series.
RSS_LIMIT_MIB = 16
FLAT_TOLERANCE_MIB = 4
FLOOR_RATIO_LIMIT = 1.5
SPEEDUP_OVER = "3.4.1"
SPEEDUP_MINIMUM = 10


@dataclass
class Variant:
    key: str
    label: str
    version: str | None = None
    series: str = "none"
    final: bool = False
    tree: Path | None = None


def all_variants():
    """DOT 3.0.1, 3.1.0 and 3.4.1 as released, each step of our 3.0.1 series, our 3.4.1 series, the floor."""
    from dot0012.patching import series_patches, versions_with_series

    variants = [Variant(v, f"DOT {v} as released", v) for v in UPSTREAM]
    for dot in ("3.0.1", "3.4.1"):
        if dot not in versions_with_series():
            continue
        total = len(series_patches(dot))
        # The 3.4.1 series is the upstream stack: pull request 1 alone, and the whole stack.
        steps = range(1, total + 1) if dot == "3.0.1" else [1, total]
        for step in steps:
            if dot == "3.4.1":
                label = "DOT 3.4.1 + PR 1" if step == 1 else f"DOT 3.4.1 + PRs 1-{step}"
            else:
                label = f"DOT {dot} + " + ("patch 1" if step == 1 else f"patches 1-{step}")
            variants.append(Variant(f"{dot}+{step}", label, dot, str(step), step == total))
    variants.append(Variant(FLOOR, "floor: one UPDATE in the database, alone"))
    if "3.4.1" in versions_with_series():
        series = str(len(series_patches("3.4.1")))
        variants.append(Variant(FLOOR_0012, "floor-0012: 0012's schema steps + one UPDATE", "3.4.1", series))
    return variants


def select_variants(keys):
    variants = all_variants()
    if keys is None:
        return variants
    known = {variant.key: variant for variant in variants}
    # 3.0.1+all: the complete series.
    for variant in variants:
        if variant.final:
            known[f"{variant.version}+all"] = variant
    unknown = [key for key in keys if key not in known]
    if unknown:
        raise CommandError(f"unknown variant {', '.join(unknown)}: choose from {', '.join(known)}")
    chosen = [known[key] for key in keys] + [known[key] for key in FLOORS if key in known]
    return list({variant.key: variant for variant in chosen}.values())


def parse_list(text, option, convert=str, choices=None):
    try:
        values = [convert(item.strip().replace("_", "")) for item in text.split(",") if item.strip()]
    except ValueError:
        raise CommandError(f"{option} takes a comma-separated list, not {text!r}") from None
    if not values:
        raise CommandError(f"{option} is empty")
    if choices is not None:
        wrong = [value for value in values if value not in choices]
        if wrong:
            raise CommandError(f"{option}: unknown {', '.join(wrong)}; choose from {', '.join(choices)}")
    return values


def run_bench(args):
    backends = parse_list(args.backends, "--backends", choices=BACKENDS)
    token_counts = sorted(set(parse_list(args.tokens, "--tokens", int)))
    lengths = sorted(set(parse_list(args.token_lengths, "--token-lengths", int)))
    keys = parse_list(args.variants, "--variants") if args.variants else None
    if min(token_counts) < 1:
        raise CommandError("--tokens must be at least 1")
    if not all(16 <= length <= 255 for length in lengths):
        raise CommandError("--token-lengths must be from 16 to 255 (DOT's token column holds 255)")
    if args.repeat < 1:
        raise CommandError("--repeat must be at least 1")
    variants = select_variants(keys)
    extra = ("memray",) if args.memray else ()
    check_requirements("bench", extra=extra + (("matplotlib",) if args.plots else ()), extra_name="bench")
    out = Path(args.out)
    started = time.monotonic()

    with tempfile.TemporaryDirectory(prefix="dot0012-bench-") as work_dir:
        build_trees(variants, work_dir)
        rows = []
        descriptions = {}

        def save(complete):
            """Write the results so far, so that an interrupted run keeps what it measured."""
            results = collect_results(
                args, started, backends, token_counts, lengths, variants, rows, descriptions
            )
            results["complete"] = complete
            write_results(results, out, args.plots and complete)
            return results

        servers = [
            server for server in ("sqlite", "postgres", "mysql") if server in map(SERVER.get, backends)
        ]
        for server in servers:
            columns = [backend for backend in backends if SERVER[backend] == server]
            bench = ServerBench(server, work_dir, variants)
            try:
                for tokens in token_counts:
                    for length in lengths:
                        info = bench.populate(tokens, length)
                        descriptions[server] = info["database"]
                        for backend in columns:
                            for variant in variants:
                                rows.append(bench.measure(backend, tokens, length, variant, args))
                            save(complete=False)
            finally:
                bench.close()
    return save(complete=True)


def collect_results(args, started, backends, token_counts, lengths, variants, rows, descriptions):
    results = {
        "command": "dot0012 " + " ".join(args.argv),
        # How the run went (what else ran on the machine, say): a field of the results, not a hand edit.
        "note": args.note,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "duration_seconds": round(time.monotonic() - started),
        "machine": machine(),
        "versions": versions(descriptions),
        "settings": {
            "backends": backends,
            "tokens": token_counts,
            "token_lengths": lengths,
            "repeat": args.repeat,
            "slow_seconds": args.slow_seconds,
            "memray": args.memray,
            "variants": [
                {"key": v.key, "label": v.label, "version": v.version, "series": v.series} for v in variants
            ],
        },
        "rows": rows,
    }
    add_ratios(rows)
    results["targets"] = check_targets(rows, variants, backends, token_counts, lengths)
    return results


def build_trees(variants, work_dir):
    trees = prepare_trees(
        [(variant.version, variant.series) for variant in variants if variant.version], work_dir
    )
    for variant in variants:
        if variant.version:
            variant.tree = trees[(variant.version, variant.series)]


class ServerBench:
    """Populate one server's database at 0011, and put it back there before every run."""

    def __init__(self, server, work_dir, variants):
        self.server = server
        self.work_dir = work_dir
        # Any tree migrates to 0011 alike; the first one populates.
        self.populate_tree = next(variant.tree for variant in variants if variant.tree)
        self.tokens = self.length = None
        self.dirty_with = None
        if server == "sqlite":
            self.database = database_settings(f"sqlite:///{Path(work_dir) / DATABASE_NAME}.sqlite3")
            self.pristine = database_settings(f"sqlite:///{Path(work_dir) / TEMPLATE_NAME}.sqlite3")
        else:
            self.database = database_settings(server_url(server, DATABASE_NAME))
            # PostgreSQL copies the populated template for every run; MySQL rolls back instead.
            self.pristine = (
                database_settings(server_url(server, TEMPLATE_NAME))
                if server == "postgres"
                else self.database
            )

    def populate(self, tokens, length):
        logger.info(
            f"{self.server}: creating {tokens:,} access tokens of {length} characters at migration 0011"
        )
        self.close()
        create_database(self.pristine, self.work_dir)
        info = populate(tokens, self.pristine, self.populate_tree, self.work_dir, token_length=length)
        self.tokens, self.length, self.dirty_with = tokens, length, None
        return info

    def restore(self):
        """Bring the working database back to the populated state at 0011."""
        if self.server == "sqlite":
            for suffix in ("-journal", "-wal", "-shm"):
                Path(self.database["NAME"] + suffix).unlink(missing_ok=True)
            shutil.copyfile(self.pristine["NAME"], self.database["NAME"])
        elif self.server == "postgres":
            result = run_child(
                "clone-database", self.database, None, self.work_dir, options={"template": TEMPLATE_NAME}
            )
            if "error" in result:
                raise CommandError(f"cannot copy the populated PostgreSQL database: {result['error']}")
        elif self.dirty_with is not None:
            variant = self.dirty_with
            if variant.key == FLOOR:
                result = {}  # the floor step dropped its column itself
            else:
                result = run_child("rollback", self.database, variant.tree, self.work_dir)
            if "error" in result:
                logger.info(
                    f"rolling back {variant.label} failed ({result['error']}): populating the database again"
                )
                self.populate(self.tokens, self.length)
        self.dirty_with = None

    def run(self, backend, variant, verify, use_memray):
        self.restore()
        database = dict(self.database)
        if backend == "postgres-nossc":
            database["DISABLE_SERVER_SIDE_CURSORS"] = True
        self.dirty_with = variant
        if variant.key == FLOOR:
            options = {"undo": self.server == "mysql", "use_memray": use_memray}
            return run_child("floor", database, None, self.work_dir, options=options)
        options = {"verify": verify, "use_memray": use_memray, "one_update": variant.key == FLOOR_0012}
        result = run_child("migrate-0012", database, variant.tree, self.work_dir, options=options)
        if "oauth2_provider" in result:
            check_tree(result, variant.tree)
        return result

    def measure(self, backend, tokens, length, variant, args):
        row = {
            "backend": backend,
            "tokens": tokens,
            "token_length": length,
            "variant": variant.key,
            "label": variant.label,
            "runs": [],
            "errors": [],
            # What else kept the machine busy: the 1-minute load average as each variant started.
            "load_average": round(os.getloadavg()[0], 2),
        }
        for repetition in range(args.repeat):
            logger.info(f"{backend}, {tokens:,} tokens of {length}: {variant.label}, run {repetition + 1}")
            result = self.run(backend, variant, verify=repetition == 0, use_memray=False)
            if "error" in result:
                row["errors"].append(result["error"])
                logger.info(f"  failed: {result['error']}")
                break
            row["runs"].append({"seconds": result["seconds"], "peak_growth_kib": result["peak_growth_kib"]})
            if "checked" in result:
                row["checked"], row["correct"] = result["checked"], result["correct"]
            logger.info(f"  {result['seconds']:.2f} s, {result['peak_growth_kib'] / 1024:.1f} MiB")
            if args.slow_seconds and result["seconds"] > args.slow_seconds:
                logger.info(f"  slower than {args.slow_seconds} s: no more runs, none under memray")
                row["cut_short"] = True
                break
        if args.memray and not row["errors"] and not row.get("cut_short"):
            logger.info(f"{backend}, {tokens:,} tokens of {length}: {variant.label}, under memray")
            result = self.run(backend, variant, verify=False, use_memray=True)
            if "error" in result:
                row["errors"].append(f"under memray: {result['error']}")
            else:
                row["memray_peak_bytes"] = result["memray_peak_bytes"]
                logger.info(f"  memray peak {result['memray_peak_bytes'] / MIB:.1f} MiB")
        if row["runs"]:
            row["median_seconds"] = statistics.median(run["seconds"] for run in row["runs"])
            row["median_rss_growth_mib"] = (
                statistics.median(run["peak_growth_kib"] for run in row["runs"]) / 1024
            )
        if "memray_peak_bytes" in row:
            row["memray_peak_mib"] = row["memray_peak_bytes"] / MIB
        if row.get("checked") is not None and row["correct"] != tokens:
            row["errors"].append(f"{row['correct']:,} of {tokens:,} rows got the right checksum")
        return row

    def close(self):
        if self.server == "sqlite":
            for settings in (self.database, self.pristine):
                Path(settings["NAME"]).unlink(missing_ok=True)
            return
        drop_database(self.database, self.work_dir)
        if self.pristine is not self.database:
            drop_database(self.pristine, self.work_dir)


def machine():
    info = {"nproc": os.cpu_count(), "platform": platform.platform()}
    with contextlib.suppress(AttributeError):
        info["nproc_usable"] = len(os.sched_getaffinity(0))
    with contextlib.suppress(OSError), open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                info["memory_gib"] = round(int(line.split()[1]) / 2**20, 1)
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    return info


def versions(descriptions):
    found = {"python": platform.python_version()}
    for name in ("django", "psycopg", "mysqlclient", "memray", "matplotlib"):
        with contextlib.suppress(PackageNotFoundError):
            found[name] = version(name)
    found["databases"] = descriptions
    return found


def add_ratios(rows):
    """Each row's median wall time as a multiple of each floor's on the same backend and data."""
    for key in FLOORS:
        floors = {
            (row["backend"], row["tokens"], row["token_length"]): row.get("median_seconds")
            for row in rows
            if row["variant"] == key
        }
        for row in rows:
            floor = floors.get((row["backend"], row["tokens"], row["token_length"]))
            if floor and "median_seconds" in row:
                row[ratio_field(key)] = row["median_seconds"] / floor
    # How many times faster than DOT 3.4.1 as released, on the same backend and data.
    released = {
        (row["backend"], row["tokens"], row["token_length"]): row.get("median_seconds")
        for row in rows
        if row["variant"] == SPEEDUP_OVER
    }
    for row in rows:
        baseline = released.get((row["backend"], row["tokens"], row["token_length"]))
        if baseline and row.get("median_seconds"):
            row[f"speedup_vs_{SPEEDUP_OVER.replace('.', '_')}"] = baseline / row["median_seconds"]


def ratio_field(floor):
    return f"ratio_vs_{floor.replace('-', '_')}"


def check_targets(rows, variants, backends, token_counts, lengths):
    """The targets for each final variant on each backend, at the largest N, for every token length."""
    by_key = {(row["backend"], row["tokens"], row["token_length"], row["variant"]): row for row in rows}
    smallest, largest = token_counts[0], token_counts[-1]
    targets = []
    for variant in (variant for variant in variants if variant.final):
        for backend in backends:
            checks = {
                f"RSS growth <= {RSS_LIMIT_MIB} MiB": [],
                f"flat: RSS growth at {largest:,} <= at {smallest:,} + {FLAT_TOLERANCE_MIB} MiB": [],
                f"wall time <= {FLOOR_RATIO_LIMIT}x the floor (one UPDATE alone)": [],
                f"wall time <= {FLOOR_RATIO_LIMIT}x floor-0012 (0012's schema steps + one UPDATE)": [],
                f">= {SPEEDUP_MINIMUM}x faster than DOT {SPEEDUP_OVER}": [],
            }
            names = list(checks)
            for length in lengths:
                row = by_key.get((backend, largest, length, variant.key), {})
                small = by_key.get((backend, smallest, length, variant.key), {})
                upstream = by_key.get((backend, largest, length, SPEEDUP_OVER), {})
                growth = row.get("median_rss_growth_mib")
                checks[names[0]].append((length, growth, None if growth is None else growth <= RSS_LIMIT_MIB))
                if smallest != largest and growth is not None and "median_rss_growth_mib" in small:
                    increase = growth - small["median_rss_growth_mib"]
                    checks[names[1]].append((length, increase, increase <= FLAT_TOLERANCE_MIB))
                for name, floor in zip(names[2:4], FLOORS, strict=True):
                    ratio = row.get(ratio_field(floor))
                    met = None if ratio is None else ratio <= FLOOR_RATIO_LIMIT
                    checks[name].append((length, ratio, met))
                if "median_seconds" in upstream and "median_seconds" in row:
                    speedup = upstream["median_seconds"] / row["median_seconds"]
                    checks[names[4]].append((length, speedup, speedup >= SPEEDUP_MINIMUM))
            for name, results in checks.items():
                known = [met for _, _, met in results if met is not None]
                targets.append(
                    {
                        "variant": variant.key,
                        "backend": backend,
                        "tokens": largest,
                        "target": name,
                        "values": {str(length): value for length, value, _ in results},
                        "met": (all(known) if known and len(known) == len(lengths) else None),
                    }
                )
    return targets


def format_targets(targets):
    lines = ["Targets at the largest N (values per token length):"]
    for target in targets:
        verdict = {True: "met", False: "NOT met", None: "n/a"}[target["met"]]
        values = ", ".join(
            f"{length} chars: {'-' if value is None else f'{value:.2f}'}"
            for length, value in target["values"].items()
        )
        lines.append(
            f"  {verdict:7}  {target['variant']} on {target['backend']}: {target['target']} ({values})"
        )
    return "\n".join(lines)


CSV_COLUMNS = (
    "backend",
    "tokens",
    "token_length",
    "variant",
    "label",
    "runs",
    "median_seconds",
    "median_rss_growth_mib",
    "memray_peak_mib",
    "ratio_vs_floor",
    "ratio_vs_floor_0012",
    "checked",
    "correct",
    "errors",
)


FLOAT_COLUMNS = CSV_COLUMNS[CSV_COLUMNS.index("median_seconds") : CSV_COLUMNS.index("checked")]


def write_results(results, out, plots):
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    with open(out / "results.csv", "w", newline="") as stream:
        writer = csv.DictWriter(stream, CSV_COLUMNS)
        writer.writeheader()
        for row in results["rows"]:
            line = {column: row.get(column, "") for column in CSV_COLUMNS}
            line["runs"] = len(row["runs"])
            line["errors"] = "; ".join(row["errors"])
            for column in FLOAT_COLUMNS:
                if isinstance(line[column], float):
                    line[column] = f"{line[column]:.4f}"
            writer.writerow(line)
    (out / "results.md").write_text(format_markdown(results))
    if plots:
        plot(results, out)


def cell(value, digits=2):
    return "-" if value is None else f"{value:.{digits}f}"


def format_markdown(results):
    machine, found, settings = results["machine"], results["versions"], results["settings"]
    lines = [
        "# Migration 0012 benchmark",
        "",
        f"`{results['command']}`, {results['date']} ({results['duration_seconds'] // 60} min).",
        "",
        f"Machine: {machine.get('cpu', 'unknown CPU')}, {machine['nproc']} CPUs, "
        f"{machine.get('memory_gib', '?')} GiB; {machine['platform']}.",
        "",
        f"Python {found['python']}, Django {found.get('django', '?')}, psycopg {found.get('psycopg', '-')}, "
        f"mysqlclient {found.get('mysqlclient', '-')}, memray {found.get('memray', '-')}; "
        + "; ".join(f"{server}: {text}" for server, text in found["databases"].items())
        + ".",
        "",
        "Each figure is for `migrate oauth2_provider 0012` in a fresh process, on the same data populated "
        "once at 0011. The floor is one `UPDATE` computing every checksum in the database, alone, after "
        "adding a nullable column; floor-0012 is our 3.4.1 series' migration 0012 with its backfill made "
        "that one `UPDATE` (the schema steps every 0012 takes, around the least backfill there is). "
        "Wall time and peak RSS growth (VmHWM - VmRSS before) are medians of up to "
        f"{settings['repeat']} runs (the runs column); memray's peak (bytes held at the high-water mark of "
        "allocations, C ones included) comes from one more run of its own. postgres-nossc is PostgreSQL "
        "with DISABLE_SERVER_SIDE_CURSORS = True.",
        "",
    ]
    if settings.get("slow_seconds"):
        lines += [
            f"A variant whose first run took longer than {settings['slow_seconds']} s was run only once "
            "(runs = 1), and not under memray.",
            "",
        ]
    if results.get("note"):
        lines += [results["note"], ""]
    if not results.get("complete", True):
        lines += [
            "**Incomplete: the run was interrupted, or is still going; these are the rows so far.**",
            "",
        ]
    lines += [
        "| backend | N | token length | variant | runs | median wall s | median RSS growth MiB "
        "| memray peak MiB | ratio vs floor | ratio vs floor-0012 |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results["rows"]:
        label = row["label"] + (f" (failed: {'; '.join(row['errors'])})" if row["errors"] else "")
        lines.append(
            f"| {row['backend']} | {row['tokens']:,} | {row['token_length']} | {label} | {len(row['runs'])} "
            f"| {cell(row.get('median_seconds'))} | {cell(row.get('median_rss_growth_mib'), 1)} "
            f"| {cell(row.get('memray_peak_mib'), 1)} | {cell(row.get('ratio_vs_floor'), 1)} "
            f"| {cell(row.get('ratio_vs_floor_0012'), 1)} |"
        )
    lines += ["", "## Targets", "", "```", format_targets(results["targets"]), "```", ""]
    return "\n".join(lines)


LEGEND_INCHES = 4.4  # room on the right for the longest variant label


def plot(results, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["rows"]
    backends = results["settings"]["backends"]
    lengths = results["settings"]["token_lengths"]
    variants = [variant["key"] for variant in results["settings"]["variants"]]
    labels = {variant["key"]: variant["label"] for variant in results["settings"]["variants"]}
    metrics = (
        ("memory.png", "median_rss_growth_mib", "peak RSS growth (MiB)", 0.05),
        ("memray.png", "memray_peak_mib", "memray peak (MiB)", 0.05),
        ("time.png", "median_seconds", "wall time (s)", 0.001),
    )
    for filename, field, ylabel, lowest in metrics:
        figure, axes = plt.subplots(
            len(lengths),
            len(backends),
            figsize=(4.2 * len(backends) + LEGEND_INCHES, 3.4 * len(lengths)),
            squeeze=False,
            sharey=True,
        )
        for row_index, length in enumerate(lengths):
            for column, backend in enumerate(backends):
                axis = axes[row_index][column]
                for index, key in enumerate(variants):
                    points = sorted(
                        (row["tokens"], row[field])
                        for row in rows
                        if row["backend"] == backend
                        and row["token_length"] == length
                        and row["variant"] == key
                        and row.get(field) is not None
                    )
                    if not points:
                        continue
                    xs, ys = zip(*points, strict=True)
                    # A log axis has no room for growth that rounds to 0 or below.
                    ys = [max(y, lowest) for y in ys]
                    axis.plot(
                        xs,
                        ys,
                        marker="o",
                        color={FLOOR: "black", FLOOR_0012: "grey"}.get(key, f"C{index}"),
                        linestyle="--" if key in FLOORS else "-",
                        label=labels[key],
                    )
                axis.set_xscale("log")
                axis.set_yscale("log")
                axis.grid(True, which="both", alpha=0.3)
                axis.set_title(f"{backend}, tokens of {length} chars", fontsize=10)
                if row_index == len(lengths) - 1:
                    axis.set_xlabel("access tokens (N)")
                if column == 0:
                    axis.set_ylabel(ylabel)
        handles, names = axes[0][0].get_legend_handles_labels()
        figure.legend(handles, names, loc="center right", fontsize=9)
        figure.suptitle(f"migration 0012: {ylabel} vs N (log-log; values below {lowest} drawn at {lowest})")
        figure.tight_layout(rect=(0, 0, 1 - LEGEND_INCHES / (4.2 * len(backends) + LEGEND_INCHES), 0.95))
        figure.savefig(out / filename, dpi=110)
        plt.close(figure)
