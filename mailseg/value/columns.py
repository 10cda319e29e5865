"""Moving per-customer columns between the database and numpy in bounded memory: the totals are
read into float arrays, the computed figures written back (PostgreSQL: rows packed into bytea by the
server on the way out, binary COPY on the way in, parsed and built by numpy without a Python object
per value; SQLite: the driver in partitions). A value run at 500,000 customers stays well under the
400 MB the benchmark allows (see docs/BENCHMARKS.md)."""

from __future__ import annotations

import itertools

import numpy as np
from sqlalchemy import Float, Select, cast, func, select
from sqlalchemy.orm import Session

PARTITION = 50_000


# PostgreSQL's binary COPY: a signature, flags and header extension, then per row the field count
# (int16) and per field its length (int32) and big-endian value; -1 as the field count ends it.
COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
COPY_TRAILER = b"\xff\xff"


def _postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def read_columns(session: Session, stmt: Select) -> tuple[np.ndarray, np.ndarray]:
    """The rows of `stmt`, whose first column is a subscriber key, in ascending key order: (the keys
    as int64, the other columns as a float array, rows x columns; NULL reads as 0). The keys are
    63-bit (a float would round them) and travel beside the floats in the same answer; every other
    column is cast to a float in SQL, so the driver hands over floats, not Decimals. (The keys once came back in a second
    query through the driver: a Python int per customer, 1.2 s of 100,000 on a loaded machine.)"""
    key, *values = stmt.selected_columns
    columns = [func.coalesce(cast(column, Float), 0.0) for column in values]
    stmt = stmt.with_only_columns(key, *columns)
    if _postgresql(session):
        return _packed_out(session, stmt, len(columns))
    keys, blocks = [], []
    for rows in session.execute(stmt.execution_options(yield_per=PARTITION)).partitions():
        keys.append(np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows)))
        # np.fromiter over the flattened values: np.array(rows) takes a slow path for Row objects
        blocks.append(np.fromiter(itertools.chain.from_iterable(row[1:] for row in rows), dtype=float,
                                  count=len(rows) * len(columns)).reshape(-1, len(columns)))
    if not blocks:
        return np.zeros(0, dtype=np.int64), np.zeros((0, len(columns)))
    keys, data = np.concatenate(keys), np.concatenate(blocks)
    order = np.argsort(keys, kind="stable")
    return keys[order], data[order]


def read_ordered_keys(session: Session, key, order_by, condition) -> np.ndarray:
    """The keys (int64) of the rows meeting `condition`, in the byte order of the text `order_by`
    (PostgreSQL's "C" collation, SQLite's BINARY: the same order on both). PostgreSQL packs them into
    one bytea in that order (int8send per key: 8 bytes a key, a bytea holds 134 million)."""
    stmt = select(key, order_by).where(condition)
    if not _postgresql(session):
        return np.fromiter(session.scalars(stmt.with_only_columns(key).order_by(order_by)), dtype=np.int64)
    sql = str(stmt.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
    packed = session.connection().exec_driver_sql(
        f'SELECT string_agg(int8send(k), \'\'::bytea ORDER BY o COLLATE "C") FROM ({sql}) AS rows (k, o)').scalar()
    return np.frombuffer(packed or b"", dtype=">i8").astype(np.int64)


def _packed_out(session: Session, stmt: Select, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows packed by PostgreSQL into a few bytea values: per row int8send(key) then float8send()
    of each of the `width` non-NULL float columns, string_agg'ed per 1/64 of the key space (keys are
    63-bit: each chunk stays far below bytea's 1 GB at any audience this process can hold), joined and
    read by numpy as one structured array. A binary COPY hands the rows over one at a time, a
    Python call each: 1.4 s of a 500,000-customer run against 0.3 s (docs/BENCHMARKS.md, issue 13).
    The rows come in no particular order: they are put in key order here."""
    sql = str(stmt.order_by(None).compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
    names = ["k", *(f"v{n}" for n in range(width))]
    packed = " || ".join(["int8send(k)", *(f"float8send(v{n})" for n in range(width))])
    chunks = session.connection().exec_driver_sql(
        f"SELECT string_agg({packed}, ''::bytea) FROM ({sql}) AS rows ({', '.join(names)}) GROUP BY k >> 57").scalars()
    layout = np.dtype([("key", ">i8"), *((f"v{n}", ">f8") for n in range(width))])
    rows = np.frombuffer(b"".join(chunks), dtype=layout)  # the chunks are freed as soon as they are joined
    order = np.argsort(rows["key"], kind="stable")
    data = np.empty((len(rows), width))
    for n in range(width):  # one column at a time: no second copy of the whole answer
        data[:, n] = rows[f"v{n}"][order]
    return rows["key"][order].astype(np.int64), data


def write_columns(session: Session, table: str, columns: dict[str, np.ndarray]) -> None:
    """INSERT the columns (equal-length arrays) into a table of the session's connection. NaN is
    NULL on SQLite; on PostgreSQL a NaN is stored as NaN unless the column is NaN everywhere: read
    such columns with NULLIF(column, 'NaN').
    PostgreSQL: int64 arrays go to BIGINT columns, other integer arrays to INTEGER, float arrays to
    FLOAT (double precision)."""
    names = list(columns)
    count = len(next(iter(columns.values()))) if columns else 0
    if _postgresql(session):
        _copy_in(session, table, columns, count)
        return
    statement = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    for start in range(0, count, PARTITION):
        lists = [_values(np.asarray(columns[name][start:start + PARTITION])) for name in names]
        session.connection().exec_driver_sql(statement, list(zip(*lists)))


def _values(array: np.ndarray) -> list:
    """The array as Python values, NaN as None (checked only in columns that have a NaN)."""
    values = array.tolist()
    if array.dtype.kind == "f" and np.isnan(array).any():
        values = [None if value != value else value for value in values]  # NaN is the one value != itself
    return values


def _wire_type(dtype: np.dtype) -> str:
    """The binary COPY field of a numpy column: float8, int8 for 64-bit integers (subscriber keys are
    63-bit: BIGINT columns), int4 otherwise (INTEGER columns)."""
    if dtype.kind == "f":
        return ">f8"
    return ">i8" if dtype.itemsize == 8 else ">i4"


def _copy_in(session: Session, table: str, columns: dict[str, np.ndarray], count: int) -> None:
    """Binary COPY of the columns: one structured numpy array in the wire layout. A float column
    that is NaN everywhere is left out (NULL); NaN elsewhere arrives as NaN, for the reader to take as
    NULL (NULLIF; an UPDATE per column setting them NULL rewrote a third of the rows each)."""
    columns = {name: values for name, values in columns.items()
               if not (np.asarray(values).dtype.kind == "f" and count and np.isnan(values).all())}
    names = list(columns)
    fields = [("count", ">i2")]
    for name in names:
        fields += [(f"l_{name}", ">i4"), (name, _wire_type(np.asarray(columns[name]).dtype))]
    layout = np.dtype(fields)
    cursor = session.connection().connection.driver_connection.cursor()
    try:
        with cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN (FORMAT binary)") as copy:
            copy.write(COPY_SIGNATURE)
            for start in range(0, count, PARTITION):  # a partition's rows at a time: bounded memory
                part = slice(start, min(start + PARTITION, count))
                rows = np.empty(part.stop - part.start, dtype=layout)
                rows["count"] = len(names)
                for name in names:
                    rows[f"l_{name}"] = layout[name].itemsize
                    rows[name] = columns[name][part]
                copy.write(rows.tobytes())
            copy.write(COPY_TRAILER)
    finally:
        cursor.close()
