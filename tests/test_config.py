from pathlib import Path

import pytest

from interestkit.modeling import config
from interestkit.errors import ConfigError
from interestkit.options import validate_options

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_then_file_then_plugin_section_then_overrides():
    file_config = {"training": {"epochs": 5, "seed": 1}, "plugins": {"gru": {"training": {"epochs": 7}}}}
    resolved = config.resolve(file_config, "gru", {"training": {"seed": 9}})
    assert resolved["training"]["epochs"] == 7
    assert resolved["training"]["seed"] == 9
    assert resolved["training"]["batch_size"] == config.TRAINING_DEFAULTS["batch_size"]
    assert resolved["classifier"] == {"name": "softmax", "options": {}}


def test_unknown_top_level_key_lists_accepted():
    with pytest.raises(ConfigError, match="unknown key 'trainig'.*did you mean 'training'.*accepted"):
        config.resolve({"trainig": {}}, "gru")


def test_unknown_training_key_and_wrong_type():
    with pytest.raises(ConfigError, match="unknown option 'epoch'.*epochs"):
        config.resolve({"training": {"epoch": 3}}, "gru")
    with pytest.raises(ConfigError, match="training.epochs: expected an integer, got str 'three'"):
        config.resolve({"training": {"epochs": "three"}}, "gru")


def test_value_ranges():
    with pytest.raises(ConfigError, match="training.val_split: must be greater than 0 and less than 1, got 1.5"):
        config.resolve({"training": {"val_split": 1.5}}, "gru")
    with pytest.raises(ConfigError, match="training.learning_rate: must be greater than 0 and at most 10, got -1"):
        config.resolve({"training": {"learning_rate": -1}}, "gru")
    with pytest.raises(ConfigError, match="training.verbose: must be one of 0, 1, 2, got 7"):
        config.resolve({"training": {"verbose": 7}}, "gru")


def test_encoder_and_head_options_fail_when_the_config_is_resolved():
    """Before TensorFlow loads or a run opens: a typo or a bad value in a plugin's section."""
    with pytest.raises(ConfigError, match="encoder: gru.units: must be at least 1 and at most 4096, got 0"):
        config.resolve({"encoder": {"units": 0}}, "gru")
    with pytest.raises(ConfigError, match="classifier: softmax.dropout: must be at least 0 and less than 1, got 1.5"):
        config.resolve({"classifier": {"dropout": 1.5}}, "gru")
    with pytest.raises(ConfigError, match="'training' must be a mapping of options, got int 5"):
        config.resolve({"training": 5}, "gru")
    with pytest.raises(ConfigError, match="tracking.experiment must be a non-empty name"):
        config.resolve({"tracking": {"experiment": ""}}, "gru")


def test_plugin_sections_catch_typos_and_note_plugins_not_installed():
    with pytest.raises(ConfigError, match="plugins: 'bilstmm' is not an encoder \\(did you mean 'bilstm'"):
        config.resolve({"plugins": {"bilstmm": {"training": {"epochs": 2}}}}, "bilstm")
    resolved = config.resolve({"plugins": {"someone_elses": {"training": {"epochs": 2}}}}, "bilstm")
    assert resolved["notes"] == ["config: plugins.someone_elses: no encoder 'someone_elses' is installed, "
                                 "so its section is not used"]


def test_no_plugin_is_an_error():
    with pytest.raises(ConfigError, match="no plugin given"):
        config.resolve({}, None)


def test_encoder_options_validated_by_class():
    with pytest.raises(ConfigError, match="unknown option 'embeding_dim'.*embedding_dim"):
        validate_options({"embedding_dim": 64}, {"embeding_dim": 3}, "bilstm")


def test_yaml_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("training: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        config.load_yaml(bad)
    with pytest.raises(ConfigError, match="not found"):
        config.load_yaml(tmp_path / "missing.yaml")
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        config.load_yaml(listy)


def test_paper_config_holds_all_nine_models():
    paper = config.load_yaml(ROOT / "configs" / "paper.yaml")
    expected = {"efficientnet_b7", "resnet_v2", "inception_v3", "mobilenet_v2", "inception_resnet_v2",
                "rnn", "lstm", "gru", "bilstm"}
    assert expected <= set(paper["plugins"])
    for name in expected:
        resolved = config.resolve(paper, name)
        assert resolved["training"]["epochs"] in (30, 50)
    assert config.resolve(paper, "bilstm")["encoder"]["embedding_dim"] == 64
    assert config.resolve(paper, "gru")["encoder"]["embedding_dim"] == 128
    assert config.resolve(paper, "inception_resnet_v2")["classifier"]["options"]["dropout"] == 0.8
    assert config.resolve(paper, "efficientnet_b7")["encoder"]["image_size"] == 600


def test_paper_config_rnns_start_from_random_embeddings():
    """The paper trains its embeddings from scratch; GloVe is this project's default, not the paper's."""
    from interestkit import hooks as plugins

    paper = config.load_yaml(ROOT / "configs" / "paper.yaml")
    for name in ("rnn", "lstm", "gru", "bilstm"):
        encoder = plugins.get("encoder", name).cls(**config.resolve(paper, name)["encoder"])
        assert encoder.options["embedding_init"] == "random" and encoder.options["spatial_dropout"] == 0


def test_cpu_image_study_config():
    """Five CNNs from scratch at a CPU-sized input; Lite0 keeps its packaged weights at 224 px."""
    from interestkit import hooks as plugins

    study = config.load_yaml(ROOT / "configs" / "cpu-image-study.yaml")
    for name in ("efficientnet_b7", "resnet_v2", "inception_v3", "mobilenet_v2", "inception_resnet_v2"):
        resolved = config.resolve(study, name)
        encoder = plugins.get("encoder", name).cls(**resolved["encoder"])
        assert encoder.weights() == "none" and encoder.image_size() == 96
        assert resolved["training"]["epochs"] <= 10
    lite0 = config.resolve(study, "efficientnet_lite0")
    encoder = plugins.get("encoder", "efficientnet_lite0").cls(**lite0["encoder"])
    assert encoder.weights() == "pretrained" and encoder.image_size() == 224
    assert config.resolve(study, "inception_resnet_v2")["classifier"]["options"]["dropout"] == 0.8


def test_glove_config_is_valid_for_every_rnn():
    from interestkit import hooks as plugins

    cfg = config.load_yaml(ROOT / "configs" / "text-glove.yaml")
    for name in ("rnn", "lstm", "gru", "bilstm"):
        resolved = config.resolve(cfg, name)
        encoder = plugins.get("encoder", name).cls(**resolved["encoder"])
        assert encoder.options["embedding_init"] == "glove" and encoder.options["spatial_dropout"] == 0.3
        assert resolved["training"]["class_weight"] is False and resolved["training"]["learning_rate"] == 0.003
    minilm = cfg["plugins"]["minilm"]  # a third-party plugin: resolved where it is installed
    assert minilm["classifier"]["name"] == "mlp" and minilm["training"]["epochs"] == 30
