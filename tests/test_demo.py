import os
import re
import tempfile

import pytest

from dot0012.cli import main
from dot0012.databases import backend_from_env, server_url


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


@pytest.mark.skipif(backend_from_env() == "sqlite", reason="runs with DOT0012_BACKEND=postgres or mysql")
def test_demo_creates_migrates_and_drops_a_server_database(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    name = f"{os.environ.get('DOT0012_DB_NAME', 'dot0012')}_demo"
    server = os.environ.get("DOT0012_DATABASE_URL")
    url = f"{server.rsplit('/', 1)[0]}/{name}" if server else server_url(backend_from_env(), name)

    assert main(["demo", "--tokens", "500", "--database", url]) == 0

    rows = table_rows(capsys.readouterr().out)
    assert [columns[0] for columns in rows.values()] == ["migrated", "migrated"]
    assert rows["DOT 3.0.1 + dot0012 series"][3:] == ["500", "500"]


def test_demo_reports_an_unreachable_database_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    assert main(["demo", "--tokens", "10", "--database", "postgres://postgres:@127.0.0.1:1/x"]) == 2

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("dot0012 demo: error: cannot create database 'x' on 127.0.0.1:1: ")
    assert captured.err.count("\n") == 1
