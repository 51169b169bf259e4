"""Datasets: labelled caption tables and labelled photo folders, validated on load.

Every problem is a ``DataError`` whose one-line message names the file (and line or
column) and what was expected.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DataError

TABLE_SUFFIXES = (".tsv", ".csv", ".jsonl")


@dataclass
class Dataset:
    """Labelled examples of one modality: ``inputs`` are captions or image paths."""

    modality: str
    inputs: list
    labels: list
    source: str
    notes: list = field(default_factory=list)

    def __len__(self):
        return len(self.labels)

    def label_counts(self) -> dict:
        return dict(sorted(Counter(self.labels).items()))

    def subset(self, indices) -> "Dataset":
        return Dataset(self.modality, [self.inputs[i] for i in indices], [self.labels[i] for i in indices],
                       self.source, list(self.notes))

    def fingerprint(self) -> dict:
        """Hash, row count and label counts: identifies exactly what a model was trained on."""
        digest = hashlib.sha256()
        for label, item in sorted(zip(self.labels, map(_content_key, self.inputs))):
            digest.update(f"{label}\t{item}\n".encode("utf-8"))
        return {"sha256": digest.hexdigest(), "rows": len(self), "labels": self.label_counts()}


def _content_key(item):
    if isinstance(item, Path):
        from .images import file_sha256

        return file_sha256(item)
    return item


# --- reading tables -------------------------------------------------------------


def _decode(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot read ({error.strerror})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not valid UTF-8 (byte 0x{raw[error.start]:02x}); save the file as UTF-8") from None


def read_table(path, required=("label", "text")) -> list[tuple[int, dict]]:
    """Rows of a .tsv, .csv or .jsonl file as ``(line_number, row)``; checks required columns."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, expected a {'/'.join(TABLE_SUFFIXES)} file")
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise DataError(f"{path}: unsupported file type {suffix or '(none)'!r}; expected one of {', '.join(TABLE_SUFFIXES)}")
    text = _decode(path)
    if not text.strip():
        raise DataError(f"{path}: file is empty; expected a header and rows with columns {', '.join(required)}")
    rows = _read_jsonl(path, text) if suffix == ".jsonl" else _read_delimited(path, text, suffix)
    if not rows:
        raise DataError(f"{path}: no rows after the header; expected rows with columns {', '.join(required)}")
    for line, row in rows:
        for column in required:
            if column not in row:
                found = ", ".join(map(repr, row)) or "nothing"
                raise DataError(f"{path}:{line}: missing column {column!r} (found {found}); expected columns {', '.join(required)}")
    return rows


def _read_delimited(path, text, suffix):
    delimiter = "\t" if suffix == ".tsv" else ","
    quoting = csv.QUOTE_NONE if suffix == ".tsv" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting)
    try:
        header = next(reader)
    except StopIteration:
        return []
    header = [h.strip() for h in header]
    rows = []
    try:
        for values in reader:
            if not values or values == [""]:
                continue
            if len(values) != len(header):
                raise DataError(
                    f"{path}:{reader.line_num}: expected {len(header)} fields ({', '.join(header)}), got {len(values)}"
                )
            rows.append((reader.line_num, dict(zip(header, values))))
    except csv.Error as error:
        raise DataError(f"{path}:{reader.line_num}: malformed {suffix[1:].upper()} ({error})") from None
    return rows


def _read_jsonl(path, text):
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{path}:{number}: invalid JSON ({error.msg} at column {error.colno})") from None
        if not isinstance(row, dict):
            raise DataError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
        rows.append((number, row))
    return rows


def _require_text(path, line, row, column):
    value = row[column]
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{path}:{line}: column {column!r} is empty or not text (got {value!r})")
    return value.strip()


# --- datasets ---------------------------------------------------------------------


def load_text_dataset(path) -> Dataset:
    """Captions from a table with ``label`` and ``text`` columns."""
    path = Path(path)
    rows = read_table(path, ("label", "text"))
    texts, labels = [], []
    for line, row in rows:
        labels.append(_require_text(path, line, row, "label"))
        texts.append(_require_text(path, line, row, "text"))
    return check_labels(Dataset("text", texts, labels, str(path)))


def load_image_dataset(path) -> Dataset:
    """Photos from a folder of label sub-folders, or a table with ``label`` and ``image``."""
    from .images import IMAGE_EXTENSIONS

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: not found")
    if path.is_file():
        return _image_table(path)
    subdirs = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not subdirs:
        raise DataError(f"{path}: no label sub-folders; expected one folder per label holding its photos")
    paths, labels, ignored = [], [], 0
    for folder in subdirs:
        for file in sorted(folder.iterdir()):
            if file.is_file() and file.suffix.lower() in IMAGE_EXTENSIONS:
                paths.append(file)
                labels.append(folder.name)
            elif not file.name.startswith("."):
                ignored += 1
    if not paths:
        raise DataError(f"{path}: no images ({', '.join(IMAGE_EXTENSIONS)}) in its label sub-folders")
    notes = [f"{ignored} files without an image extension were not used"] if ignored else []
    return check_labels(Dataset("image", paths, labels, str(path), notes))


def _image_table(path: Path) -> Dataset:
    rows = read_table(path, ("label", "image"))
    paths, labels = [], []
    for line, row in rows:
        label = _require_text(path, line, row, "label")
        relative = _require_text(path, line, row, "image")
        file = resolve_relative(path, line, relative, "image")
        if not file.is_file():
            raise DataError(f"{path}:{line}: image {relative!r} not found (paths are relative to the table)")
        paths.append(file)
        labels.append(label)
    return check_labels(Dataset("image", paths, labels, str(path)))


def resolve_relative(table: Path, line: int, relative: str, column: str, allow_outside=False) -> Path:
    """A path from a file's column, relative to the file's folder; refuses escapes."""
    candidate = Path(relative)
    if not allow_outside and (candidate.is_absolute() or ".." in candidate.parts):
        raise DataError(
            f"{table}:{line}: column {column!r} must be a path inside {table.parent} (got {relative!r}); "
            "absolute paths and '..' are refused"
        )
    return (table.parent / candidate) if not candidate.is_absolute() else candidate


def detect_modality(path) -> str:
    """'image' for a folder or a table with an ``image`` column, else 'text'."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: not found")
    if path.is_dir():
        return "image"
    rows = read_table(path, ("label",))
    return "image" if "image" in rows[0][1] and "text" not in rows[0][1] else "text"


def load_dataset(path, modality=None) -> Dataset:
    modality = modality or detect_modality(path)
    return load_text_dataset(path) if modality == "text" else load_image_dataset(path)


def check_labels(dataset: Dataset) -> Dataset:
    counts = Counter(dataset.labels)
    if len(counts) < 2:
        only = next(iter(counts), "none")
        raise DataError(f"{dataset.source}: only one label ({only!r}); at least 2 labels are needed to train a classifier")
    rare = sorted(label for label, n in counts.items() if n < 2)
    if rare:
        raise DataError(
            f"{dataset.source}: label(s) {', '.join(map(repr, rare))} have fewer than 2 examples; "
            "each label needs at least 2 (one for training, one for validation)"
        )
    return dataset


# --- splitting -------------------------------------------------------------------


def stratified_split(labels, val_fraction: float, seed: int):
    """(train_indices, val_indices): each label split separately, at least one of each side."""
    rng = np.random.default_rng(seed)
    by_label: dict = {}
    for index, label in enumerate(labels):
        by_label.setdefault(label, []).append(index)
    train, val = [], []
    for label in sorted(by_label):
        indices = np.array(by_label[label])
        rng.shuffle(indices)
        n_val = int(round(len(indices) * val_fraction))
        n_val = min(max(n_val, 1), len(indices) - 1)
        val.extend(indices[:n_val].tolist())
        train.extend(indices[n_val:].tolist())
    return sorted(train), sorted(val)


def stratified_sample(labels, size: int, seed: int):
    """Indices of a stratified sample of ``size`` rows (every label keeps at least 2)."""
    if size <= 0 or size >= len(labels):
        return list(range(len(labels)))
    fraction = size / len(labels)
    rng = np.random.default_rng(seed)
    by_label: dict = {}
    for index, label in enumerate(labels):
        by_label.setdefault(label, []).append(index)
    chosen = []
    for label in sorted(by_label):
        indices = np.array(by_label[label])
        rng.shuffle(indices)
        chosen.extend(indices[: max(2, int(round(len(indices) * fraction)))].tolist())
    return sorted(chosen)
