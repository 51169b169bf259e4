"""Labelled examples for zero-shot calibration and few-shot heads: from the taxonomy and from files.

Examples come from the taxonomy's ``examples`` entries and from ``--examples`` paths: a
caption table (``label``, ``text``: ``.tsv``, ``.csv``, ``.jsonl``), a photo table
(``label``, ``image``) or a folder of photos with one sub-folder per interest. Every
label must be an interest of the taxonomy (a one-line error naming the file, line and
label, with suggestions). ``per_interest`` keeps at most that many per interest and
modality (a seeded random choice), which is how few-shot is measured with 5 or 20.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.datasets import detect_modality
from ..data.images import IMAGE_EXTENSIONS
from ..data.paths import MediaPolicy
from ..data.tables import read_table, require_text
from ..errors import DataError, suggest


@dataclass
class Examples:
    """Inputs (captions or photo paths) and labels, per modality."""

    inputs: dict = field(default_factory=lambda: {"text": [], "image": []})
    labels: dict = field(default_factory=lambda: {"text": [], "image": []})
    sources: list = field(default_factory=list)

    def add(self, modality, item, label):
        self.inputs[modality].append(item)
        self.labels[modality].append(label)

    def count(self, modality) -> int:
        return len(self.labels[modality])

    def y(self, modality, names) -> np.ndarray:
        index = {name: i for i, name in enumerate(names)}
        return np.array([index[label] for label in self.labels[modality]], dtype=int)

    def per_label(self, modality) -> dict:
        counts: dict = {}
        for label in self.labels[modality]:
            counts[label] = counts.get(label, 0) + 1
        return counts

    def limit(self, per_interest: int, seed: int = 0) -> "Examples":
        """At most ``per_interest`` examples of each interest and modality (seeded choice, order kept)."""
        out = Examples(sources=list(self.sources))
        rng = np.random.default_rng(seed)
        for modality in ("text", "image"):
            by_label: dict = {}
            for i, label in enumerate(self.labels[modality]):
                by_label.setdefault(label, []).append(i)
            keep = sorted(i for label in sorted(by_label) for i in
                          (rng.permutation(by_label[label])[:per_interest] if per_interest > 0 else by_label[label]))
            for i in keep:
                out.add(modality, self.inputs[modality][i], self.labels[modality][i])
        return out


def _check_label(label, names, where):
    if label not in names:
        raise DataError(f"{where}: {label!r} is not an interest of the taxonomy{suggest(label, names)}")
    return label


def _photo_folder(path: Path, names, out: Examples):
    folders = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise DataError(f"{path}: no interest sub-folders; expected one folder per interest holding its photos")
    found = 0
    for folder in folders:
        photos = [f for f in sorted(folder.iterdir()) if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS]
        if photos:
            _check_label(folder.name, names, f"{path}: folder {folder.name!r}")
        for photo in photos:
            out.add("image", photo, folder.name)
            found += 1
    if not found:
        raise DataError(f"{path}: no images ({', '.join(IMAGE_EXTENSIONS)}) in its interest sub-folders")


def _table(path: Path, names, out: Examples):
    if detect_modality(path) == "image":
        for line, row in read_table(path, ("label", "image")):
            label = _check_label(require_text(path, line, row, "label"), names, f"{path}:{line}")
            out.add("image", _resolve_photo(path, line, require_text(path, line, row, "image")), label)
        return
    for line, row in read_table(path, ("label", "text")):
        label = _check_label(require_text(path, line, row, "label"), names, f"{path}:{line}")
        out.add("text", require_text(path, line, row, "text"), label)


def _resolve_photo(table: Path, line: int, relative: str) -> Path:
    file = MediaPolicy(table.parent).resolve(relative, f"{table}:{line}: column 'image'")
    if not file.is_file():
        raise DataError(f"{table}:{line}: image {relative!r} not found (paths are relative to the table)")
    return file


def gather(taxonomy, paths=(), per_interest: int = 0, seed: int = 0) -> Examples:
    """Examples from the taxonomy file and from ``paths`` (tables or photo folders)."""
    names = list(taxonomy.names)
    out = Examples()
    for interest in taxonomy.interests:
        for caption in interest.captions:
            out.add("text", caption, interest.name)
        for photo in interest.photos:
            out.add("image", photo, interest.name)
    if out.count("text") or out.count("image"):
        out.sources.append(taxonomy.source)
    for path in map(Path, paths):
        if not path.exists():
            raise DataError(f"{path}: examples not found (expected a caption table, a photo table or a folder "
                            "with one sub-folder of photos per interest)")
        if path.is_dir():
            _photo_folder(path, names, out)
        else:
            _table(path, names, out)
        out.sources.append(str(path))
    return out.limit(per_interest, seed) if per_interest else out
