"""Tests for interestkit.modeling.cache: hits and misses, keys, atomic writes, corruption, housekeeping."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from interestkit.atomic import TMP_SUFFIX
from interestkit.modeling import cache as cache_module
from interestkit.modeling.cache import FeatureCache

IDENTITY = {"architecture": "efficientnet-lite0", "weights_sha256": "ab" * 32,
            "input_size": 224, "preprocessing": "scale-0-255"}
ROOT_DIR = Path(__file__).resolve().parents[1]


def _hash(text):
    return hashlib.sha256(text.encode()).hexdigest()


HASHES = [_hash(f"photo-{i}") for i in range(4)]


class Encoder:
    """A fake frozen encoder: row i is [value of hash i] * dim; records its calls."""

    def __init__(self, hashes, dim=3):
        self.hashes, self.dim, self.calls = hashes, dim, []

    def value(self, index):
        return int(self.hashes[index][:6], 16) / 1e3

    def __call__(self, indices):
        self.calls.append(list(indices))
        return np.array([[self.value(i)] * self.dim for i in indices], dtype=np.float64)

    def expected(self):
        return np.array([[self.value(i)] * self.dim for i in range(len(self.hashes))],
                        dtype=np.float32)


def _npy_files(root):
    return sorted(p for p in Path(root).rglob("*.npy"))


def _tmp_files(root):
    return sorted(p for p in Path(root).rglob("*") if p.name.endswith(TMP_SUFFIX))


@pytest.fixture
def cache(tmp_path):
    return FeatureCache(tmp_path / "cache")


# -- keys and layout -----------------------------------------------------------------


def test_encoder_key_is_canonical():
    reordered = dict(reversed(list(IDENTITY.items())))
    assert FeatureCache.encoder_key(IDENTITY) == FeatureCache.encoder_key(reordered)
    other = {**IDENTITY, "input_size": 256}
    assert FeatureCache.encoder_key(IDENTITY) != FeatureCache.encoder_key(other)
    canonical = json.dumps(IDENTITY, sort_keys=True, separators=(",", ":"))
    assert FeatureCache.encoder_key(IDENTITY) == hashlib.sha256(canonical.encode()).hexdigest()
    with pytest.raises(TypeError, match="JSON"):
        FeatureCache.encoder_key({"weights": object()})


def test_layout_and_identity_file(cache):
    key = cache.register(IDENTITY)
    cache.put(key, HASHES[0], [1.0, 2.0])
    entry = cache.root / key[:16] / HASHES[0][:2] / f"{HASHES[0]}.npy"
    assert entry.is_file()
    assert np.load(entry).dtype == np.float32
    identity = json.loads((cache.root / key[:16] / "identity.json").read_text())
    assert identity == {"encoder_key": key, "identity": IDENTITY}
    assert not _tmp_files(cache.root)


def test_default_root(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERESTKIT_CACHE_DIR", str(tmp_path / "env"))
    assert FeatureCache().root == tmp_path / "env"
    monkeypatch.delenv("INTERESTKIT_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert FeatureCache().root == tmp_path / "home" / ".cache" / "interestkit" / "features"


def test_bad_hashes_are_refused(cache):
    key = cache.register(IDENTITY)
    for bad in ("../../etc/passwd", "ABCDEF0123456789", "abc", 12):
        with pytest.raises(ValueError, match="content hash"):
            cache.get(key, bad)
    with pytest.raises(ValueError, match="encoder key"):
        cache.get("not-a-key", HASHES[0])


# -- get, put, features ---------------------------------------------------------------


def test_get_put_round_trip(cache):
    key = cache.register(IDENTITY)
    assert cache.get(key, HASHES[0]) is None
    cache.put(key, HASHES[0], np.arange(5, dtype=np.float64))
    got = cache.get(key, HASHES[0])
    assert got.dtype == np.float32 and np.array_equal(got, np.arange(5))
    assert (cache.hits, cache.misses) == (1, 1)


def test_miss_then_hit(cache):
    key = cache.register(IDENTITY)
    encoder = Encoder(HASHES)
    first = cache.features(key, HASHES, encoder)
    assert encoder.calls == [[0, 1, 2, 3]]
    assert (cache.hits, cache.misses) == (0, 4)
    np.testing.assert_array_equal(first, encoder.expected())
    assert first.dtype == np.float32

    again = FeatureCache(cache.root)  # a new process, same disk
    second = again.features(key, HASHES, encoder)
    assert encoder.calls == [[0, 1, 2, 3]]  # not called again
    assert (again.hits, again.misses) == (4, 0)
    np.testing.assert_array_equal(second, first)


def test_only_misses_are_computed_in_input_order(cache):
    key = cache.register(IDENTITY)
    encoder = Encoder(HASHES)
    cache.features(key, [HASHES[1], HASHES[3]], lambda idx: encoder([[1, 3][i] for i in idx]))
    encoder.calls.clear()
    result = cache.features(key, HASHES, encoder)
    assert encoder.calls == [[0, 2]]
    np.testing.assert_array_equal(result, encoder.expected())


def test_repeated_hash_is_computed_once(cache):
    key = cache.register(IDENTITY)
    hashes = [HASHES[0], HASHES[1], HASHES[0]]
    encoder = Encoder(hashes)
    result = cache.features(key, hashes, encoder)
    assert encoder.calls == [[0, 1]]
    np.testing.assert_array_equal(result[2], result[0])


def test_different_encoder_identity_is_a_miss(cache):
    encoder = Encoder(HASHES)
    cache.features(cache.register(IDENTITY), HASHES, encoder)
    other = cache.register({**IDENTITY, "weights_sha256": "cd" * 32})
    cache.features(other, HASHES, encoder)
    assert encoder.calls == [[0, 1, 2, 3], [0, 1, 2, 3]]
    assert cache.info()["encoders"] == 2


def test_empty_batch_and_bad_compute(cache):
    key = cache.register(IDENTITY)
    assert cache.features(key, [], Encoder([])).shape == (0, 0)
    with pytest.raises(ValueError, match="one row per input"):
        cache.features(key, HASHES, lambda idx: np.zeros((1, 3)))
    assert not _npy_files(cache.root)


# -- atomicity --------------------------------------------------------------------------


def test_failed_rename_leaves_no_entry(cache, monkeypatch):
    key = cache.register(IDENTITY)

    def broken_replace(src, dst):
        assert Path(src).stat().st_size > 0  # the temp file was fully written
        raise OSError("simulated crash before rename")

    monkeypatch.setattr(cache_module.os, "replace", broken_replace)
    with pytest.raises(OSError, match="simulated"):
        cache.put(key, HASHES[0], [1.0, 2.0])
    with pytest.warns(UserWarning, match="cannot write") as caught:
        result = cache.features(key, HASHES, Encoder(HASHES))
    assert len(caught) == 1  # once per batch, not once per row
    assert result.shape == (4, 3)  # the run goes on without the cache
    assert not _npy_files(cache.root) and not _tmp_files(cache.root)
    monkeypatch.undo()

    encoder = Encoder(HASHES)
    cache.features(key, HASHES, encoder)
    assert encoder.calls == [[0, 1, 2, 3]]  # nothing half-written was served


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_process_killed_during_write(cache):
    key = cache.register(IDENTITY)
    script = textwrap.dedent(f"""
        import os, signal
        from interestkit.modeling.cache import FeatureCache
        os.replace = lambda src, dst: os.kill(os.getpid(), signal.SIGKILL)
        FeatureCache({str(cache.root)!r}).put({key!r}, {HASHES[0]!r}, [1.0, 2.0, 3.0])
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT_DIR)}
    proc = subprocess.run([sys.executable, "-c", script], env=env, timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not _npy_files(cache.root)
    assert len(_tmp_files(cache.root)) == 1  # the orphan temp file, never read

    encoder = Encoder(HASHES)
    result = cache.features(key, HASHES, encoder)
    assert encoder.calls == [[0, 1, 2, 3]]
    np.testing.assert_array_equal(result, encoder.expected())
    assert cache.clear() == 4
    assert not _tmp_files(cache.root)


# -- corruption ----------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "float64", "pickle"])
def test_corrupt_entry_is_a_miss_and_is_rewritten(cache, damage):
    key = cache.register(IDENTITY)
    encoder = Encoder(HASHES)
    cache.features(key, HASHES, encoder)
    entry = cache.root / key[:16] / HASHES[2][:2] / f"{HASHES[2]}.npy"
    data = entry.read_bytes()
    if damage == "truncate":
        entry.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        entry.write_bytes(b"\x00garbage" * 10)
    elif damage == "empty":
        entry.write_bytes(b"")
    elif damage == "float64":
        np.save(entry, np.ones(3, dtype=np.float64))
    else:
        np.save(entry, np.array([{"a": 1}], dtype=object), allow_pickle=True)

    result = cache.features(key, HASHES, encoder)
    assert encoder.calls[-1] == [2]
    np.testing.assert_array_equal(result, encoder.expected())
    assert entry.read_bytes() == data  # rewritten whole


def test_entry_of_odd_shape_is_recomputed(cache):
    key = cache.register(IDENTITY)
    encoder = Encoder(HASHES)
    cache.features(key, HASHES, encoder)
    cache.put(key, HASHES[1], np.zeros(7))
    result = cache.features(key, HASHES, encoder)
    assert encoder.calls[-1] == [1]
    np.testing.assert_array_equal(result, encoder.expected())


# -- disabled, info, clear ------------------------------------------------------------------


def test_disabled_cache_never_writes(tmp_path):
    off = FeatureCache(tmp_path / "off", enabled=False)
    key = off.register(IDENTITY)
    encoder = Encoder(HASHES)
    off.features(key, HASHES, encoder)
    off.features(key, HASHES, encoder)
    off.put(key, HASHES[0], [1.0])
    assert encoder.calls == [[0, 1, 2, 3]] * 2
    assert off.get(key, HASHES[0]) is None
    assert (off.hits, off.misses) == (0, 9)
    assert not (tmp_path / "off").exists()


def test_info_and_clear(cache):
    a = cache.register(IDENTITY)
    b = cache.register({**IDENTITY, "input_size": 256})
    cache.features(a, HASHES[:3], Encoder(HASHES[:3]))
    cache.features(b, HASHES[:2], Encoder(HASHES[:2], dim=5))
    (cache.root / "notes").mkdir()  # not an encoder folder: left alone
    (cache.root / "notes" / "keep.txt").write_text("mine")

    info = cache.info()
    assert info["root"] == str(cache.root)
    assert (info["encoders"], info["entries"]) == (2, 5)
    files = [p for d in (a, b) for p in (cache.root / d[:16]).rglob("*") if p.is_file()]
    on_disk = sum(p.stat().st_size for p in files)
    assert info["bytes"] == on_disk > 0
    assert info["per_encoder"][a[:16]]["entries"] == 3
    assert info["per_encoder"][b[:16]]["identity"]["identity"]["input_size"] == 256

    assert cache.clear(a) == 3
    assert cache.info()["entries"] == 2
    assert cache.clear(a) == 0
    assert cache.clear() == 2
    assert cache.info()["encoders"] == 0
    assert (cache.root / "notes" / "keep.txt").read_text() == "mine"


def test_info_on_missing_root(tmp_path):
    info = FeatureCache(tmp_path / "nowhere").info()
    assert (info["encoders"], info["entries"], info["bytes"]) == (0, 0, 0)
    assert FeatureCache(tmp_path / "nowhere").clear() == 0


def test_entries_skip_fsync_but_other_atomic_writes_keep_it(cache, monkeypatch, tmp_path):
    """An entry left empty by a power cut is a miss (above), so entries need no fsync; the
    identity file and every other atomic write still get one."""
    import interestkit.atomic as atomic

    synced = []
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: synced.append(fd))
    key = cache.register(IDENTITY)
    assert len(synced) == 1  # identity.json
    cache.features(key, HASHES, Encoder(HASHES))
    assert len(synced) == 1 and len(list(cache.root.rglob("*.npy"))) == len(HASHES)
    atomic.atomic_write(tmp_path / "other.txt", "x")
    assert len(synced) == 2
