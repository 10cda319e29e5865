"""Reading import files record by record, with the line each record started on."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..csvcells import restore

CSV_SUFFIXES = {".csv"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}


@dataclass(frozen=True)
class RowError:
    """One bad record: where it is and what is wrong with it."""

    file: str
    line: int
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where}: column '{self.column}': {self.reason}" if self.column else f"{where}: {self.reason}"


class FileFormatError(ValueError):
    """The file as a whole cannot be read (missing header, unknown extension, wrong columns)."""


@dataclass(frozen=True)
class Record:
    line: int
    fields: dict[str, str] | None  # None when the line itself could not be parsed
    error: str | None = None


def read_records(path: Path, *, formats: set[str]) -> Iterator[Record]:
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES and "csv" in formats:
        yield from _read_csv(path)
    elif suffix in JSONL_SUFFIXES and "jsonl" in formats:
        yield from _read_jsonl(path)
    else:
        allowed = sorted(s for s in CSV_SUFFIXES | JSONL_SUFFIXES
                         if ("csv" in formats and s in CSV_SUFFIXES) or ("jsonl" in formats and s in JSONL_SUFFIXES))
        raise FileFormatError(f"{path}: unknown file type '{suffix or '(none)'}'; expected {', '.join(allowed)}")


def csv_header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        header = next(csv.reader(fh), None)
    if not header:
        raise FileFormatError(f"{path}:1: the file is empty; expected a header line")
    return [restore(name.strip()).lower() for name in header]


def _read_csv(path: Path) -> Iterator[Record]:
    header = csv_header(path)
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        next(reader)
        start = reader.line_num + 1
        try:
            for values in reader:
                if not values or all(not v.strip() for v in values):
                    start = reader.line_num + 1
                    continue
                if len(values) != len(header):
                    yield Record(start, None, f"expected {len(header)} fields as in the header, found {len(values)}")
                else:
                    yield Record(start, dict(zip(header, map(restore, values))))
                start = reader.line_num + 1
        except csv.Error as exc:
            yield Record(start, None, f"malformed CSV: {exc}")
        except UnicodeDecodeError as exc:
            yield Record(start, None, f"not UTF-8 text: {exc.reason}")


def _read_jsonl(path: Path) -> Iterator[Record]:
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                yield Record(number, None, f"malformed JSON: {exc}")
                continue
            if not isinstance(obj, dict):
                yield Record(number, None, "expected a JSON object on each line")
                continue
            yield Record(number, {str(k).lower(): "" if v is None else str(v) for k, v in obj.items()})


def count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
