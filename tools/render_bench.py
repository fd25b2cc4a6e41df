"""Write, or check, the files of a benchmark run that are made from its results.json.

`dot0012 bench --out DIR` writes DIR/results.json and, from it, DIR/results.csv, DIR/results.md and the
plots. The JSON is the source: the CSV and the Markdown must be what dot0012.report makes of it, so that
no hand edit and no older version of the code survives in them. The runs kept in docs/_static/ are
checked in `tox -e lint`; after a change to dot0012/report.py, rewrite them with this script.

    python tools/render_bench.py          # rewrite results.csv and results.md of every kept run
    python tools/render_bench.py --plots  # and the plots (needs matplotlib)
    python tools/render_bench.py --check  # exit 1, one line per file, if one is not what it would write
"""

import argparse
import json
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from dot0012.report import normalized, rendered  # noqa: E402


def benchmark_runs():
    """The results.json of every kept benchmark run (the other results files have no settings)."""
    for path in sorted((ROOT / "docs" / "_static").glob("*/results.json")):
        results = json.loads(path.read_text())
        if "settings" in results and "machine" in results:
            yield path, results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check, write nothing")
    parser.add_argument("--plots", action="store_true", help="also draw the plots again")
    args = parser.parse_args()
    stale = []
    for path, results in benchmark_runs():
        for name, text in rendered(results).items():
            target = path.parent / name
            if not target.exists() or target.read_text() != text:
                stale.append(target)
                if not args.check:
                    target.write_text(text)
        if args.plots and not args.check:
            from dot0012.plots import plot

            plot(normalized(results), path.parent)
    for target in stale:
        verb = "is not" if args.check else "rewritten as"
        print(f"{target.relative_to(ROOT)} {verb} what dot0012.report makes of results.json")
    if args.check and stale:
        print("run: python tools/render_bench.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
