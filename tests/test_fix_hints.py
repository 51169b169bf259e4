"""A refused image path names the setting that allows it: INTERESTKIT_MEDIA_ROOT, --media-root or
--allow-outside-paths, whichever applies where it was refused."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from interestkit.cli import cli
from support import register_fakes, register_fakes_and_hybrid, small_workspace


@pytest.fixture
def served(tmp_path):
    paths = small_workspace(tmp_path / "ws", users=2)
    register_fakes_and_hybrid()
    return paths


def _refusal(model, frame) -> str:
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException) as raised:
        model.predict(frame)
    return str(raised.value)


def test_the_image_model_names_interestkit_media_root_and_it_works(served, monkeypatch):
    import mlflow

    from interestkit import tracking

    tracking.configure()
    photo = next(p for p in served["posts"].parent.rglob("*.png"))
    model = mlflow.pyfunc.load_model("models:/interestkit-image@champion")
    message = _refusal(model, pd.DataFrame({"image": [photo.name]}))
    assert "file paths are not accepted here" in message and "set INTERESTKIT_MEDIA_ROOT" in message
    # the inline column it names is one this model's input has (image_bytes), not the hybrid's image_b64
    assert "send the photo inline (image_bytes or a data:image/" in message and "image_b64" not in message
    monkeypatch.setenv("INTERESTKIT_MEDIA_ROOT", str(photo.parent))  # the fix the message names
    out = mlflow.pyfunc.load_model("models:/interestkit-image@champion").predict(pd.DataFrame({"image": [photo.name]}))
    assert out.notna().all(axis=None) and len(out) == 1


def test_the_hybrid_names_the_media_root_settings(served):
    import mlflow

    from interestkit import tracking

    tracking.configure()
    model = mlflow.pyfunc.load_model("models:/interestkit-hybrid@champion")
    message = _refusal(model, pd.DataFrame([{"user_id": "u", "post_id": "p", "image": "media/x.png"}]))
    for setting in ("INTERESTKIT_MEDIA_ROOT", "--media-root", "--allow-outside-paths"):
        assert setting in message, message
    assert "send the photo inline (image_b64 or a data:image/" in message  # the hybrid's input has image_b64


def test_rank_names_allow_outside_paths(served, tmp_path):
    posts = tmp_path / "posts.jsonl"
    posts.write_text('{"user_id": "u", "post_id": "p", "image": "/etc/hostname"}\n')
    result = CliRunner().invoke(cli, ["rank", "--posts", str(posts)])
    assert result.exit_code == 2 and "--allow-outside-paths" in result.output, result.output
