"""Features of photos, through the feature cache: the one extraction path (and ``text_features``
for a frozen caption encoder's features, which ``interestkit tune`` reads back every trial).

Training a head on a frozen encoder and scoring photos both come here. Photos are read
in batches; with a cache, each photo's content hash is looked up first and only the
misses are decoded and encoded (``FeatureCache.features``: a repeated photo is encoded
once, broken entries are recomputed, a full disk only stops the writing). A photo that
cannot be read is reported in ``failures``, never silently dropped.
"""

from __future__ import annotations

import time

import numpy as np

from ..data.augment import View
from ..data.images import ImageError, file_sha256, load_images


def image_features(encode, sources, size: int, dim: int, cache=None, identity=None, on_error: str = "skip", log=None,
                   batch: int = 64, view: View | None = None):
    """``(features, kept, failures)`` for photos given as paths or bytes.

    ``encode(pixels) -> features`` runs the encoder on a ``(n, size, size, 3)`` batch and
    gives ``(n, dim)`` features.
    With an enabled ``cache`` and the encoder's ``identity``, features are read from and
    written to it. ``kept`` are the indices of ``sources`` whose rows are in
    ``features`` (in order), ``failures`` are ``(source, message)`` in source order; with
    ``on_error="raise"`` the first unreadable photo raises ``ImageError``.
    With a ``view`` (``interestkit.data.augment.View``), the features are those of that
    augmented view of each photo, cached under the identity plus the view's key.
    """
    sources = list(sources)
    use_cache = cache is not None and cache.enabled and identity is not None
    if view is not None and identity is not None:
        identity = {**identity, **view.key()}
    key = cache.register(identity) if use_cache else None
    started = time.perf_counter()
    kept, failures, rows = [], [], []
    for start in range(0, len(sources), batch):
        part = list(range(start, min(start + batch, len(sources))))
        if use_cache:
            readable, hashes = [], []
            for i in part:
                try:
                    hashes.append(file_sha256(sources[i]))
                    readable.append(i)
                except ImageError as error:
                    if on_error == "raise":
                        raise
                    failures.append((i, str(error)))
            decoded: dict[int, str] = {}
            values = cache.features(key, hashes, lambda idx: _encode_or_nan(
                encode, [sources[readable[j]] for j in idx], size, dim, on_error, decoded, idx, view,
                [hashes[j] for j in idx])) if hashes else []
            failures.extend((readable[j], message) for j, message in decoded.items())
            part_rows = zip(readable, values)
        else:
            messages: dict[int, str] = {}
            values = _encode_or_nan(encode, [sources[i] for i in part], size, dim, on_error, messages, range(len(part)),
                                    view)
            failures.extend((part[j], message) for j, message in messages.items())
            part_rows = zip(part, values)
        for index, row in part_rows:
            if np.all(np.isfinite(row)):
                kept.append(index)
                rows.append(row)
        done = part[-1] + 1
        if log and (done == len(sources) or (start // batch) % 5 == 4):
            log(f"features: {done}/{len(sources)} images ({time.perf_counter() - started:.1f}s)")
    features = np.stack(rows).astype(np.float32) if rows else np.zeros((0, dim), np.float32)
    return features, kept, [(sources[i], message) for i, message in sorted(failures)]


def _encode_or_nan(encode, sources, size, dim, on_error, messages: dict, positions, view=None, hashes=None):
    """One row per source: its features, or NaN where it could not be decoded (noted in ``messages``).

    With a ``view``, the decoded pixels are augmented first, seeded by each photo's content
    hash (``hashes``, or computed here)."""
    positions = list(positions)
    pixels, ok, bad = load_images(sources, size, on_error=on_error)
    decoded = set(ok)
    for position, (_, message) in zip([p for k, p in enumerate(positions) if k not in decoded], bad):
        messages[position] = message
    out = np.full((len(sources), dim), np.nan, dtype=np.float32)
    if ok:
        if view is not None:
            pixels = view.apply(pixels, [hashes[k] if hashes else file_sha256(sources[k]) for k in ok])
        out[ok] = np.asarray(encode(pixels), dtype=np.float32)
    return out


def text_features(encode, texts, cache=None, identity=None, chunk: int = 4096):
    """Features of captions (``encode(texts) -> (n, dim)``), through an enabled ``cache`` when
    the frozen encoder's ``identity`` is given: each caption keyed by the SHA-256 of its UTF-8
    text, so a second training run on the same captions (a tuning trial) encodes nothing.
    Captions go through the cache ``chunk`` at a time, so an interrupted first run keeps
    what it encoded."""
    import hashlib

    texts = list(texts)
    if cache is None or not cache.enabled or identity is None or not texts:
        return np.asarray(encode(texts), dtype=np.float32)
    key = cache.register({**identity, "input": "text"})
    hashes = [hashlib.sha256(text.encode("utf-8")).hexdigest() for text in texts]
    parts = []
    for start in range(0, len(texts), chunk):
        part = texts[start:start + chunk]
        parts.append(cache.features(key, hashes[start:start + chunk], lambda idx: encode([part[i] for i in idx])))
    return np.concatenate(parts)
