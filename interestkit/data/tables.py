"""Reading tables: ``.tsv``, ``.csv`` and ``.jsonl`` files as numbered rows, validated.

Every problem is a ``DataError`` whose one-line message names the file and the line
where it starts, and says what was expected.
"""

from __future__ import annotations

import csv
import functools
import io
import json
from pathlib import Path

from ..errors import DataError
from .paths import broken_link

TABLE_SUFFIXES = (".tsv", ".csv", ".jsonl")


def decode_text(path: Path) -> str:
    """The file's text; an encoding error names its line."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot read ({error.strerror})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not valid UTF-8 (byte 0x{raw[error.start]:02x}); save the file as UTF-8") from None


class _DuplicateKey(Exception):
    def __init__(self, key, line: int, first: int):
        super().__init__(key)
        self.key, self.line, self.first = key, line, first


def safe_loader(fast: bool = True):
    """PyYAML's safe loader: its libyaml (C) build when ``fast`` and installed, else the pure-Python one.
    Both give the same data for a valid document; their error messages differ, so callers
    that report a syntax error parse again with the pure-Python one."""
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader) if fast else yaml.SafeLoader


@functools.lru_cache(maxsize=2)
def _unique_key_loader(fast: bool = False):
    """PyYAML's safe loader, except that a key given twice in one mapping is an error
    (plain YAML keeps the last value silently)."""
    import yaml

    class UniqueKeyLoader(safe_loader(fast)):
        def construct_mapping(self, node, deep=False):
            if isinstance(node, yaml.MappingNode):
                seen: dict = {}
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":  # '<<: *anchor' may repeat keys on purpose
                        continue
                    key = self.construct_object(key_node, deep=True)
                    line = key_node.start_mark.line + 1
                    try:
                        if key in seen:
                            raise _DuplicateKey(key, line, seen[key])
                        seen[key] = line
                    except TypeError:  # an unhashable key: the base class says so
                        continue
            return super().construct_mapping(node, deep)

    return UniqueKeyLoader


def parse_yaml(text: str, path, error=DataError):
    """YAML text of ``path`` as Python data; a syntax error, or a key given twice in one
    mapping, names the file and its line."""
    import yaml

    try:
        try:
            return yaml.load(text, Loader=_unique_key_loader(True))  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError:  # said as the pure-Python parser says it
            return yaml.load(text, Loader=_unique_key_loader(False))  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as twice:
        again = "on the same line" if twice.line == twice.first else f"first on line {twice.first}"
        raise error(f"{path}:{twice.line}: key {twice.key!r} appears twice in the same mapping ({again}); "
                    f"keep one") from None
    except yaml.YAMLError as problem:
        mark = getattr(problem, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise error(f"{where}: invalid YAML ({getattr(problem, 'problem', problem)})") from None


def read_yaml(path, kind: str, missing: str, error=DataError) -> tuple:
    """``(data, text)`` of the YAML file ``path``, a ``kind`` (e.g. "YAML config file"; ``missing``
    names it when it is not there): a folder, a missing file, text that is not UTF-8 and invalid
    YAML are one-line errors naming the file (and the line); ``text`` is for callers that name
    the lines of keys."""
    path = Path(path)
    if path.is_dir():
        raise error(f"{path}: is a folder, expected a {kind}")
    if not path.is_file():
        raise error(f"{path}: {missing} not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text") from None
    return parse_yaml(text, path, error), text


def read_table(path, required=("label", "text")) -> list[tuple[int, dict]]:
    """Rows of a .tsv, .csv or .jsonl file as ``(line_number, row)``; checks required columns."""
    path = Path(path)
    if broken_link(path):
        raise DataError(f"{path}: {broken_link(path)}, expected a {'/'.join(TABLE_SUFFIXES)} file")
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, expected a {'/'.join(TABLE_SUFFIXES)} file")
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise DataError(f"{path}: unsupported file type {suffix or '(none)'!r}; expected one of {', '.join(TABLE_SUFFIXES)}")
    text = decode_text(path)
    if not text.strip():
        raise DataError(f"{path}: file is empty; expected a header and rows with columns {', '.join(required)}")
    rows = _read_jsonl(path, text) if suffix == ".jsonl" else _read_delimited(path, text, suffix)
    if not rows:
        raise DataError(f"{path}: no rows after the header; expected rows with columns {', '.join(required)}")
    for line, row in rows:
        for column in required:
            if column not in row:
                found = ", ".join(map(repr, row)) or "nothing"
                where = line if suffix == ".jsonl" else 1  # a CSV or TSV header is line 1
                raise DataError(f"{path}:{where}: missing column {column!r} (found {found}); "
                                f"expected columns {', '.join(required)}")
    return rows


def _read_delimited(path, text, suffix):
    """Rows of a CSV or TSV; an error names the line where the bad record starts (a stray
    quote on line 6 is reported at line 6, with where the quoted field ended)."""
    delimiter = "\t" if suffix == ".tsv" else ","
    quoting = csv.QUOTE_NONE if suffix == ".tsv" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting, strict=True)
    kind = suffix[1:].upper()
    start = 1
    try:
        header = next(reader)
        header = [h.strip() for h in header]
        rows = []
        while True:
            start = reader.line_num + 1
            try:
                values = next(reader)
            except StopIteration:
                break
            if not values or values == [""]:
                continue
            if len(values) != len(header):
                raise DataError(f"{path}:{start}: expected {len(header)} fields ({', '.join(header)}), "
                                f"got {len(values)}{_spans(start, reader.line_num)}")
            rows.append((start, dict(zip(header, values))))
    except StopIteration:
        return []
    except csv.Error as error:
        raise DataError(f"{path}:{start}: malformed {kind} ({error}){_spans(start, reader.line_num)}") from None
    return rows


def _spans(start: int, end: int) -> str:
    if end <= start:
        return ""
    return (f"; the record starting here runs to line {end}: a quote opened on line {start} is not closed "
            'where expected (double a quote inside a quoted field: "")')


def _read_jsonl(path, text):
    rows = []
    stripped = text.lstrip()
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            hint = ""
            if not rows and (line.strip() in ("[", "{") or _whole_json(stripped)):
                hint = ("; one JSON object per line expected (this looks like a JSON array or a pretty-printed "
                        "object: write each object on its own line)")
            raise DataError(f"{path}:{number}: invalid JSON ({error.msg} at column {error.colno}){hint}") from None
        if not isinstance(row, dict):
            raise DataError(f"{path}:{number}: expected a JSON object, got {_json_kind(row)}; "
                            "one JSON object per line expected")
        rows.append((number, row))
    return rows


def _whole_json(text: str) -> bool:
    """Whether the whole file is one JSON document (an array, a pretty-printed object)."""
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _json_kind(value) -> str:
    names = {list: "an array", str: "a string", bool: "true or false", type(None): "null", int: "a number",
             float: "a number"}
    return names.get(type(value), type(value).__name__)


def require_text(path, line, row, column):
    value = row[column]
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{path}:{line}: column {column!r} is empty or not text (got {value!r})")
    return value.strip()
