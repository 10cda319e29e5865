"""Moving per-customer columns between the database and numpy in bounded memory: the model inputs
are read in partitions into one float array, the predictions written back in blocks (COPY on
PostgreSQL, the driver's executemany on SQLite). A value run at 500,000 customers stays well under
the 400 MB the benchmark allows (see docs/BENCHMARKS.md)."""

from __future__ import annotations

import itertools
import math

import numpy as np
from sqlalchemy import Float, Select, cast, func
from sqlalchemy.orm import Session

PARTITION = 50_000


def read_columns(session: Session, stmt: Select) -> np.ndarray:
    """The rows of `stmt` as a float array (rows x columns); NULL reads as 0. Every column is cast
    to a float in SQL, so the driver hands over floats, not Decimals."""
    columns = [func.coalesce(cast(column, Float), 0.0) for column in stmt.selected_columns]
    stmt = stmt.with_only_columns(*columns)
    # np.fromiter over the flattened values: np.array(rows) takes a slow path for Row objects
    blocks = [np.fromiter(itertools.chain.from_iterable(rows), dtype=float, count=len(rows) * len(columns))
              .reshape(-1, len(columns))
              for rows in session.execute(stmt.execution_options(yield_per=PARTITION)).partitions()]
    return np.concatenate(blocks) if blocks else np.zeros((0, len(columns)))


def write_columns(session: Session, table: str, columns: dict[str, np.ndarray]) -> None:
    """INSERT the columns (equal-length arrays; NaN is NULL) into a table of the session's connection."""
    names = list(columns)
    count = len(next(iter(columns.values()))) if columns else 0
    if session.get_bind().dialect.name == "postgresql":
        cursor = session.connection().connection.driver_connection.cursor()
        try:
            with cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
                for start in range(0, count, PARTITION):
                    cells = [_copy_text(columns[name][start:start + PARTITION]) for name in names]
                    copy.write("".join("\t".join(row) + "\n" for row in zip(*cells)))
        finally:
            cursor.close()
        return
    statement = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    for start in range(0, count, PARTITION):
        block = zip(*(columns[name][start:start + PARTITION].tolist() for name in names))
        session.connection().exec_driver_sql(statement, [tuple(None if _missing(v) else v for v in row) for row in block])


def _copy_text(values) -> list[str]:
    """A column in COPY's text format: integer arrays exactly (subscriber keys are 63-bit, more than a
    float holds), floats with 17 significant digits, NaN as NULL (\\N)."""
    array = np.asarray(values)
    if array.dtype.kind in "iu":
        return array.astype(str).tolist()
    array = array.astype(float)
    text = np.char.mod("%.17g", array)
    text[np.isnan(array)] = "\\N"
    return text.tolist()


def _missing(value) -> bool:
    return isinstance(value, float) and math.isnan(value)
