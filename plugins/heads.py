"""Built-in classifier heads."""

from interestkit import Option, hookimpl
from interestkit.interfaces import Classifier

DROPOUT = Option(0.5, min=0, lt=1, help="fraction of features dropped while training")


class SoftmaxClassifier(Classifier):
    """Dropout then a dense softmax layer: the paper's head for every CNN and RNN."""

    description = "dropout + dense softmax (the paper's head)"
    defaults = {"dropout": DROPOUT}
    search_space = {"dropout": {"low": 0.0, "high": 0.7}}  # what `interestkit tune` searches

    def build(self, feature_dim, num_labels):
        import keras

        inputs = keras.Input(shape=(feature_dim,), name="features")
        x = keras.layers.Dropout(self.options["dropout"], name="head_dropout")(inputs)
        outputs = keras.layers.Dense(num_labels, activation="softmax", name="head_softmax")(x)
        return keras.Model(inputs, outputs, name="softmax_head")


class MLPClassifier(Classifier):
    """Dropout, a dense ReLU layer, dropout, then softmax: a head for rich frozen features."""

    description = "dropout + dense ReLU + dropout + dense softmax (for frozen sentence embeddings)"
    defaults = {"hidden": Option(512, min=1, max=65_536), "dropout": DROPOUT, "input_dropout": Option(0.1, min=0, lt=1)}
    search_space = {"hidden": {"low": 128, "high": 1024, "log": True}, "dropout": {"low": 0.1, "high": 0.7},
                    "input_dropout": {"low": 0.0, "high": 0.3}}

    def build(self, feature_dim, num_labels):
        import keras

        o = self.options
        inputs = keras.Input(shape=(feature_dim,), name="features")
        x = keras.layers.Dropout(o["input_dropout"], name="head_input_dropout")(inputs)
        x = keras.layers.Dense(o["hidden"], activation="relu", name="head_hidden")(x)
        x = keras.layers.Dropout(o["dropout"], name="head_dropout")(x)
        outputs = keras.layers.Dense(num_labels, activation="softmax", name="head_softmax")(x)
        return keras.Model(inputs, outputs, name="mlp_head")


@hookimpl
def register_classifiers(register):
    register("softmax", SoftmaxClassifier)
    register("mlp", MLPClassifier)
