"""Datasets: labelled caption tables and labelled photo folders, validated on load.

Every problem is a ``DataError`` whose one-line message names the file (and line or
column) and what was expected.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError
from .images import IMAGE_EXTENSIONS, file_sha256
from .paths import MediaPolicy
from .tables import read_table, require_text


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
    return file_sha256(item) if isinstance(item, Path) else item


# --- datasets ---------------------------------------------------------------------


def load_text_dataset(path) -> Dataset:
    """Captions from a table with ``label`` and ``text`` columns."""
    path = Path(path)
    rows = read_table(path, ("label", "text"))
    texts, labels = [], []
    for line, row in rows:
        labels.append(require_text(path, line, row, "label"))
        texts.append(require_text(path, line, row, "text"))
    return check_labels(Dataset("text", texts, labels, str(path)))


def load_image_dataset(path) -> Dataset:
    """Photos from a folder of label sub-folders, or a table with ``label`` and ``image``."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file or folder not found (expected a folder of label sub-folders, or a table "
                        "with label and image columns)")
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
    policy = MediaPolicy(path.parent)
    paths, labels = [], []
    for line, row in rows:
        label = require_text(path, line, row, "label")
        relative = require_text(path, line, row, "image")
        file = policy.resolve(relative, f"{path}:{line}: column 'image'")
        if not file.is_file():
            raise DataError(f"{path}:{line}: image {relative!r} not found (paths are relative to the table)")
        paths.append(file)
        labels.append(label)
    return check_labels(Dataset("image", paths, labels, str(path)))


def detect_modality(path) -> str:
    """'image' for a folder or a table with an ``image`` column, else 'text'."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file or folder not found (expected a table of captions or a folder of photos)")
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
