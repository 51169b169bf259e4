"""Real captions: a group split holds whole subreddits out, and tfidf generalises to them."""

import pytest

from conftest import require_shared
from interestkit import hooks
from interestkit.data.datasets import load_text_dataset
from interestkit.data.splits import stratified_sample
from interestkit.modeling.config import TRAINING_DEFAULTS
from interestkit.modeling.train import train


@pytest.mark.realdata
def test_tfidf_on_subreddits_it_never_saw():
    data = require_shared("text", "train.tsv")
    dataset = load_text_dataset(data, "source")
    dataset = dataset.subset(stratified_sample(dataset.labels, 3000, 42))
    options = {**TRAINING_DEFAULTS, "val_group": "source", "epochs": 4, "verbose": 0, "learning_rate": 0.01}
    encoder = hooks.get("encoder", "tfidf").cls(max_tokens=10000)
    result = train(encoder, hooks.get("classifier", "softmax").cls(), dataset, options, log=lambda m: None)
    held = set(result.split["held_out"])
    assert len(held) == 18  # one subreddit of each of the 18 interests that have several
    sources_of = {}
    for label, group in zip(dataset.labels, dataset.groups):
        sources_of.setdefault(label, set()).add(group)
    assert all(len(sources_of[label] - held) >= 1 for label in sources_of)  # every interest still trains
    # 34 interests: chance is about 0.03 (3,000 captions: far below what all of them reach)
    assert result.metrics["val_group_accuracy"] > 0.1
