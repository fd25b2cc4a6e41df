"""Render measured figures in the docs from the committed results files, never typed by hand.

The results files are JSON written by a command (`dot0012 bench`, `tools/measure_orm_writes.py`, ...)
and named in conf.py's ``results_files``: {name: path relative to docs/}. Each has a list of ``rows``
(dicts). Two ways to show a figure:

- the role ``:result:`NAME key=value key=value FIELD```, e.g.
  ``:result:`stack backend=mysql tokens=1000000 token_length=40 variant=3.4.1+1 median_seconds```,
  renders the one row's FIELD with its unit ("12.3 s", "1.4 MiB", "5.2x");
- the directive ``.. result-run:: NAME`` shows the command that wrote the file, when, on what, and the
  note recorded with the run;
- the directive ``.. result-table:: NAME`` with ``:rows: key`` (one table row per value of that key),
  ``:columns: key`` (one column per value), ``:field: FIELD``, optional ``:where: key=value ...``,
  ``:row-order:`` and ``:column-order:`` (values, which also select), and ``:labels: value=Label; ...``.

A filter that matches no row or more than one, or a row without the field, stops the build (the docs are
built with -W), so a figure cannot outlive its source.
"""

import json
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive, directives
from sphinx.util.docutils import SphinxRole


# How each field reads, by suffix or name: (format, unit).
FORMATS = (
    ("_mib", "{:.1f}", " MiB"),
    ("_ms", "{:.0f}", " ms"),
    ("seconds", "{:.1f}", " s"),
    ("median", "{:.1f}", " s"),
    ("ratio", "{:.1f}", "x"),
    ("speedup", "{:.1f}", "x"),
)


class ResultError(Exception):
    pass


def load(env, name):
    files = env.config.results_files
    if name not in files:
        raise ResultError(f"no results file named {name!r} in conf.py results_files ({', '.join(files)})")
    path = Path(env.srcdir) / files[name]
    env.note_dependency(str(path))
    cache = env.app.__dict__.setdefault("_results_cache", {})
    if path not in cache:
        cache[path] = json.loads(path.read_text())
    return cache[path]


def parse_filters(words):
    filters = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep:
            raise ResultError(f"{word!r} is not key=value")
        filters[key] = value
    return filters


def matches(row, filters):
    return all(str(row.get(key)) == value for key, value in filters.items())


def find_row(results, filters, name):
    found = [row for row in results["rows"] if matches(row, filters)]
    if len(found) != 1:
        raise ResultError(f"{len(found)} rows of {name} match {filters}, not one")
    return found[0]


def format_value(field, value):
    if value is None:
        raise ResultError(f"the row has no value for {field}")
    if isinstance(value, list):
        return str(len(value))
    if isinstance(value, int) and not isinstance(value, bool) and not field.endswith(("seconds", "_mib")):
        return f"{value:,}"
    for suffix, template, unit in FORMATS:
        if field.endswith(suffix) or field.startswith(suffix):
            return template.format(value) + unit
    return str(value)


def field_value(row, field, name):
    if field not in row:
        raise ResultError(f"the {name} row {row.get('variant', row.get('candidate', ''))} has no {field}")
    return format_value(field, row[field])


class ResultRole(SphinxRole):
    def run(self):
        words = self.text.split()
        try:
            name, field = words[0], words[-1]
            results = load(self.env, name)
            text = field_value(find_row(results, parse_filters(words[1:-1]), name), field, name)
        except (ResultError, IndexError) as error:
            message = self.inliner.reporter.error(f":result:`{self.text}`: {error}", line=self.lineno)
            return [self.inliner.problematic(self.rawtext, self.rawtext, message)], [message]
        return [nodes.Text(text)], []


def parse_labels(text):
    labels = {}
    for item in (text or "").split(";"):
        if item.strip():
            value, _, label = item.partition("=")
            labels[value.strip()] = label.strip()
    return labels


class ResultTable(Directive):
    required_arguments = 1
    option_spec = {
        "rows": directives.unchanged_required,
        "columns": directives.unchanged_required,
        "field": directives.unchanged_required,
        "where": directives.unchanged,
        "labels": directives.unchanged,
        "row-order": directives.unchanged,
        "column-order": directives.unchanged,
    }

    def run(self):
        env = self.state.document.settings.env
        name = self.arguments[0]
        try:
            results = load(env, name)
            where = parse_filters((self.options.get("where") or "").split())
            row_key, column_key = self.options["rows"], self.options["columns"]
            field = self.options["field"]
            labels = parse_labels(self.options.get("labels"))
            rows = [row for row in results["rows"] if matches(row, where)]
            if not rows:
                raise ResultError(f"no row of {name} matches {where}")
            row_values = list(dict.fromkeys(str(row[row_key]) for row in rows))
            column_values = list(dict.fromkeys(str(row[column_key]) for row in rows))
            # An order given is also a selection: the values it leaves out are not shown.
            if self.options.get("row-order"):
                row_values = [value for value in self.options["row-order"].split() if value in row_values]
            if self.options.get("column-order"):
                column_values = [
                    value for value in self.options["column-order"].split() if value in column_values
                ]
            table = [[labels.get(row_key, row_key)] + [labels.get(value, value) for value in column_values]]
            for row_value in row_values:
                line = [labels.get(row_value, row_value)]
                for column_value in column_values:
                    cell = {**where, row_key: row_value, column_key: column_value}
                    found = [row for row in rows if matches(row, cell)]
                    line.append(field_value(found[0], field, name) if len(found) == 1 else "-")
                table.append(line)
        except (ResultError, KeyError) as error:
            return [self.state.document.reporter.error(f"result-table {name}: {error}", line=self.lineno)]
        return [build_table(table)]


class ResultRun(Directive):
    """How a results file was made: its command as a literal block, then when, where and the note."""

    required_arguments = 1

    def run(self):
        env = self.state.document.settings.env
        name = self.arguments[0]
        try:
            results = load(env, name)
        except ResultError as error:
            return [self.state.document.reporter.error(f"result-run {name}: {error}", line=self.lineno)]
        machine = results.get("machine", {})
        facts = [results.get("date", "")[:10]]
        if "duration_seconds" in results or "wall_seconds" in results:
            seconds = results.get("duration_seconds", results.get("wall_seconds"))
            facts.append(f"{round(seconds / 60)} min")
        cores = machine.get("nproc", machine.get("cores"))
        facts.append(f"{machine.get('cpu', 'unknown CPU')}, {cores} cores")
        versions = results.get("versions", results.get("packages", {}))
        if "python" in versions or "python" in machine:
            facts.append(f"Python {versions.get('python', machine.get('python'))}")
        if versions.get("django") or versions.get("Django"):
            facts.append(f"Django {versions.get('django') or versions.get('Django')}")
        databases = versions.get("databases") or results.get("databases") or {}
        facts += [
            value if isinstance(value, str) else value.get("description", "") for value in databases.values()
        ]
        text = "; ".join(fact for fact in facts if fact) + "."
        nodes_out = [nodes.literal_block(text=results["command"]), nodes.paragraph(text=text)]
        note = results.get("note") or results.get("notes")
        if note:
            nodes_out.append(nodes.paragraph(text=f"Note recorded with the run: {note}"))
        return nodes_out


def build_table(cells):
    table = nodes.table()
    group = nodes.tgroup(cols=len(cells[0]))
    table += group
    for _ in cells[0]:
        group += nodes.colspec(colwidth=1)
    for section, lines in ((nodes.thead(), cells[:1]), (nodes.tbody(), cells[1:])):
        for line in lines:
            row = nodes.row()
            for text in line:
                entry = nodes.entry()
                entry += nodes.paragraph(text=text)
                row += entry
            section += row
        group += section
    return table


def setup(app):
    app.add_config_value("results_files", {}, "env")
    app.add_role("result", ResultRole())
    app.add_directive("result-table", ResultTable)
    app.add_directive("result-run", ResultRun)
    return {"parallel_read_safe": True, "version": "1"}
