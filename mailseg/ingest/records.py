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
UTF8_BOM = b"\xef\xbb\xbf"
# Checked longest first: the UTF-32 little-endian BOM begins with the UTF-16 one.
UTF16_32_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
                 (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"))


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
        check_utf8(path)
        yield from _read_csv(path)
    elif suffix in JSONL_SUFFIXES and "jsonl" in formats:
        check_utf8(path)
        yield from _read_jsonl(path)
    else:
        allowed = sorted(s for s in CSV_SUFFIXES | JSONL_SUFFIXES
                         if ("csv" in formats and s in CSV_SUFFIXES) or ("jsonl" in formats and s in JSONL_SUFFIXES))
        raise FileFormatError(f"{path}: unknown file type '{suffix or '(none)'}'; expected {', '.join(allowed)}")


def check_utf8(path: Path) -> None:
    """Refuse a file that is not UTF-8 (a UTF-8 BOM is fine) before anything of it is stored, naming
    the line and byte offset of the first bad byte. Reads line-aligned chunks: a newline byte never
    occurs inside a multi-byte UTF-8 sequence, so each chunk decodes on its own."""
    with path.open("rb") as fh:
        head = fh.read(4)
        for bom, name in UTF16_32_BOMS:
            if head.startswith(bom):
                raise FileFormatError(f"{path}:1: the file is {name} text; save it as UTF-8")
        fh.seek(0)
        line, offset, rest = 1, 0, b""
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            data = rest + chunk
            cut = data.rfind(b"\n") + 1
            whole, rest = (data[:cut], data[cut:]) if cut else (b"", data)
            _decode(path, whole, line, offset)
            line, offset = line + whole.count(b"\n"), offset + len(whole)
        _decode(path, rest, line, offset)


def _decode(path: Path, data: bytes, line: int, offset: int) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[:exc.start]
        line += before.count(b"\n")
        byte, column = offset + exc.start, exc.start - before.rfind(b"\n")
        raise FileFormatError(
            f"{path}:{line}: not UTF-8 text: byte 0x{data[exc.start]:02x} at byte offset {byte} "
            f"(byte {column} of the line); save the file as UTF-8") from None


def csv_header(path: Path) -> list[str]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh), None)
    except UnicodeDecodeError:
        check_utf8(path)  # raises, naming the line and byte
        raise
    if not header:
        raise FileFormatError(f"{path}:1: the file is empty; expected a header line")
    return [restore(name.strip()).lower() for name in header]


def _read_csv(path: Path) -> Iterator[Record]:
    """Records of a CSV file. Quotes are strict: an unterminated quote or text after a closing quote
    is a bad record, and so is a line break inside a value (a quote closed by a stray quote lines
    later would otherwise merge rows silently); reading goes on with the next line."""
    header = csv_header(path)
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh, strict=True)
        next(reader)
        start = reader.line_num + 1
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield Record(start, None, f"malformed CSV ({_lines(start, reader.line_num)}): {exc}; "
                                          "is a quote unterminated or misplaced?")
                start = reader.line_num + 1
                continue
            end, record_start, start = reader.line_num, start, reader.line_num + 1
            if not values or all(not v.strip() for v in values):
                continue
            if end > record_start and any("\n" in v or "\r" in v for v in values):
                yield Record(record_start, None, f"line break inside a quoted value ({_lines(record_start, end)}); "
                                                 "is a closing quote missing?")
            elif len(values) != len(header):
                yield Record(record_start, None, f"expected {len(header)} fields as in the header, found {len(values)}")
            else:
                yield Record(record_start, dict(zip(header, map(restore, values))))


def _lines(first: int, last: int) -> str:
    return f"line {first}" if last <= first else f"lines {first}-{last}"


def _read_jsonl(path: Path) -> Iterator[Record]:
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if number == 1 and raw.startswith(UTF8_BOM):
                raw = raw[len(UTF8_BOM):]
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
            except (json.JSONDecodeError, RecursionError) as exc:
                yield Record(number, None, f"malformed JSON: {exc}")
                continue
            if not isinstance(obj, dict):
                yield Record(number, None, "expected a JSON object on each line")
                continue
            yield Record(number, {str(k).lower(): "" if v is None else str(v) for k, v in obj.items()})


def count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
