"""The bad-input corpus: one row per mistake a user can make, for tests/test_bad_inputs.py.

A row is ``(command, case id, arguments, files, culprit)``. ``files`` maps a path in the
case's own folder to its content: text, bytes, ``PNG`` (a valid photo), ``link(target)``
(a symbolic link) or ``FOLDER``. In arguments, ``{case}`` is that folder and ``{ws}`` the
shared valid workspace (captions.tsv, photos/, posts.jsonl, labels.tsv, ads.yaml,
text-model/, image-model/). Every row must exit with 2 and one ``Error:`` line on stderr
that contains ``culprit``.
"""

PNG = object()
FOLDER = object()


def link(target):
    return ("link", target)


MODELS = ["--text-model", "{ws}/text-model", "--image-model", "{ws}/image-model"]
TRAIN = ["train", "--plugin", "gru", "--data", "{ws}/captions.tsv"]
PHOTOS = ["train", "--plugin", "efficientnet_lite0", "--data"]
RANK = ["rank", "--posts", "{ws}/posts.jsonl", *MODELS]
RECOMMEND = ["recommend", "--posts", "{ws}/posts.jsonl", *MODELS, "--ads"]
EVALUATE = ["evaluate", "--posts", "{ws}/posts.jsonl", *MODELS, "--strict", "--labels"]
FIT = ["fusion", "fit", "--posts", "{ws}/posts.jsonl", *MODELS, "--strict", "--labels"]
HYBRID = ["models", "build-hybrid", *MODELS]
GOOD_POST = '{"user_id": "u1", "post_id": "p1", "text": "birdie on the fairway"}\n'
LATIN1 = "label,text\nGolf,birdie\nGolf,par\nPets,caf\xe9 with my dog\nPets,kitten\n".encode("latin-1")


def config(yaml_text, *extra, plugin="gru"):
    """A train row's arguments and files for a config file holding ``yaml_text``."""
    return ["train", "--plugin", plugin, "--data", "{ws}/captions.tsv", "--config", "{case}/bad.yaml", *extra], \
        {"bad.yaml": yaml_text}


def cfg(case, yaml_text, culprit, plugin="gru"):
    args, files = config(yaml_text, plugin=plugin)
    return ("train-config", case, args, files, culprit)


def captions(case, name, content, culprit):
    return ("train-captions", case, ["train", "--plugin", "gru", "--data", "{case}/" + name], {name: content}, culprit)


def photos(case, files, culprit, *extra):
    return ("train-photos", case, [*PHOTOS, "{case}/photos", *extra], files, culprit)


def ok(label, count=2):
    return {f"photos/{label}/{i}.png": PNG for i in range(count)}


def posts(case, content, culprit, *extra):
    return ("rank", case, ["rank", "--posts", "{case}/posts.jsonl", *MODELS, *extra], {"posts.jsonl": content}, culprit)


def ads(case, name, content, culprit):
    return ("recommend", case, [*RECOMMEND, "{case}/" + name], {name: content}, culprit)


def labels(case, content, culprit, command="evaluate"):
    base = EVALUATE if command == "evaluate" else FIT
    return (command, case, [*base, "{case}/labels.tsv"], {"labels.tsv": content}, culprit)


ROWS = [
    # --- train: configs (every value checked when the config is resolved) -----------
    cfg("units-0", "encoder: {units: 0}", "units"),
    cfg("embedding-dim-negative", "encoder: {embedding_dim: -3}", "embedding_dim"),
    cfg("vocab-size-1", "encoder: {vocab_size: 1}", "vocab_size"),
    cfg("dropout-1.5", "classifier: {dropout: 1.5}", "dropout"),
    cfg("sequence-length-0", "encoder: {sequence_length: 0}", "sequence_length"),
    cfg("seed-negative", "training: {seed: -1}", "seed"),
    cfg("training-a-number", "training: 5", "training"),
    cfg("experiment-empty", "tracking: {experiment: ''}", "experiment"),
    cfg("learning-rate-0", "training: {learning_rate: 0}", "learning_rate"),
    cfg("learning-rate-negative", "training: {learning_rate: -0.5}", "learning_rate"),
    cfg("learning-rate-nan", "training: {learning_rate: .nan}", "learning_rate"),
    cfg("learning-rate-inf", "training: {learning_rate: .inf}", "learning_rate"),
    cfg("patience-negative", "training: {patience: -1}", "patience"),
    cfg("max-rows-negative", "training: {max_rows: -5}", "max_rows"),
    cfg("fine-tune-negative", "training: {fine_tune: -2}", "fine_tune"),
    cfg("verbose-7", "training: {verbose: 7}", "verbose"),
    cfg("plugin-section-typo", "plugins: {bilstmm: {training: {epochs: 2}}}", "bilstmm"),
    cfg("top-key-typo", "trainig: {epochs: 1}", "trainig"),
    cfg("training-key-typo", "training: {epoch: 3}", "epoch"),
    cfg("epochs-text", "training: {epochs: three}", "epochs"),
    cfg("epochs-float", "training: {epochs: 2.5}", "epochs"),
    cfg("epochs-0", "training: {epochs: 0}", "epochs"),
    cfg("val-split-1.5", "training: {val_split: 1.5}", "val_split"),
    cfg("val-split-0", "training: {val_split: 0}", "val_split"),
    cfg("batch-size-0", "training: {batch_size: 0}", "batch_size"),
    cfg("class-weight-text", "training: {class_weight: maybe}", "class_weight"),
    cfg("head-unknown", "classifier: {name: softmaxx}", "softmaxx"),
    cfg("head-name-a-list", "classifier: {name: [mlp]}", "classifier.name"),
    cfg("mlp-hidden-0", "classifier: {name: mlp, hidden: 0}", "hidden"),
    cfg("embedding-init-typo", "encoder: {embedding_init: glov}", "embedding_init"),
    cfg("spatial-dropout-1", "encoder: {spatial_dropout: 1}", "spatial_dropout"),
    cfg("encoder-option-unknown", "encoder: {layers: 3}", "layers"),
    cfg("units-huge", "encoder: {units: 100000}", "units"),
    cfg("encoder-a-number", "encoder: 5", "encoder"),
    cfg("option-in-wrong-section", "training: {units: 4}", "units"),
    cfg("plugin-a-number", "plugin: 5", "plugin"),
    cfg("plugins-a-list", "plugins: [gru, lstm]", "plugins"),
    cfg("plugin-section-key-typo", "plugins: {gru: {trainig: {epochs: 1}}}", "trainig"),
    cfg("other-plugin-section-bad", "plugins: {lstm: {encoder: {units: 0}}}", "plugins.lstm"),
    cfg("registered-model-blank", "tracking: {registered_model: '  '}", "registered_model"),
    cfg("register-text", "tracking: {register: nope}", "register"),
    cfg("experiment-two-lines", 'tracking: {experiment: "a\\nb"}', "experiment"),
    cfg("yaml-syntax", "training: [unclosed\n", "bad.yaml"),
    cfg("yaml-a-list", "- epochs\n- 3\n", "bad.yaml"),
    cfg("yaml-latin1", "tracking: {experiment: caf\xe9}\n".encode("latin-1"), "bad.yaml"),
    cfg("yaml-duplicate-key", "training: {epochs: 1}\nencoder: {units: 8}\ntraining:\n  epochs: 2\n",
        "bad.yaml:3: key 'training' appears twice"),
    cfg("yaml-duplicate-nested-key", "training:\n  epochs: 1\n  epochs: 2\n", "bad.yaml:3: key 'epochs' appears twice"),
    cfg("image-size-small", "encoder: {image_size: 8}", "image_size", plugin="efficientnet_lite0"),
    cfg("crop-1", "encoder: {crop: 1.0}", "crop", plugin="mobilenet_v2"),
    cfg("weights-file-missing", "encoder: {weights: missing.h5}", "missing.h5", plugin="mobilenet_v2"),
    ("train-config", "config-missing", [*TRAIN, "--config", "{case}/missing.yaml"], {}, "missing.yaml"),
    ("train-config", "config-a-folder", [*TRAIN, "--config", "{case}/configs"], {"configs": FOLDER}, "configs"),
    ("train-config", "cache-dir-a-file", [*TRAIN, "--config", "{case}/bad.yaml"],
     {"bad.yaml": "training: {cache_dir: '{case}/cache'}", "cache": "a file"}, "cache_dir"),
    # --- train: flags (the same rules, the error names the flag) ----------------------
    ("train-flags", "seed-negative", [*TRAIN, "--seed", "-1"], {}, "--seed"),
    ("train-flags", "epochs-0", [*TRAIN, "--epochs", "0"], {}, "--epochs"),
    ("train-flags", "batch-size-0", [*TRAIN, "--batch-size", "0"], {}, "--batch-size"),
    ("train-flags", "val-split-1", [*TRAIN, "--val-split", "1"], {}, "--val-split"),
    ("train-flags", "max-rows-negative", [*TRAIN, "--max-rows", "-5"], {}, "--max-rows"),
    ("train-flags", "fine-tune-negative", [*TRAIN, "--fine-tune", "-2"], {}, "--fine-tune"),
    ("train-flags", "experiment-empty", [*TRAIN, "--experiment", ""], {}, "--experiment"),
    ("train-flags", "registered-model-blank", [*TRAIN, "--registered-model", " "], {}, "--registered-model"),
    ("train-flags", "image-size-8", [*PHOTOS, "{ws}/photos", "--image-size", "8"], {}, "--image-size"),
    ("train-flags", "image-size-on-text", [*TRAIN, "--image-size", "64"], {}, "image_size"),
    ("train-flags", "weights-missing", [*PHOTOS, "{ws}/photos", "--weights", "nowhere.h5"], {}, "nowhere.h5"),
    ("train-flags", "set-units-0", [*TRAIN, "--set", "encoder.units=0"], {}, "--set encoder.units"),
    ("train-flags", "set-seed-negative", [*TRAIN, "--set", "training.seed=-1"], {}, "training.seed"),
    ("train-flags", "set-malformed", [*TRAIN, "--set", "units=3"], {}, "--set"),
    ("train-flags", "set-unknown-key", [*TRAIN, "--set", "training.epochz=3"], {}, "epochz"),
    ("train-flags", "set-head-unknown", [*TRAIN, "--set", "classifier.name=nope"], {}, "nope"),
    ("train-flags", "plugin-typo", ["train", "--plugin", "bilstn", "--data", "{ws}/captions.tsv"], {}, "bilstn"),
    ("train-flags", "plugin-is-a-head", ["train", "--plugin", "softmax", "--data", "{ws}/captions.tsv"], {},
     "softmax"),
    ("train-flags", "no-plugin", ["train", "--data", "{ws}/captions.tsv"], {}, "plugin"),
    # --- train: caption tables -------------------------------------------------------
    ("train-captions", "missing", ["train", "--plugin", "gru", "--data", "{case}/nope.tsv"], {}, "nope.tsv"),
    ("train-captions", "a-folder-for-text", ["train", "--plugin", "gru", "--data", "{ws}/photos"], {}, "photos"),
    captions("empty", "c.tsv", "", "c.tsv"),
    captions("header-only", "c.tsv", "label\ttext\n", "c.tsv"),
    captions("column-missing", "c.tsv", "label\tcaption\nGolf\tx\n", "'text'"),
    captions("field-count", "c.tsv", "label\ttext\nGolf\tx\nGolf\ty\tz\nPets\ta\nPets\tb\n", "c.tsv:3"),
    captions("stray-quote", "c.csv", "label,text\n" + "Golf,par\n" * 4 + 'Golf,"stray quote\n' + "Pets,dog\n" * 14
             + 'Pets,a "b" c\n', "c.csv:6"),
    captions("unclosed-quote-at-end", "c.csv", 'label,text\nGolf,par\nGolf,"open\nPets,dog\n', "c.csv:3"),
    captions("latin1", "c.csv", LATIN1, "c.csv:4"),
    captions("json-array", "c.jsonl", '[\n  {"label": "Golf", "text": "par"},\n  {"label": "Pets", "text": "dog"}\n]\n',
             "one JSON object per line"),
    captions("json-array-one-line", "c.jsonl", '[{"label": "Golf", "text": "par"}]\n', "one JSON object per line"),
    captions("pretty-object", "c.jsonl", '{\n  "label": "Golf",\n  "text": "par"\n}\n', "one JSON object per line"),
    captions("jsonl-bad-line", "c.jsonl", '{"label": "Golf", "text": "a"}\n{"label": "Golf", "text": \n', "c.jsonl:2"),
    captions("jsonl-label-number", "c.jsonl", '{"label": 3, "text": "a"}\n', "label"),
    captions("one-label", "c.tsv", "label\ttext\nGolf\tpar\nGolf\tbirdie\n", "only one label"),
    captions("label-with-one", "c.tsv", "label\ttext\nGolf\tpar\nGolf\tbirdie\nPets\tdog\n", "'Pets'"),
    captions("case-duplicates", "c.tsv", "label\ttext\nGolf\tpar\nGolf\ttee\ngolf\tbirdie\ngolf\tgreen\n",
             "'Golf' and 'golf'"),
    captions("no-words", "c.tsv", "label\ttext\nGolf\tpar\nGolf\ttee\nPets\t!!!\nPets\t...\n", "'Pets'"),
    captions("empty-text", "c.tsv", "label\ttext\nGolf\t \nPets\tdog\n", "c.tsv:2"),
    captions("txt-extension", "c.txt", "label\ttext\nGolf\tpar\n", ".txt"),
    ("train-captions", "symlink-loop", ["train", "--plugin", "gru", "--data", "{case}/a.tsv"],
     {"a.tsv": link("b.tsv"), "b.tsv": link("a.tsv")}, "symbolic link loop"),
    ("train-captions", "broken-symlink", ["train", "--plugin", "gru", "--data", "{case}/a.tsv"],
     {"a.tsv": link("gone.tsv")}, "missing file"),
    ("train-captions", "table-is-a-folder", ["train", "--plugin", "gru", "--data", "{case}/c.tsv"],
     {"c.tsv": FOLDER}, "c.tsv"),
    # --- train: photos (decoded before anything trains) ------------------------------
    photos("label-all-empty-files", {**ok("Golf"), **{f"photos/Pets/{i}.jpg": b"" for i in range(5)}}, "'Pets'"),
    photos("label-one-readable", {**ok("Golf"), "photos/Pets/a.png": PNG, "photos/Pets/b.jpg": b"not a jpeg"},
           "'Pets'"),
    photos("label-names-failed-file", {**ok("Golf"), "photos/Pets/a.png": PNG, "photos/Pets/broken.jpg": b"\xff\xd8"},
           "broken.jpg"),
    photos("symlink-loop", {**ok("Golf"), "photos/Pets/a.png": PNG, "photos/Pets/x.jpg": link("y.jpg"),
                            "photos/Pets/y.jpg": link("x.jpg")}, "symbolic link loop"),
    photos("no-sub-folders", {"photos/a.png": PNG}, "no label sub-folders"),
    photos("no-images", {"photos/Golf/notes.txt": "x", "photos/Pets/notes.txt": "y"}, "no images"),
    photos("case-duplicates", {**ok("Golf"), **ok("golf")}, "'Golf' and 'golf'"),
    photos("one-label", ok("Golf", 3), "only one label"),
    photos("garbage-named-png", {**ok("Golf"), "photos/Pets/a.png": PNG, "photos/Pets/b.png": b"GIF89a-but-not"},
           "b.png"),
    photos("strict-bad-photo", {**ok("Golf"), **ok("Pets"), "photos/Pets/bad.jpg": b"junk"}, "bad.jpg", "--strict"),
    ("train-photos", "table-image-missing", [*PHOTOS, "{case}/p.tsv"],
     {"p.tsv": "label\timage\nGolf\ta.png\nGolf\tb.png\n", "a.png": PNG}, "p.tsv:3"),
    ("train-photos", "table-absolute-path", [*PHOTOS, "{case}/p.tsv"],
     {"p.tsv": "label\timage\nGolf\t/etc/passwd\n"}, "p.tsv:2"),
    ("train-photos", "table-dotdot", [*PHOTOS, "{case}/p.tsv"], {"p.tsv": "label\timage\nGolf\t../x.png\n"}, "p.tsv:2"),
    ("train-photos", "table-image-a-folder", [*PHOTOS, "{case}/p.tsv"],
     {"p.tsv": "label\timage\nGolf\tsub\n", "sub": FOLDER}, "a folder"),
    ("train-photos", "table-image-loop", [*PHOTOS, "{case}/p.tsv"],
     {"p.tsv": "label\timage\nGolf\ta.png\n", "a.png": link("b.png"), "b.png": link("a.png")}, "symbolic link loop"),
    ("train-photos", "text-plugin-on-photos", ["train", "--plugin", "gru", "--data", "{ws}/photos"], {}, "gru"),
    ("train-photos", "image-plugin-on-captions", [*PHOTOS, "{ws}/captions.tsv"], {}, "efficientnet_lite0"),
]
