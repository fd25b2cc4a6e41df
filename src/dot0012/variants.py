"""What `dot0012 bench` measures: DOT releases as released, the steps of our series, and two floors."""

from dataclasses import dataclass
from pathlib import Path

from dot0012.errors import CommandError
from dot0012.patching import prepare_trees, series_patches, versions_with_series


UPSTREAM = ("3.0.1", "3.1.0", "3.4.1")
# One set-based UPDATE computing every checksum in the database, alone.
FLOOR = "floor"
# The migration of our complete 3.4.1 series with its backfill made that one UPDATE: the schema steps
# any such migration must take, around the least backfill there is. Its key names the migration.
SCHEMA_FLOOR = "floor-{migration}"
# The first DOT release that has each migration.
FIRST_RELEASE = {"0012": (3, 0, 0), "0015": (3, 4, 0)}


@dataclass
class Variant:
    key: str
    label: str
    version: str | None = None
    series: str = "none"
    final: bool = False
    tree: Path | None = None
    schema_floor: bool = False

    def key_for(self, migration):
        return SCHEMA_FLOOR.format(migration=migration) if self.schema_floor else self.key

    def has(self, migration):
        """Whether this DOT has the migration (the floors are made for either)."""
        if self.version is None:
            return True
        return tuple(map(int, self.version.split("."))) >= FIRST_RELEASE[migration]


def all_variants():
    """DOT 3.0.1, 3.1.0 and 3.4.1 as released, each step of our 3.0.1 series, our 3.4.1 series, the floors."""
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
        variants.append(
            Variant(
                SCHEMA_FLOOR.format(migration="N"),
                "schema floor: the migration's schema steps + one UPDATE",
                "3.4.1",
                series,
                schema_floor=True,
            )
        )
    return variants


def select_variants(keys):
    """The variants the keys name, and both floors; keys None is all of them."""
    variants = all_variants()
    if keys is None:
        return variants
    known = {variant.key: variant for variant in variants if variant.version and not variant.schema_floor}
    # 3.0.1+all: the complete series.
    for variant in variants:
        if variant.final:
            known[f"{variant.version}+all"] = variant
    unknown = [key for key in keys if key not in known]
    if unknown:
        raise CommandError(f"unknown variant {', '.join(unknown)}: choose from {', '.join(known)}")
    floors = [variant for variant in variants if variant.key == FLOOR or variant.schema_floor]
    chosen = [known[key] for key in keys] + floors
    return list({variant.key: variant for variant in chosen}.values())


def build_trees(variants, work_dir):
    """Unpack (and patch) each variant's DOT into work_dir, once per DOT version and series."""
    trees = prepare_trees(
        [(variant.version, variant.series) for variant in variants if variant.version], work_dir
    )
    for variant in variants:
        if variant.version:
            variant.tree = trees[(variant.version, variant.series)]
