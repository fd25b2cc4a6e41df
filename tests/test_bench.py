import csv
import json
import tempfile
from importlib.util import find_spec

from dot0012.cli import main
from dot0012.patching import series_patches


def test_bench_smoke_on_sqlite(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    out = tmp_path / "results"
    plots = find_spec("matplotlib") is not None
    args = ["bench", "--backends", "sqlite", "--tokens", "2000", "--token-lengths", "40", "--repeat", "1"]
    args += ["--variants", "3.4.1+all", "--out", str(out)] + ([] if plots else ["--no-plots"])

    assert main(args) == 0

    final = f"3.4.1+{len(series_patches('3.4.1'))}"
    results = json.loads((out / "results.json").read_text())
    assert results["complete"] is True and results["machine"]["nproc"] >= 1
    assert results["versions"]["databases"]["sqlite"].startswith("SQLite")
    rows = results["rows"]
    variants = [(row["migration"], row["variant"]) for row in rows]
    assert variants == [
        ("0012", final),
        ("0012", "floor"),
        ("0012", "floor-0012"),
        ("0015", final),
        ("0015", "floor"),
        ("0015", "floor-0015"),
    ]
    for row in rows:
        assert (row["backend"], row["tokens"], row["token_length"]) == ("sqlite", 2000, 40)
        assert row["errors"] == [] and len(row["runs"]) == 1
        assert row["checked"] == row["correct"] == 2000
        assert 0 < row["median_seconds"] < 60
        assert -1 < row["median_rss_growth_mib"] < 500 and 0 <= row["memray_peak_mib"] < 500
    # Each floor is 1x itself, on its own migration's data.
    assert rows[1]["ratio_vs_floor"] == rows[2]["ratio_vs_schema_floor"] == 1
    assert rows[4]["ratio_vs_floor"] == rows[5]["ratio_vs_schema_floor"] == 1
    assert rows[0]["ratio_vs_schema_floor"] == rows[0]["median_seconds"] / rows[2]["median_seconds"]
    assert rows[3]["ratio_vs_schema_floor"] == rows[3]["median_seconds"] / rows[5]["median_seconds"]
    with open(out / "results.csv", newline="") as stream:
        assert [(line["migration"], line["variant"]) for line in csv.DictReader(stream)] == variants
    markdown = (out / "results.md").read_text()
    assert "| sqlite | 0015 | 2,000 | 40 | DOT 3.4.1 + PRs 1-3 | 1 |" in markdown
    if plots:
        for name in ("memory", "memray", "time", "memory-0015", "memray-0015", "time-0015"):
            assert (out / f"{name}.png").read_bytes().startswith(b"\x89PNG")
    output = capsys.readouterr().out
    assert f"{final} on sqlite, 0012: RSS growth <= 16 MiB" in output
    assert f"{final} on sqlite, 0015: wall time <= 1.5x the schema floor" in output
    assert sorted(path.name for path in tmp_path.iterdir()) == ["results"], "the bench leaves files behind"


def test_bench_skips_0015_for_releases_without_it(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    out = tmp_path / "results"
    args = ["bench", "--backends", "sqlite", "--tokens", "500", "--token-lengths", "40", "--repeat", "1"]
    args += ["--variants", "3.0.1", "--no-memray", "--no-plots", "--out", str(out)]

    assert main(args) == 0

    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [(row["migration"], row["variant"]) for row in rows] == [
        ("0012", "3.0.1"),
        ("0012", "floor"),
        ("0012", "floor-0012"),
    ]


def test_bench_rejects_an_unknown_variant_in_one_line(capsys):
    assert main(["bench", "--variants", "2.9.9", "--out", "unused"]) == 2

    captured = capsys.readouterr()
    assert captured.err.startswith("dot0012 bench: error: unknown variant 2.9.9: choose from 3.0.1, ")
    assert captured.err.count("\n") == 1


def test_bench_rejects_an_unknown_migration_in_one_line(capsys):
    assert main(["bench", "--migrations", "0013", "--out", "unused"]) == 2

    captured = capsys.readouterr()
    assert captured.err == "dot0012 bench: error: --migrations: unknown 0013; choose from 0012, 0015\n"
