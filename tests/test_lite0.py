"""EfficientNet-Lite0 port: ImageNet predictions, safe .pth loading, and model shapes."""

import hashlib
import io
import os
import pickle
import shutil
import sys
import types
import zipfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np
import pytest

import interestkit_plugins.efficientnet_lite.port as port
import interestkit_plugins.efficientnet_lite.torch_weights as torch_weights
from interestkit_plugins.efficientnet_lite.port import (
    NUM_BLOCKS,
    WeightsMismatchError,
    build_lite0,
    lite0_block_layers,
    lite0_weights_path,
    weights_sha256,
)
from interestkit_plugins.efficientnet_lite.torch_weights import (
    LEGACY_MAGIC_NUMBER,
    LEGACY_PROTOCOL_VERSION,
    UnsafeWeightsError,
    WeightsFormatError,
    load_legacy_state_dict,
)

TABBY, TIGER_CAT, EGYPTIAN_CAT, ESPRESSO = 281, 282, 285, 967
CAT_CLASSES = {TABBY, TIGER_CAT, EGYPTIAN_CAT}


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def square_224(image):
    """Center-crop an RGB image to a square and resize it to 224x224 (PIL bilinear)."""
    from PIL import Image

    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    crop = np.ascontiguousarray(image[top : top + side, left : left + side, :3])
    return np.asarray(Image.fromarray(crop).resize((224, 224), Image.BILINEAR), dtype=np.float32)


def softmax(logits):
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def legacy_header():
    """The three small pickles that open a legacy ``torch.save`` file."""
    sys_info = {"protocol_version": LEGACY_PROTOCOL_VERSION, "little_endian": True, "type_sizes": {}}
    return b"".join(pickle.dumps(obj, protocol=2) for obj in (LEGACY_MAGIC_NUMBER, LEGACY_PROTOCOL_VERSION, sys_info))


class RunsShellCommand:
    """Unpickling this object would run a shell command (it must never happen)."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def classifier():
    """The pretrained Lite0 with its ImageNet classifier, built once for the module."""
    return build_lite0(include_top=True)


@pytest.fixture(scope="module")
def photos():
    """Two test photos from scikit-image, preprocessed to (2, 224, 224, 3) pixels in [0, 255]."""
    skimage_data = pytest.importorskip("skimage.data")
    return np.stack([square_224(skimage_data.chelsea()), square_224(skimage_data.coffee())])


# --------------------------------------------------------------------------
# (a) the port predicts the right ImageNet classes
# --------------------------------------------------------------------------


@pytest.mark.integration  # a real Keras EfficientNet-Lite
@pytest.mark.xdist_group("lite0")  # the module's pretrained network, built once per worker
def test_pretrained_lite0_recognises_the_cat_and_the_coffee(classifier, photos):
    probs = softmax(classifier.predict(photos, verbose=0))
    cat, coffee = probs
    top1 = int(cat.argmax())
    top5 = set(np.argsort(-cat)[:5].tolist())
    print(f"chelsea: top-1 class {top1} p={cat[top1]:.3f}; coffee: top-1 {int(coffee.argmax())} p={coffee.max():.3f}")

    assert top1 in CAT_CLASSES
    assert cat[top1] > 0.3  # measured 0.396; a broken port is nowhere near this
    assert {EGYPTIAN_CAT, TABBY} <= top5
    assert cat[list(CAT_CLASSES)].sum() > 0.8  # measured 0.887
    # The coffee photo catches kernel-orientation mistakes that the cat photo alone
    # would not (a port with height/width swapped kernels still sees a cat).
    assert int(coffee.argmax()) == ESPRESSO and coffee[ESPRESSO] > 0.8  # measured 0.944


@pytest.mark.integration  # a real Keras EfficientNet-Lite
@pytest.mark.xdist_group("lite0")  # the module's pretrained network, built once per worker
def test_every_layer_is_named_by_its_part(classifier):
    names = [layer.name for layer in classifier.layers]
    assert names[0] == "image" and names[1] == "stem_normalize"
    assert all(name.startswith(("stem_", "block", "top_")) for name in names[1:])
    assert {name.split("_")[0] for name in names if name.startswith("block")} == {
        f"block{i}" for i in range(NUM_BLOCKS)
    }


@pytest.mark.integration  # a real Keras EfficientNet-Lite
@pytest.mark.xdist_group("lite0")  # the module's pretrained network, built once per worker
def test_block_layers_are_the_last_blocks_and_the_top(classifier):
    names = [layer.name for layer in lite0_block_layers(classifier, 2)]
    assert names[0].startswith("block14_") and "block15_project_bn" in names
    assert {"top_conv", "top_bn", "top_logits"} <= set(names)
    assert not any(name.startswith(("block13_", "stem_")) for name in names)
    assert all(name.startswith("top_") for name in (layer.name for layer in lite0_block_layers(classifier, 0)))
    with pytest.raises(ValueError):
        lite0_block_layers(classifier, NUM_BLOCKS + 1)


def test_weights_path_and_hash():
    path = lite0_weights_path()
    assert path.is_file() and path.suffix == ".pth"
    expected = hashlib.sha256(path.read_bytes()).hexdigest()
    assert weights_sha256(path) == expected == weights_sha256(str(path))


# --------------------------------------------------------------------------
# (b) untrusted files: refused globals are never executed
# --------------------------------------------------------------------------


def test_pickle_naming_another_global_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    payload = {"conv.weight": RunsShellCommand(f"touch {marker}")}
    evil = tmp_path / "evil.pth"
    evil.write_bytes(legacy_header() + pickle.dumps(payload, protocol=2) + pickle.dumps([], protocol=2))

    with pytest.raises(UnsafeWeightsError, match="system") as excinfo:
        load_legacy_state_dict(evil)
    assert str(evil) in str(excinfo.value)
    assert not marker.exists()


def test_zip_format_with_another_global_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil_zip.pth"
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps(RunsShellCommand(f"touch {marker}"), protocol=2))
    with pytest.raises(UnsafeWeightsError):
        load_legacy_state_dict(evil)
    assert not marker.exists()


# --------------------------------------------------------------------------
# (c) malformed files give WeightsFormatError
# --------------------------------------------------------------------------


@pytest.mark.parametrize("keep", [0, 10, 30_000, 0.5, -1])
def test_truncated_weights_file_is_a_format_error(tmp_path, keep):
    source = lite0_weights_path()
    size = source.stat().st_size
    keep = int(size * keep) if isinstance(keep, float) else keep % size
    truncated = tmp_path / "truncated.pth"
    with open(source, "rb") as src, open(truncated, "wb") as dst:
        dst.write(src.read(keep))

    with pytest.raises(WeightsFormatError) as excinfo:
        load_legacy_state_dict(truncated)
    assert str(truncated) in str(excinfo.value)


def test_real_weights_file_loads_completely(tmp_path):
    copy = tmp_path / "copy.pth"
    shutil.copyfile(lite0_weights_path(), copy)
    state = load_legacy_state_dict(copy)
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280)
    assert all(value.flags["C_CONTIGUOUS"] for value in state.values())


# --------------------------------------------------------------------------
# the zip format, written the way torch >= 1.6 writes it
# --------------------------------------------------------------------------


class FakeStorage:
    """A flat float32 storage, pickled by reference to ``torch.FloatStorage`` like torch does."""

    def __init__(self, key, values):
        self.key, self.values = key, np.asarray(values, dtype="<f4")


class FakeTensor:
    """Pickles as ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)``."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride, False, {})

    def __reduce__(self):
        return (sys.modules["torch._utils"]._rebuild_tensor_v2, self.args)


@pytest.fixture
def fake_torch(monkeypatch):
    """Just enough of a ``torch`` module for pickle to write references to its names."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    def _rebuild_tensor_v2(*args):
        raise AssertionError("only referenced, never called")

    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"
    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    torch.FloatStorage, torch._utils, utils._rebuild_tensor_v2 = FloatStorage, utils, _rebuild_tensor_v2
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return torch


def save_zip_state_dict(path, state, storages, torch):
    """Write ``state`` (of FakeTensors) in torch's zip format."""

    class ZipPickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, FakeStorage):
                return ("storage", torch.FloatStorage, obj.key, "cpu", obj.values.size)
            return None

    buffer = io.BytesIO()
    ZipPickler(buffer, protocol=2).dump(state)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("model/data.pkl", buffer.getvalue())
        archive.writestr("model/byteorder", "little")
        for storage in storages:
            archive.writestr(f"model/data/{storage.key}", storage.values.tobytes())


def test_zip_format_with_offsets_and_strides(tmp_path, fake_torch):
    storage = FakeStorage("0", np.arange(10))
    state = {
        "transposed": FakeTensor(storage, 0, (3, 2), (1, 3)),  # a (2, 3) matrix read column-major
        "slice": FakeTensor(storage, 6, (4,), (1,)),
    }
    path = tmp_path / "zipped.pth"
    save_zip_state_dict(path, state, [storage], fake_torch)

    loaded = load_legacy_state_dict(path)
    np.testing.assert_array_equal(loaded["transposed"], np.arange(6, dtype=np.float32).reshape(2, 3).T)
    np.testing.assert_array_equal(loaded["slice"], [6, 7, 8, 9])
    assert loaded["slice"].dtype == np.float32


def test_tensor_overrunning_its_storage_is_a_format_error(tmp_path, fake_torch):
    storage = FakeStorage("0", np.arange(4))
    path = tmp_path / "overrun.pth"
    save_zip_state_dict(path, {"w": FakeTensor(storage, 2, (4,), (1,))}, [storage], fake_torch)
    with pytest.raises(WeightsFormatError, match="overruns"):
        load_legacy_state_dict(path)


def _extra_tensor(state):
    state["_blocks.3._se_reduce.weight"] = np.zeros((4, 24, 1, 1), np.float32)


def _missing_tensor(state):
    del state["_blocks.7._bn1.running_var"]


def _wrong_shape(state):
    state["_conv_head.weight"] = state["_conv_head.weight"][:, :300]


@pytest.mark.integration  # a real Keras EfficientNet-Lite
@pytest.mark.xdist_group("lite0")  # the module's pretrained network, built once per worker
@pytest.mark.parametrize("corrupt", [_extra_tensor, _missing_tensor, _wrong_shape])
def test_state_dict_that_does_not_fit_lite0_is_refused(monkeypatch, corrupt):
    real_loader = torch_weights.load_legacy_state_dict

    def corrupted_loader(path):
        state = real_loader(path)
        corrupt(state)
        return state

    monkeypatch.setattr(port, "load_legacy_state_dict", corrupted_loader)
    with pytest.raises(WeightsMismatchError):
        build_lite0(image_size=32)


# --------------------------------------------------------------------------
# (d) feature extractor shapes
# --------------------------------------------------------------------------


@pytest.mark.integration  # a real Keras EfficientNet-Lite
@pytest.mark.xdist_group("lite0")  # the module's pretrained network, built once per worker
def test_untrained_lite0_gives_1280_features_at_any_size():
    model = build_lite0(image_size=64, weights=None)
    features = model.predict(np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype("float32"), verbose=0)
    assert features.shape == (2, 1280)
    assert np.isfinite(features).all()
