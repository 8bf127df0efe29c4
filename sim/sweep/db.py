"""The results database: every figure a sweep measures, one row per design x step x figure, in
an embedded SQLite file (default ``<out>/results.sqlite``).

Table ``results``: ``sweep`` (the report's name), ``design`` (its label in the sweep),
``generator``, ``module``, ``params`` (JSON), ``step``, ``figure``, ``value`` (a number) or
``text`` (a string, a list as JSON, or for ``figure = 'error'`` the failure's one line), ``key``
(the step's cache key), ``tools`` (JSON: the tool versions of the key), ``date`` (UTC, ISO 8601).
A rerun replaces the rows of each design x step. Nested figures are flattened with dots
(``critical_path.delay_ns``, ``cells_by_type.SB_LUT4``).

Table ``runs``: one row per step execution (not for a cached result), with its elapsed seconds
and worker: a step that was run twice shows up here.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["ResultsDB", "flatten", "COLUMNS"]

#: Columns of the ``results`` table, in the order queries return them.
COLUMNS = ("sweep", "design", "generator", "module", "params", "step", "figure", "value", "text",
           "key", "tools", "date")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    sweep TEXT NOT NULL, design TEXT NOT NULL, generator TEXT, module TEXT, params TEXT,
    step TEXT NOT NULL, figure TEXT NOT NULL,
    value,      -- no declared type: integers stay integers, floats floats
    text TEXT, key TEXT, tools TEXT, date TEXT,
    PRIMARY KEY (sweep, design, step, figure));
CREATE INDEX IF NOT EXISTS results_generator ON results (generator);
CREATE TABLE IF NOT EXISTS runs (
    key TEXT, sweep TEXT, design TEXT, step TEXT, seconds REAL, worker TEXT, date TEXT);
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def flatten(figures: dict, prefix: str = "") -> dict:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; booleans as 0/1."""
    out = {}
    for name, value in figures.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{name}."))
        elif value is not None:
            out[f"{prefix}{name}"] = int(value) if isinstance(value, bool) else value
    return out


class ResultsDB:
    """One SQLite results file (created with its tables if missing)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, timeout=60)
        self._conn.executescript(_SCHEMA)
        self._conn.commit()

    def close(self) -> None:
        self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- writing --------------------------------------------------------------------------

    def record(self, *, sweep: str, design: str, generator: str | None, module: str | None,
               params: dict, step: str, key: str, tools: dict, figures: dict | None = None,
               error: str | None = None) -> None:
        """Replace the rows of ``design`` x ``step`` by ``figures`` (or one ``error`` row)."""
        date = _now()
        common = (sweep, design, generator, module, json.dumps(params, sort_keys=True, default=str))
        rows = []
        if error is not None:
            rows.append((*common, step, "error", None, error))
        for figure, value in flatten(figures or {}).items():
            if isinstance(value, (int, float)):
                rows.append((*common, step, figure, value, None))
            else:
                rows.append((*common, step, figure, None,
                             value if isinstance(value, str) else json.dumps(value)))
        tools_text = json.dumps(tools, sort_keys=True)
        with self._conn:
            self._conn.execute("DELETE FROM results WHERE sweep=? AND design=? AND step=?",
                               (sweep, design, step))
            self._conn.executemany(
                "INSERT INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [(*row, key, tools_text, date) for row in rows])

    def record_run(self, *, key: str, sweep: str, design: str, step: str, seconds: float,
                   worker: str) -> None:
        """One execution of a step (see the ``runs`` table)."""
        with self._conn:
            self._conn.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?)",
                               (key, sweep, design, step, seconds, worker, _now()))

    # -- reading --------------------------------------------------------------------------

    def rows(self, sweep: str | None = None) -> list[dict]:
        """Every row (of ``sweep``), as dicts with :data:`COLUMNS`."""
        sql = f"SELECT {', '.join(COLUMNS)} FROM results"
        args = ()
        if sweep is not None:
            sql, args = sql + " WHERE sweep=?", (sweep,)
        return [dict(zip(COLUMNS, r)) for r in self._conn.execute(sql + " ORDER BY rowid", args)]

    def runs(self) -> list[dict]:
        names = ("key", "sweep", "design", "step", "seconds", "worker", "date")
        return [dict(zip(names, r)) for r in self._conn.execute("SELECT * FROM runs")]

    def query(self, *, sweeps=(), designs=(), generators=(), steps=(), figures=(),
              params: dict | None = None) -> list[dict]:
        """Rows matching every given filter, sorted by sweep, design, step and figure: each
        tuple is a set of allowed values (``*`` and ``?`` wildcards as in shell patterns);
        ``params`` maps a parameter name to the allowed text of its value."""
        where, args = [], []
        for column, patterns in (("sweep", sweeps), ("design", designs),
                                 ("generator", generators), ("step", steps),
                                 ("figure", figures)):
            if patterns:
                where.append("(" + " OR ".join(f"{column} GLOB ?" for _ in patterns) + ")")
                args += list(patterns)
        sql = f"SELECT {', '.join(COLUMNS)} FROM results"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY sweep, design, step, figure"
        rows = [dict(zip(COLUMNS, r)) for r in self._conn.execute(sql, args)]
        if params:
            rows = [r for r in rows if _params_match(r["params"], params)]
        return rows


def _params_match(text: str | None, wanted: dict) -> bool:
    params = json.loads(text or "{}")
    for name, value in wanted.items():
        if name not in params or _value_text(params[name]) != str(value).lower():
            return False
    return True


def _value_text(value) -> str:
    """A parameter value as a user types it: ``true``, ``4``, ``int8``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).lower()


def rows_csv(rows: list[dict]) -> str:
    """``rows`` as CSV text with a header line of :data:`COLUMNS`."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def rows_json(rows: list[dict]) -> str:
    """``rows`` as a JSON list (``params`` and ``tools`` decoded)."""
    decoded = [{**r, "params": json.loads(r["params"] or "{}"),
                "tools": json.loads(r["tools"] or "{}")} for r in rows]
    return json.dumps(decoded, indent=1) + "\n"
