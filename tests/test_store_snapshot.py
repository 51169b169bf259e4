"""The kept fake champions (``store_snapshot``): a second empty store gets a working copy."""

import store_snapshot
from store_snapshot import empty_store
from support import register_fakes

from interestkit import tracking


def test_a_second_empty_store_gets_a_copy_that_loads_from_its_own_folder(isolated_store, tmp_path, monkeypatch,
                                                                            empty_store_template):
    first = register_fakes(temperature=1.7)  # a key no other test uses: written here
    before = dict(store_snapshot.STATS)
    other = empty_store(empty_store_template, tmp_path / "other")
    # every test has its own store and caches: where they are is not part of the key
    monkeypatch.setenv("INTERESTKIT_REGISTRY", str(other))
    monkeypatch.setenv("INTERESTKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("INTERESTKIT_EXPORT_CACHE", str(tmp_path / "exports"))

    second = register_fakes(temperature=1.7)

    assert store_snapshot.STATS == {"copied": before["copied"] + 1, "written": before["written"]}
    assert second == first
    model, meta = tracking.load_interest_model(second["text"])
    assert model.modality == "text" and model.labels[0] == "Golf" and meta["uri"] == second["text"]
    artifact_roots = [p.read_text() for p in (other / "artifacts").rglob("MLmodel")]
    assert artifact_roots and not any(str(isolated_store) in text for text in artifact_roots)


def test_another_setting_is_another_key(isolated_store, tmp_path, monkeypatch, empty_store_template):
    register_fakes(temperature=1.9)
    other = empty_store(empty_store_template, tmp_path / "other")
    monkeypatch.setenv("INTERESTKIT_REGISTRY", str(other))
    monkeypatch.setenv("INTERESTKIT_RUNTIME", "onnx")  # a setting a registration may read
    before = dict(store_snapshot.STATS)

    register_fakes(temperature=1.9)

    assert store_snapshot.STATS["written"] == before["written"] + 1
