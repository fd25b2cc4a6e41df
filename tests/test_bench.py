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
    args += ["--variants", "3.0.1,3.0.1+all", "--out", str(out)] + ([] if plots else ["--no-plots"])

    assert main(args) == 0

    final = f"3.0.1+{len(series_patches('3.0.1'))}"
    results = json.loads((out / "results.json").read_text())
    assert results["complete"] is True and results["machine"]["nproc"] >= 1
    assert results["versions"]["databases"]["sqlite"].startswith("SQLite")
    rows = results["rows"]
    assert [row["variant"] for row in rows] == ["3.0.1", final, "floor", "floor-0012"]
    for row in rows:
        assert (row["backend"], row["tokens"], row["token_length"]) == ("sqlite", 2000, 40)
        assert row["errors"] == [] and len(row["runs"]) == 1
        assert row["checked"] == row["correct"] == 2000
        assert 0 < row["median_seconds"] < 60
        assert -1 < row["median_rss_growth_mib"] < 500 and 0 <= row["memray_peak_mib"] < 500
    assert rows[2]["ratio_vs_floor"] == rows[3]["ratio_vs_floor_0012"] == 1
    assert rows[1]["ratio_vs_floor"] > 0 and rows[1]["ratio_vs_floor_0012"] > 0
    with open(out / "results.csv", newline="") as stream:
        assert [line["variant"] for line in csv.DictReader(stream)] == ["3.0.1", final, "floor", "floor-0012"]
    markdown = (out / "results.md").read_text()
    assert "| sqlite | 2,000 | 40 | DOT 3.0.1 as released | 1 |" in markdown
    if plots:
        for name in ("memory.png", "memray.png", "time.png"):
            assert (out / name).read_bytes().startswith(b"\x89PNG")
    output = capsys.readouterr().out
    assert f"{final} on sqlite: RSS growth <= 16 MiB" in output
    assert f"{final} on sqlite: wall time <= 1.5x floor-0012 (0012's schema steps + one UPDATE)" in output
    assert sorted(path.name for path in tmp_path.iterdir()) == ["results"], "the bench leaves files behind"


def test_bench_rejects_an_unknown_variant_in_one_line(capsys):
    assert main(["bench", "--variants", "2.9.9", "--out", "unused"]) == 2

    captured = capsys.readouterr()
    assert captured.err.startswith("dot0012 bench: error: unknown variant 2.9.9: choose from 3.0.1, ")
    assert captured.err.count("\n") == 1
