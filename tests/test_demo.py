import re
import tempfile

from dot0012.cli import main


def table_rows(output):
    """The table's rows by variant, each split into its columns."""
    rows = {}
    for line in output.splitlines():
        if line.startswith("DOT ") and "  " in line:
            variant, *columns = re.split(r"\s{2,}", line.strip())
            rows[variant] = columns
    return rows


def test_demo_compares_unpatched_and_patched_on_sqlite(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    assert main(["demo", "--tokens", "2000"]) == 0

    output = capsys.readouterr().out
    assert "on SQLite" in output
    assert "2,000 access tokens" in output
    rows = table_rows(output)
    assert set(rows) == {"DOT 3.0.1 as released", "DOT 3.0.1 + dot0012 series"}
    outcome, wall_time, peak_growth, checked, correct = rows["DOT 3.0.1 + dot0012 series"]
    assert outcome == "migrated"
    assert wall_time.endswith(" s") and peak_growth.endswith(" MiB")
    assert checked == correct == "2,000"
    assert rows["DOT 3.0.1 as released"][0] == "migrated"
    assert re.search(r"^memory: [\d.]+ MiB patched vs [\d.]+ MiB as released$", output, re.MULTILINE)
    assert list(tmp_path.iterdir()) == [], "the demo leaves its temporary directory behind"


def test_demo_reports_an_unreachable_database_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    assert main(["demo", "--tokens", "10", "--database", "postgres://postgres:@127.0.0.1:1/x"]) == 2

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("dot0012 demo: error: cannot create database 'x' on 127.0.0.1:1: ")
    assert captured.err.count("\n") == 1
