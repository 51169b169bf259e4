"""The quick-start demo as a use case: a synthetic workspace, two small models, ranked users."""

from __future__ import annotations

from pathlib import Path

from ..errors import ModelError
from ..testing.synthetic import make_workspace
from .train import run_training

#: sizes of the demo's synthetic workspace: 12 interests make top-5 a real test (random
#: guessing finds the primary interest in the top 5 for 5/12 = 42% of users), and few
#: captions per interest keep the text model clearly weaker than the image model, as in
#: the paper's Table 5.
DEMO_WORKSPACE = {
    "interests": ("Golf", "Cooking", "Pets", "Travel", "Music", "Fitness", "Art", "Vehicle",
                  "Book", "Gardening", "Dance", "Camping"),
    "captions_per_interest": 30,
    "images_per_interest": 12,
    "users": 36,
    "posts_per_user": 20,
    "image_size": 64,
    "seed": 0,
}
DEMO_TEXT = ("gru", {"encoder": {"embedding_dim": 32, "units": 32},
                     "training": {"epochs": 8, "batch_size": 32}})
DEMO_IMAGE = ("efficientnet_lite0", {"encoder": {"image_size": 64},
                                     "training": {"epochs": 25, "batch_size": 32}})


def write_workspace(directory) -> dict:
    """The demo's synthetic data under ``directory``; returns its paths."""
    return make_workspace(Path(directory), **DEMO_WORKSPACE)


def train_demo_model(data, plugin, overrides, log) -> tuple[str, dict]:
    """Train one demo model; returns its exact version URI (not @champion, which may be older)."""
    overrides = {**overrides, "training": {**overrides["training"], "verbose": 2}}
    summary = run_training(str(data), plugin, overrides=overrides, log=log)
    if not summary.get("version"):
        raise ModelError(f"the demo's {plugin} model was not registered")
    return f"models:/{summary['registered_model']}/{summary['version']}", summary
