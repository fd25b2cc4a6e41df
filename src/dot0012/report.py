"""The results of `dot0012 bench`: ratios, targets, and the files written from them.

results.json is the source; results.csv and results.md are written from it by this module alone
(`python tools/render_bench.py --check` checks that the committed ones are), the plots by plots.py.
"""

import contextlib
import csv
import io
import json
import os
import platform
from importlib.metadata import PackageNotFoundError, version

from dot0012.variants import FLOOR, SCHEMA_FLOOR


MIB = 2**20
# Targets, checked at the largest N on each backend for our complete series.
RSS_LIMIT_MIB = 16
FLAT_TOLERANCE_MIB = 4
FLOOR_RATIO_LIMIT = 1.5
SPEEDUP_OVER = "3.4.1"
SPEEDUP_MINIMUM = 10
RATIO_FIELDS = {FLOOR: "ratio_vs_floor", SCHEMA_FLOOR: "ratio_vs_schema_floor"}
SPEEDUP_FIELD = f"speedup_vs_{SPEEDUP_OVER.replace('.', '_')}"


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


def same_data(row):
    """The rows measured on the same database contents: backend, migration, table size, token length."""
    return (row["backend"], row.get("migration", "0012"), row["tokens"], row["token_length"])


def add_ratios(rows):
    """
    Each row's median wall time as a multiple of each floor's on the same data, and how many times
    faster than DOT 3.4.1 as released it is.
    """
    medians = {(same_data(row), row["variant"]): row.get("median_seconds") for row in rows}
    for row in rows:
        data = same_data(row)
        if not row.get("median_seconds"):
            continue
        schema_floor = SCHEMA_FLOOR.format(migration=data[1])
        for floor_key, field in ((FLOOR, RATIO_FIELDS[FLOOR]), (schema_floor, RATIO_FIELDS[SCHEMA_FLOOR])):
            if medians.get((data, floor_key)):
                row[field] = row["median_seconds"] / medians[(data, floor_key)]
        if medians.get((data, SPEEDUP_OVER)):
            row[SPEEDUP_FIELD] = medians[(data, SPEEDUP_OVER)] / row["median_seconds"]


def check_targets(rows, final_keys):
    """
    The targets of each final variant on each backend and migration, at the largest N, per token length,
    from the ratios add_ratios() gave the rows.
    """
    by_key = {(*same_data(row), row["variant"]): row for row in rows}
    sizes_measured = {}
    for backend, migration, tokens, _ in map(same_data, rows):
        sizes_measured.setdefault((backend, migration), set()).add(tokens)
    lengths = sorted({row["token_length"] for row in rows})
    targets = []
    for (backend, migration), sizes in sizes_measured.items():
        smallest, largest = min(sizes), max(sizes)
        for key in final_keys:
            checks = {
                f"RSS growth <= {RSS_LIMIT_MIB} MiB": [],
                f"flat: RSS growth at {largest:,} <= at {smallest:,} + {FLAT_TOLERANCE_MIB} MiB": [],
                f"wall time <= {FLOOR_RATIO_LIMIT}x the floor (one UPDATE alone)": [],
                f"wall time <= {FLOOR_RATIO_LIMIT}x the schema floor (schema steps + one UPDATE)": [],
                f">= {SPEEDUP_MINIMUM}x faster than DOT {SPEEDUP_OVER}": [],
            }
            names = list(checks)
            for length in lengths:
                row = by_key.get((backend, migration, largest, length, key), {})
                small = by_key.get((backend, migration, smallest, length, key), {})
                growth = row.get("median_rss_growth_mib")
                checks[names[0]].append((length, growth, None if growth is None else growth <= RSS_LIMIT_MIB))
                if smallest != largest and growth is not None and "median_rss_growth_mib" in small:
                    increase = growth - small["median_rss_growth_mib"]
                    checks[names[1]].append((length, increase, increase <= FLAT_TOLERANCE_MIB))
                for name, field in zip(names[2:4], RATIO_FIELDS.values(), strict=True):
                    ratio = row.get(field)
                    checks[name].append(
                        (length, ratio, None if ratio is None else ratio <= FLOOR_RATIO_LIMIT)
                    )
                if SPEEDUP_FIELD in row:
                    speedup = row[SPEEDUP_FIELD]
                    checks[names[4]].append((length, speedup, speedup >= SPEEDUP_MINIMUM))
            for name, results in checks.items():
                known = [met for _, _, met in results if met is not None]
                targets.append(
                    {
                        "variant": key,
                        "backend": backend,
                        "migration": migration,
                        "tokens": largest,
                        "target": name,
                        "values": {str(length): value for length, value, _ in results},
                        "met": all(known) if known and len(known) == len(lengths) else None,
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
        where = f"{target['variant']} on {target['backend']}, {target.get('migration', '0012')}"
        lines.append(f"  {verdict:7}  {where}: {target['target']} ({values})")
    return "\n".join(lines)


CSV_COLUMNS = (
    "backend",
    "migration",
    "tokens",
    "token_length",
    "variant",
    "label",
    "runs",
    "median_seconds",
    "median_rss_growth_mib",
    "memray_peak_mib",
    "ratio_vs_floor",
    "ratio_vs_schema_floor",
    "checked",
    "correct",
    "errors",
)
FLOAT_COLUMNS = CSV_COLUMNS[CSV_COLUMNS.index("median_seconds") : CSV_COLUMNS.index("checked")]


def normalized(results):
    """
    The results as this module writes them now. Runs before the benchmark measured 0015 have no
    migration field (they measured 0012) and called the schema floor's ratio ratio_vs_floor_0012.
    """
    rows = []
    for row in results["rows"]:
        row = {"migration": "0012", **row}
        if "ratio_vs_floor_0012" in row:
            row["ratio_vs_schema_floor"] = row.pop("ratio_vs_floor_0012")
        rows.append(row)
    return {**results, "rows": rows}


def format_csv(results):
    stream = io.StringIO()
    writer = csv.DictWriter(stream, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in normalized(results)["rows"]:
        line = {column: row.get(column, "") for column in CSV_COLUMNS}
        line["runs"] = len(row["runs"])
        line["errors"] = "; ".join(row["errors"])
        for column in FLOAT_COLUMNS:
            if isinstance(line[column], float):
                line[column] = f"{line[column]:.4f}"
        writer.writerow(line)
    return stream.getvalue()


def cell(value, digits=2):
    return "-" if value is None else f"{value:.{digits}f}"


def format_markdown(results):
    machine, found, settings = results["machine"], results["versions"], results["settings"]
    lines = [
        "# Migration 0012 and 0015 benchmark",
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
        "Each figure is for `migrate oauth2_provider 0012` (or 0015) in a fresh process, on the same data "
        "populated once at the migration before it. The floor is one `UPDATE` computing every checksum in "
        "the database, alone, after adding a nullable column; the schema floor (floor-0012, floor-0015) is "
        "the migration of our 3.4.1 series with its backfill made that one `UPDATE` (the schema steps the "
        "migration takes, around the least backfill there is). "
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
        "| backend | migration | N | token length | variant | runs | median wall s | median RSS growth MiB "
        "| memray peak MiB | ratio vs floor | ratio vs schema floor |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in normalized(results)["rows"]:
        label = row["label"] + (f" (failed: {'; '.join(row['errors'])})" if row["errors"] else "")
        lines.append(
            f"| {row['backend']} | {row['migration']} | {row['tokens']:,} | {row['token_length']} | {label} "
            f"| {len(row['runs'])} | {cell(row.get('median_seconds'))} "
            f"| {cell(row.get('median_rss_growth_mib'), 1)} | {cell(row.get('memray_peak_mib'), 1)} "
            f"| {cell(row.get('ratio_vs_floor'), 1)} | {cell(row.get('ratio_vs_schema_floor'), 1)} |"
        )
    lines += ["", "## Targets", "", "```", format_targets(results["targets"]), "```", ""]
    return "\n".join(lines)


def write_results(results, out, plots):
    """results.json, and results.csv, results.md and (with plots) the PNG plots made from it."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    for name, text in rendered(results).items():
        (out / name).write_text(text)
    if plots:
        from dot0012.plots import plot

        plot(normalized(results), out)


def rendered(results):
    """The text files made from results.json, by name."""
    return {"results.csv": format_csv(results), "results.md": format_markdown(results)}
