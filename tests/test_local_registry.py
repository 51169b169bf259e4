"""Registered versions found in a local sqlite store without MLflow: the same folder MLflow gives, or None."""

from pathlib import Path

import pytest

from interestkit import tracking
from interestkit.testing import FakeInterestModel
from interestkit.tracking.local_registry import find_version
from support import register_fakes


def _mlflow_folder(uri) -> Path:
    import mlflow

    tracking.configure()
    return Path(mlflow.artifacts.download_artifacts(uri)) / "artifacts" / "model"


def test_an_alias_and_a_version_resolve_to_the_folder_mlflow_gives():
    register_fakes()
    for uri in ("models:/interestkit-text@champion", "models:/interestkit-text/1", "models:/interestkit-image@champion"):
        folder, described = find_version(uri)
        assert folder.resolve() == _mlflow_folder(uri).resolve()
        assert described == tracking.describe_uri(uri)
    model, described = tracking.load_interest_model("models:/interestkit-image@champion")
    assert model.modality == "image" and described["version"] == 1 and described["run_id"]


def test_what_it_cannot_answer_is_left_to_mlflow(monkeypatch, tmp_path):
    from mlflow import MlflowClient

    register_fakes()
    tracking.register_interest_model(FakeInterestModel("text", ["Golf"]))
    assert find_version("models:/interestkit-text@nobody") is None
    assert find_version("models:/interestkit-text/9") is None
    assert find_version("runs:/abc/model") is None and find_version(str(tmp_path)) is None
    MlflowClient().delete_model_version("interestkit-text", "2")
    assert find_version("models:/interestkit-text/2") is None
    with pytest.raises(Exception, match="interestkit-text/2"):
        tracking.load_interest_model("models:/interestkit-text/2")  # MLflow's answer, as before
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    assert find_version("models:/interestkit-text@champion") is None
