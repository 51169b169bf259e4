"""Read PyTorch ``.pth`` state dicts into numpy arrays, without importing torch.

A ``.pth`` file is a pickle, and unpickling runs whatever callables the file
names, so a weights file is untrusted input.  This module unpickles with a
restricted :class:`pickle.Unpickler` that resolves only the handful of names a
plain state dict needs (the tensor-rebuild helpers, ``OrderedDict`` and the
storage types) to harmless local stand-ins, and refuses every other name with
:class:`UnsafeWeightsError`.

Both container formats written by ``torch.save`` are supported:

* the legacy format (torch < 1.6): a magic-number pickle, a protocol-version
  pickle, a system-info pickle, the state-dict pickle, a pickle listing the
  storage keys, and then each storage as an int64 element count followed by its
  raw bytes;
* the zip format (torch >= 1.6): an archive holding ``<name>/data.pkl`` and each
  storage as raw bytes in ``<name>/data/<key>``.

Usage::

    state = load_legacy_state_dict("model.pth")   # {"conv.weight": ndarray, ...}
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import zipfile
import zlib

import numpy as np

__all__ = ["UnsafeWeightsError", "WeightsFormatError", "load_legacy_state_dict"]

LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001
ZIP_MAGIC = b"PK\x03\x04"  # first bytes of the zip format

# Storage class name (as pickled, module "torch") -> numpy element type name.
# bfloat16 has no numpy type: it is read as uint16 and widened to float32.
STORAGE_DTYPES = {
    "DoubleStorage": "f8",
    "FloatStorage": "f4",
    "HalfStorage": "f2",
    "BFloat16Storage": "bf16",
    "LongStorage": "i8",
    "IntStorage": "i4",
    "ShortStorage": "i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "b1",
}


class UnsafeWeightsError(ValueError):
    """The weights file references a Python global that a state dict never needs."""


class WeightsFormatError(ValueError):
    """The weights file is truncated, corrupt, or not a PyTorch state dict."""


# --------------------------------------------------------------------------
# Harmless stand-ins for the torch objects a state-dict pickle refers to
# --------------------------------------------------------------------------


class _StorageType:
    """Stand-in for a class such as ``torch.FloatStorage``: it only carries a dtype."""

    def __init__(self, name):
        self.name = name
        self.code = STORAGE_DTYPES[name]

    @property
    def itemsize(self):
        return 2 if self.code == "bf16" else np.dtype(self.code).itemsize

    def __repr__(self):
        return f"<storage type {self.name}>"


class _Storage:
    """A flat storage whose bytes are filled in after the pickle has been read."""

    def __init__(self, storage_type, key, numel):
        self.storage_type = storage_type
        self.key = key
        self.numel = numel
        self.root = None  # for legacy "views" of another storage: (root, offset)
        self.array = None  # filled by the container reader

    def elements(self):
        """Return this storage's elements as a 1-d numpy array."""
        if self.root is not None:
            root, offset = self.root
            return root.elements()[offset : offset + self.numel]
        return self.array


class _PendingTensor:
    """A tensor described by the pickle, materialised once storages are loaded."""

    def __init__(self, storage, offset, size, stride):
        self.storage = storage
        self.offset = offset
        self.size = tuple(size)
        self.stride = tuple(stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    """Stand-in for ``torch._utils._rebuild_tensor_v2``: records where the tensor lives."""
    if not isinstance(storage, _Storage):
        raise WeightsFormatError("tensor does not refer to a storage")
    return _PendingTensor(storage, int(storage_offset), size, stride)


def _rebuild_tensor(storage, storage_offset, size, stride):
    """Stand-in for the older ``torch._utils._rebuild_tensor``."""
    return _rebuild_tensor_v2(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *extra):
    """Stand-in for ``torch._utils._rebuild_parameter``: a parameter is just its tensor."""
    if not isinstance(data, _PendingTensor):
        raise WeightsFormatError("parameter does not wrap a tensor")
    return data


ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
}
ALLOWED_GLOBALS.update({("torch", name): _StorageType(name) for name in STORAGE_DTYPES})


# --------------------------------------------------------------------------
# The restricted unpickler
# --------------------------------------------------------------------------


class _StateDictUnpickler(pickle.Unpickler):
    """Unpickler that resolves only :data:`ALLOWED_GLOBALS` and collects storages."""

    def __init__(self, file, path, allow_storages=True):
        super().__init__(file)
        self.path = path
        self.allow_storages = allow_storages
        self.storages = {}  # key -> _Storage, in first-seen order

    def find_class(self, module, name):
        """Return the stand-in for an allowed global; refuse everything else."""
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafeWeightsError(
                f"{self.path}: refusing to load, the file references the Python global "
                f"{module}.{name}, which a plain state dict never needs"
            ) from None

    def persistent_load(self, pid):
        """Turn a ``('storage', type, key, location, numel[, view])`` id into a storage."""
        if not self.allow_storages:
            raise WeightsFormatError(f"{self.path}: unexpected storage reference in a metadata pickle")
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage" or len(pid) not in (5, 6):
            raise WeightsFormatError(f"{self.path}: unexpected persistent id {pid!r}")
        storage_type, key, _location, numel = pid[1:5]
        view = pid[5] if len(pid) == 6 else None
        if not isinstance(storage_type, _StorageType) or not isinstance(numel, int) or numel < 0:
            raise WeightsFormatError(f"{self.path}: malformed storage id {pid!r}")
        key = str(key)
        storage = self.storages.get(key)
        if storage is None:
            storage = self.storages[key] = _Storage(storage_type, key, numel)
        if view is None:
            return storage
        return self._view(storage, view)

    def _view(self, root, view):
        """Legacy files may refer to a slice ``(view_key, offset, numel)`` of a storage."""
        try:
            view_key, offset, numel = view
        except (TypeError, ValueError):
            raise WeightsFormatError(f"{self.path}: malformed storage view {view!r}") from None
        storage = _Storage(root.storage_type, str(view_key), int(numel))
        storage.root = (root, int(offset))
        return storage


def _unpickle(file, path):
    """Unpickle one state-dict pickle from ``file``; return (object, storages by key)."""
    unpickler = _StateDictUnpickler(file, path)
    obj = _guarded_load(unpickler, path)
    return obj, unpickler.storages


def _plain_load(file, path):
    """Load one of the small metadata pickles of the legacy format (no globals allowed)."""
    unpickler = _StateDictUnpickler(file, path, allow_storages=False)
    return _guarded_load(unpickler, path)


def _guarded_load(unpickler, path):
    """Run ``unpickler.load()``, turning low-level failures into :class:`WeightsFormatError`."""
    try:
        return unpickler.load()
    except (UnsafeWeightsError, WeightsFormatError):
        raise
    except Exception as exc:  # a corrupt pickle can fail in many ways
        raise WeightsFormatError(f"{path}: corrupt or truncated pickle data ({type(exc).__name__}: {exc})") from None


# --------------------------------------------------------------------------
# Turning raw bytes into numpy arrays
# --------------------------------------------------------------------------


def _decode_storage(storage, raw, byteorder, path):
    """Set ``storage.array`` from its raw bytes, in native byte order."""
    itemsize = storage.storage_type.itemsize
    if len(raw) != storage.numel * itemsize:
        raise WeightsFormatError(
            f"{path}: storage {storage.key} has {len(raw)} bytes, expected {storage.numel * itemsize}"
        )
    code = storage.storage_type.code
    if code == "bf16":
        bits = np.frombuffer(raw, dtype=byteorder + "u2").astype(np.uint32) << 16
        storage.array = bits.view(np.float32)
    elif code in ("b1", "i1", "u1"):
        storage.array = np.frombuffer(raw, dtype=code)
    else:
        storage.array = np.frombuffer(raw, dtype=byteorder + code).astype(code)


def _materialise(tensor, path):
    """Return a standalone numpy array for a :class:`_PendingTensor`."""
    elements = tensor.storage.elements()
    if elements is None:
        raise WeightsFormatError(f"{path}: storage {tensor.storage.key} has no data")
    size, stride, offset = tensor.size, tensor.stride, tensor.offset
    if len(size) != len(stride) or offset < 0 or any(s < 0 for s in size + stride):
        raise WeightsFormatError(f"{path}: malformed tensor size {size} / stride {stride}")
    if 0 in size:
        return np.zeros(size, dtype=elements.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= elements.size:
        raise WeightsFormatError(
            f"{path}: tensor of size {size} at offset {offset} overruns its storage of {elements.size} elements"
        )
    strides = tuple(s * elements.itemsize for s in stride)
    view = np.lib.stride_tricks.as_strided(elements[offset:], shape=size, strides=strides, writeable=False)
    return np.array(view, order="C")  # copy: contiguous, writable, independent of the file


def _resolve(obj, path):
    """Replace every pending tensor inside (nested) dicts/lists by its numpy array."""
    if isinstance(obj, _PendingTensor):
        return _materialise(obj, path)
    if isinstance(obj, dict):
        return {key: _resolve(value, path) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_resolve(value, path) for value in obj)
    return obj


# --------------------------------------------------------------------------
# The two container formats
# --------------------------------------------------------------------------


def _read_legacy(file, path):
    """Read the legacy (pre-zip) ``torch.save`` format from an open binary file."""
    magic = _plain_load(file, path)
    if magic != LEGACY_MAGIC_NUMBER:
        raise WeightsFormatError(f"{path}: not a PyTorch weights file (bad magic number)")
    version = _plain_load(file, path)
    if version != LEGACY_PROTOCOL_VERSION:
        raise WeightsFormatError(f"{path}: unsupported legacy protocol version {version!r}")
    sys_info = _plain_load(file, path)
    byteorder = "<" if not isinstance(sys_info, dict) or sys_info.get("little_endian", True) else ">"

    obj, storages = _unpickle(file, path)
    keys = _plain_load(file, path)
    if not isinstance(keys, list) or set(map(str, keys)) != set(storages):
        raise WeightsFormatError(f"{path}: storage list does not match the tensors in the file")
    for key in map(str, keys):
        storage = storages[key]
        header = file.read(8)
        if len(header) != 8:
            raise WeightsFormatError(f"{path}: file is truncated (storage {key} missing)")
        (numel,) = struct.unpack(byteorder + "q", header)
        if numel != storage.numel:
            raise WeightsFormatError(f"{path}: storage {key} holds {numel} elements, expected {storage.numel}")
        raw = file.read(numel * storage.storage_type.itemsize)
        _decode_storage(storage, raw, byteorder, path)
    return obj


def _read_zip(path):
    """Read the zip-based ``torch.save`` format (``<name>/data.pkl`` + ``<name>/data/<key>``)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            pickles = [name for name in names if name.endswith("/data.pkl") and name.count("/") == 1]
            if len(pickles) != 1:
                raise WeightsFormatError(f"{path}: zip archive has no single <name>/data.pkl")
            prefix = pickles[0][: -len("data.pkl")]
            byteorder = "<"
            if prefix + "byteorder" in names:
                byteorder = ">" if archive.read(prefix + "byteorder").strip() == b"big" else "<"
            obj, storages = _unpickle(io.BytesIO(archive.read(pickles[0])), path)
            for key, storage in storages.items():
                member = f"{prefix}data/{key}"
                if member not in names:
                    raise WeightsFormatError(f"{path}: storage {member} is missing from the archive")
                _decode_storage(storage, archive.read(member), byteorder, path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise WeightsFormatError(f"{path}: corrupt or truncated zip archive ({exc})") from None
    return obj


def load_legacy_state_dict(path) -> dict[str, np.ndarray]:
    """Load a PyTorch state dict from ``path`` as ``{name: numpy array}``, without torch.

    Accepts both the legacy and the zip ``torch.save`` formats.  Raises
    :class:`UnsafeWeightsError` if the file references any Python global beyond
    what a plain state dict needs (nothing in the file is executed), and
    :class:`WeightsFormatError` if it is truncated, corrupt, or not a state dict.
    Tensors come back as standalone, C-contiguous arrays in native byte order.
    """
    path = os.fspath(path)
    with open(path, "rb") as file:
        is_zip = file.read(4) == ZIP_MAGIC
        if not is_zip:
            file.seek(0)
            obj = _read_legacy(file, path)
    if is_zip:
        obj = _read_zip(path)
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]  # checkpoints often wrap the weights
    if not isinstance(obj, dict):
        raise WeightsFormatError(f"{path}: expected a state dict, found {type(obj).__name__}")
    state = _resolve(obj, path)
    not_arrays = [key for key, value in state.items() if not isinstance(value, np.ndarray)]
    if not_arrays:
        raise WeightsFormatError(f"{path}: entries {not_arrays[:3]} are not tensors")
    return state
