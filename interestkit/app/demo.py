"""The quick-start demo as a use case: a synthetic workspace, two small models, ranked users."""

from __future__ import annotations

from pathlib import Path

from ..errors import ModelError
from ..testing.synthetic import make_workspace
from .train import run_training

#: sizes of the demo's synthetic workspace: 12 interests make top-5 a real test (random
#: guessing finds the primary interest in the top 5 for 5/12 = 42% of users). 150 captions
#: per interest let the caption model see most of each interest's words (they follow a Zipf
#: law, so with 30 a third of the validation captions hold words never seen in training).
DEMO_WORKSPACE = {
    "interests": ("Golf", "Cooking", "Pets", "Travel", "Music", "Fitness", "Art", "Vehicle",
                  "Book", "Gardening", "Dance", "Camping"),
    "captions_per_interest": 150,
    "images_per_interest": 12,
    "users": 36,
    "posts_per_user": 20,
    "image_size": 64,
    "seed": 0,
}
#: the caption model: TF-IDF over words and word pairs with a linear softmax head, which
#: learns topical words from a few hundred captions in seconds
DEMO_TEXT = ("tfidf", {"training": {"epochs": 30, "batch_size": 32, "learning_rate": 0.01}})
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
