"""Small batches go through a compiled call of the Keras model; it must give what ``Model.predict`` gives."""

import io

import numpy as np
import pytest
from PIL import Image

import interestkit.modeling.model as model_module
from interestkit.modeling.model import InterestModel


@pytest.mark.slow
def test_the_compiled_small_batch_path_equals_predict(monkeypatch):
    import keras

    labels = ["Cooking", "Golf", "Pets"]
    vectorizer = keras.layers.TextVectorization(max_tokens=50, output_sequence_length=6)
    vectorizer.adapt(["golf swing birdie", "a puppy and a dog", "pasta with garlic"])
    words = keras.Input(shape=(1,), dtype="string")
    encoder = keras.Model(words, keras.layers.GlobalAveragePooling1D()(
        keras.layers.Embedding(50, 8)(vectorizer(keras.ops.squeeze(words, -1)))))
    head = keras.Sequential([keras.Input((8,)), keras.layers.Dense(3, activation="softmax")])
    text = InterestModel("text", labels, encoder, head, {"temperature": 1.5})
    pixels = keras.Input(shape=(8, 8, 3))
    image_encoder = keras.Model(pixels, keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(pixels)))
    image_head = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    image = InterestModel("image", labels, image_encoder, image_head, {"image_size": 8})
    photos = []
    for colour in [(200, 10, 10), (10, 200, 10), (30, 30, 220)]:
        buffer = io.BytesIO()
        Image.new("RGB", (20, 12), colour).save(buffer, "PNG")
        photos.append(buffer.getvalue())
    captions = ["Golf swing. A birdie!", "my puppy", "pasta", "golf dog garlic and more"]

    fast_text, (fast_image, kept, _) = text.predict_texts(captions), image.predict_images(photos)
    assert len(text._compiled) == 1 and len(image._compiled) == 1  # the compiled path ran
    monkeypatch.setattr(model_module, "SMALL_BATCH", 0)  # everything through Model.predict
    slow_text, (slow_image, _, _) = text.predict_texts(captions), image.predict_images(photos)
    np.testing.assert_allclose(fast_text, slow_text, atol=1e-6)
    np.testing.assert_allclose(fast_image, slow_image, atol=1e-6)
    assert kept == [0, 1, 2]
    one = text.predict_texts(captions[:1])  # any batch size, one trace
    np.testing.assert_allclose(one, slow_text[:1], atol=1e-6)
