"""Moving per-customer columns between the database and numpy in bounded memory: the model inputs
are read in partitions into one float array, the predictions written back in blocks (COPY on
PostgreSQL, the driver's executemany on SQLite). A value run at 500,000 customers stays well under
the 400 MB the benchmark allows (see docs/BENCHMARKS.md)."""

from __future__ import annotations

import math

import numpy as np
from sqlalchemy import Select
from sqlalchemy.orm import Session

PARTITION = 50_000


def read_columns(session: Session, stmt: Select) -> np.ndarray:
    """The rows of `stmt` as a float array (rows x columns); NULL reads as 0."""
    width = len(stmt.selected_columns)
    blocks = [np.array(rows, dtype=object).reshape(-1, width)
              for rows in session.execute(stmt.execution_options(yield_per=PARTITION)).partitions()]
    if not blocks:
        return np.zeros((0, width))
    data = np.concatenate(blocks)
    data[data == None] = 0  # noqa: E711  (element-wise NULL test on an object array)
    return data.astype(float)


def write_columns(session: Session, table: str, columns: dict[str, np.ndarray]) -> None:
    """INSERT the columns (equal-length arrays; NaN is NULL) into a table of the session's connection."""
    names = list(columns)
    count = len(next(iter(columns.values()))) if columns else 0
    if session.get_bind().dialect.name == "postgresql":
        cursor = session.connection().connection.driver_connection.cursor()
        try:
            with cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
                for start in range(0, count, PARTITION):
                    block = zip(*(columns[name][start:start + PARTITION].tolist() for name in names))
                    copy.write("".join("\t".join(_cell(v) for v in row) + "\n" for row in block))
        finally:
            cursor.close()
        return
    statement = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    for start in range(0, count, PARTITION):
        block = zip(*(columns[name][start:start + PARTITION].tolist() for name in names))
        session.connection().exec_driver_sql(statement, [tuple(None if _missing(v) else v for v in row) for row in block])


def _missing(value) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _cell(value) -> str:
    """A value in COPY's text format (numbers only here)."""
    return "\\N" if value is None or _missing(value) else repr(value)
