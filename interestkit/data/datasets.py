"""Datasets: labelled caption tables and labelled photo folders, validated on load.

Every problem is a ``DataError`` whose one-line message names the file (and line or
column) and what was expected.
"""

from __future__ import annotations

import hashlib
import string
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError
from .images import IMAGE_EXTENSIONS, ImageError, file_sha256, load_image
from .paths import MediaPolicy, broken_link
from .tables import read_table, require_text


@dataclass
class Dataset:
    """Labelled examples of one modality: ``inputs`` are captions or image paths."""

    modality: str
    inputs: list
    labels: list
    source: str
    notes: list = field(default_factory=list)
    #: ``{label: [what failed, ...]}``: items of a label that could not be used
    failed: dict = field(default_factory=dict)
    groups: list | None = None  # one group (e.g. the source) per example, for a group split

    def __len__(self):
        return len(self.labels)

    def label_counts(self) -> dict:
        return dict(sorted(Counter(self.labels).items()))

    def subset(self, indices) -> "Dataset":
        groups = None if self.groups is None else [self.groups[i] for i in indices]
        return Dataset(self.modality, [self.inputs[i] for i in indices], [self.labels[i] for i in indices],
                       self.source, list(self.notes), dict(self.failed), groups)

    def fingerprint(self) -> dict:
        """Hash, row count and label counts: identifies exactly what a model was trained on."""
        digest = hashlib.sha256()
        for label, item in sorted(zip(self.labels, map(_content_key, self.inputs))):
            digest.update(f"{label}\t{item}\n".encode("utf-8"))
        return {"sha256": digest.hexdigest(), "rows": len(self), "labels": self.label_counts()}


def _content_key(item):
    return file_sha256(item) if isinstance(item, Path) else item


# --- datasets ---------------------------------------------------------------------


#: what a caption model's vectoriser strips (Keras' default standardisation): a caption of only these gives it nothing
_STRIPPED = str.maketrans("", "", string.punctuation)


def load_text_dataset(path, group_column: str | None = None, checked: bool = True) -> Dataset:
    """Captions from a table with ``label`` and ``text`` columns (and ``group_column``, when
    given). A caption of nothing but punctuation gives a model nothing: it is not used, and
    a note says which lines."""
    path = Path(path)
    rows = read_table(path, ("label", "text"))
    _require_group_column(path, rows, group_column)
    texts, labels, failed, groups = [], [], {}, []
    for line, row in rows:
        label = require_text(path, line, row, "label")
        text = require_text(path, line, row, "text")
        group = require_text(path, line, row, group_column) if group_column else None
        if not text.translate(_STRIPPED).strip():
            failed.setdefault(label, []).append(f"line {line} (only punctuation)")
            continue
        labels.append(label)
        texts.append(text)
        groups.append(group)
    notes = [_failed_note("captions", failed, "of only punctuation")] if failed else []
    dataset = Dataset("text", texts, labels, str(path), notes, failed, groups if group_column else None)
    return _finish(dataset, group_column, checked)


def _finish(dataset: Dataset, group_column, checked: bool) -> Dataset:
    """Training data (``checked``) needs two labels with two examples each, and two groups for a
    group split; data that is only scored needs neither."""
    return check_groups(check_labels(dataset), group_column) if checked else dataset


def _require_group_column(path, rows, group_column):
    if not group_column:
        return
    for line, row in rows:
        if group_column not in row:
            raise DataError(f"{path}:{line if path.suffix.lower() == '.jsonl' else 1}: no column {group_column!r} "
                            f"for the group split (--val-group); found {', '.join(map(repr, row))}")


def check_groups(dataset: Dataset, group_column: str | None) -> Dataset:
    """A group split needs at least two distinct groups."""
    if group_column and len(set(dataset.groups or ())) < 2:
        found = sorted(set(dataset.groups or ()))
        raise DataError(f"{dataset.source}: column {group_column!r} has {len(found)} distinct value(s) "
                        f"({', '.join(map(repr, found[:3]))}); a group split (--val-group) needs at least 2 groups")
    return dataset


def load_image_dataset(path, group_column: str | None = None, checked: bool = True) -> Dataset:
    """Photos from a folder of label sub-folders, or a table with ``label`` and ``image``
    (and ``group_column``, when given: only a table has one).

    Files are listed, not decoded (``check_images`` decodes them)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file or folder not found (expected a folder of label sub-folders, or a table "
                        "with label and image columns)")
    if path.is_file():
        return _image_table(path, group_column, checked)
    if group_column:
        raise DataError(f"{path}: a photo folder has no column {group_column!r} for the group split (--val-group); "
                        "give a table with label, image and that column instead")
    subdirs = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not subdirs:
        raise DataError(f"{path}: no label sub-folders; expected one folder per label holding its photos")
    paths, labels, ignored, failed = [], [], 0, {}
    for folder in subdirs:
        for file in sorted(folder.iterdir()):
            if file.name.startswith("."):
                continue
            if file.suffix.lower() not in IMAGE_EXTENSIONS:
                ignored += 1
            elif broken_link(file):
                failed.setdefault(folder.name, []).append(f"{file} ({broken_link(file)})")
            elif file.is_file():
                paths.append(file)
                labels.append(folder.name)
            else:
                failed.setdefault(folder.name, []).append(f"{file} (a folder, not a photo)")
    if not paths and not failed:
        raise DataError(f"{path}: no images ({', '.join(IMAGE_EXTENSIONS)}) in its label sub-folders")
    notes = [f"{ignored} files without an image extension were not used"] if ignored else []
    if failed:
        notes.append(_failed_note("photos", failed, "unusable"))
    dataset = Dataset("image", paths, labels, str(path), notes, failed)
    return check_labels(dataset) if checked else dataset


def _failed_note(kind, failed: dict, why: str) -> str:
    items = [item for items in failed.values() for item in items]
    shown = "; ".join(items[:3]) + (" ..." if len(items) > 3 else "")
    return f"{len(items)} {kind} {why} were not used: {shown}"


def check_images(dataset: Dataset, strict: bool = False, size: int = 8) -> Dataset:
    """Decode every photo (Pillow, a small size: cheap) before training starts; the
    unreadable ones are left out, with a note (``strict``: the first is an error), and
    labels are checked again on what is left."""
    keep, failed = [], {label: list(items) for label, items in dataset.failed.items()}
    for index, file in enumerate(dataset.inputs):
        try:
            load_image(file, size)
        except ImageError as error:
            if strict:
                raise
            failed.setdefault(dataset.labels[index], []).append(str(error))
            continue
        keep.append(index)
    if len(keep) == len(dataset.inputs):
        return dataset
    checked = dataset.subset(keep)
    listed = _failed_note("photos", dataset.failed, "unusable") if dataset.failed else None
    checked.failed = failed
    checked.notes = [n for n in dataset.notes if n != listed] + [_failed_note("photos", failed, "unusable")]
    return check_labels(checked)


def _image_table(path: Path, group_column: str | None = None, checked: bool = True) -> Dataset:
    rows = read_table(path, ("label", "image"))
    _require_group_column(path, rows, group_column)
    policy = MediaPolicy(path.parent)
    paths, labels, groups = [], [], []
    for line, row in rows:
        if group_column:
            groups.append(require_text(path, line, row, group_column))
        label = require_text(path, line, row, "label")
        relative = require_text(path, line, row, "image")
        file = policy.resolve(relative, f"{path}:{line}: column 'image'")
        if not file.is_file():
            what = broken_link(file) or ("a folder, expected a photo" if file.is_dir() else "not found")
            raise DataError(f"{path}:{line}: image {relative!r}: {what} (paths are relative to the table)")
        paths.append(file)
        labels.append(label)
    return _finish(Dataset("image", paths, labels, str(path), groups=groups or None), group_column, checked)


def detect_modality(path) -> str:
    """'image' for a folder or a table with an ``image`` column, else 'text'."""
    path = Path(path)
    if broken_link(path):
        raise DataError(f"{path}: {broken_link(path)} (expected a table of captions or a folder of photos)")
    if not path.exists():
        raise DataError(f"{path}: file or folder not found (expected a table of captions or a folder of photos)")
    if path.is_dir():
        return "image"
    rows = read_table(path, ("label",))
    return "image" if "image" in rows[0][1] and "text" not in rows[0][1] else "text"


def load_dataset(path, modality=None, group_column: str | None = None, checked: bool = True) -> Dataset:
    """A labelled dataset; with ``group_column`` each example also carries its group;
    ``checked=False`` for data that is only scored (no minimum of labels or groups)."""
    modality = modality or detect_modality(path)
    loader = load_text_dataset if modality == "text" else load_image_dataset
    return loader(path, group_column or None, checked)


def check_labels(dataset: Dataset) -> Dataset:
    """At least 2 labels, each with at least 2 usable items (counted after what could not
    be used was left out: the error names the files or lines that failed), and no two
    labels that differ only in case."""
    counts = Counter(dataset.labels)
    by_case: dict = {}
    for label in sorted(set(counts) | set(dataset.failed)):
        by_case.setdefault(label.casefold(), []).append(label)
    clash = next((names for names in by_case.values() if len(names) > 1), None)
    if clash:
        raise DataError(f"{dataset.source}: labels {' and '.join(map(repr, clash))} differ only in case; "
                        "use one spelling")
    rare = sorted(label for label in set(counts) | set(dataset.failed) if counts.get(label, 0) < 2)
    if rare:
        label = rare[0]
        failed = dataset.failed.get(label, [])
        why = f"; not usable: {'; '.join(failed[:3])}{' ...' if len(failed) > 3 else ''}" if failed else ""
        more = f" (also {', '.join(map(repr, rare[1:]))})" if len(rare) > 1 else ""
        raise DataError(
            f"{dataset.source}: label {label!r} has {counts.get(label, 0)} usable "
            f"{'caption' if dataset.modality == 'text' else 'photo'}(s){why}{more}; each label needs at least 2 "
            "(one for training, one for validation)"
        )
    if len(counts) < 2:
        only = next(iter(counts), "none")
        raise DataError(f"{dataset.source}: only one label ({only!r}); at least 2 labels are needed to train a classifier")
    return dataset
