"""Built-in ``tfidf`` text encoder: word 1-2-gram TF-IDF, the classic caption baseline.

Keras ``TextVectorization`` with ``ngrams=2`` and ``output_mode="tf_idf"``, adapted on the
training captions (vocabulary and inverse document frequencies); n-grams outside the
vocabulary are ignored, and the vector is optionally scaled to unit length (``normalize``, as scikit-learn's ``TfidfVectorizer`` does). With the
default ``softmax`` head (dropout + one dense softmax layer) the whole model is a linear
classifier over TF-IDF features: a fast, strong baseline and a cheap ensemble member.
Built-in Keras layers only, so a saved model loads without this module.
"""

from __future__ import annotations

from interestkit import Option, hookimpl
from interestkit.interfaces import Encoder


class TfidfEncoder(Encoder):
    """Captions -> TF-IDF over word 1- and 2-grams (``max_tokens`` most frequent)."""

    modality = "text"
    description = "TF-IDF over word 1-2-grams (Keras TextVectorization); with the softmax head a linear model"
    defaults = {
        "max_tokens": Option(50000, min=3, help="vocabulary: the most frequent 1- and 2-grams"),
        "ngrams": Option(2, min=1, max=3, help="longest n-gram (2: words and word pairs)"),
        "normalize": Option(True, help="scale each caption's vector to unit length"),
        "scale": Option(10.0, gt=0, help="multiplies the unit vector, so logits start in a useful range"),
    }

    def build(self, train_inputs=None):
        import keras

        o = self.options
        vectorizer = keras.layers.TextVectorization(max_tokens=o["max_tokens"], ngrams=o["ngrams"],
                                                    output_mode="tf_idf", name="tfidf")
        vectorizer.adapt(list(train_inputs))
        inputs = keras.Input(shape=(1,), dtype="string", name="text")
        # A (batch, 1) string input gives (batch, [1,] vocabulary). Column 0 counts the n-grams
        # outside the vocabulary (weighted by the mean idf): on captions from new sources most
        # word pairs are, and that column would swamp the rest once scaled to unit length.
        # It is cropped off, so unknown n-grams are ignored as scikit-learn's TfidfVectorizer does.
        size = vectorizer.vocabulary_size()
        x = keras.layers.Reshape((size, 1), name="features_first")(vectorizer(inputs))
        x = keras.layers.Cropping1D((1, 0), name="drop_unknown")(x)
        x = keras.layers.Reshape((size - 1,), name="flatten")(x)
        if o["normalize"]:
            x = keras.layers.UnitNormalization(name="unit_length")(x)
            x = keras.layers.Rescaling(o["scale"], name="scale")(x)
        return keras.Model(inputs, x, name="tfidf_encoder")


@hookimpl
def register_encoders(register):
    register("tfidf", TfidfEncoder)
