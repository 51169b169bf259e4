"""The shipped configs resolve: every key known, every value in bounds, the plugins installed."""

from pathlib import Path

import pytest

from interestkit import hooks
from interestkit.modeling.config import load_yaml, resolve

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_config_resolves(path):
    config = load_yaml(path)
    plugin = config.get("plugin") or "efficientnet_lite0"
    if plugin not in hooks.collect("encoder"):
        pytest.skip(f"{path.name} needs the plugin {plugin!r}, not installed here")
    resolved = resolve(config, None if config.get("plugin") else plugin, source=str(path))
    assert resolved["plugin"] == plugin


def test_recommended_recipes_name_what_they_train():
    image = resolve(load_yaml(CONFIGS[0].parent / "recommended-image.yaml"), None)
    assert image["plugin"].startswith("efficientnet_lite") and image["classifier"]["name"] == "imagenet_prior"
    text = load_yaml(CONFIGS[0].parent / "recommended-text.yaml")
    assert text["plugin"] == "minilm" and text["classifier"]["name"] == "mlp"
