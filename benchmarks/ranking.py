"""Ranking throughput: users per second through interestkit, cold and warm, against bare models.

    INTERESTKIT_REGISTRY=STORE .venv/bin/python benchmarks/ranking.py [--posts FILE] [--repeats N]

Uses the champions of the store (``models:/interestkit-text@champion`` and
``models:/interestkit-image@champion``, or ``--text-model`` / ``--image-model``) on the
users of ``<data>/users/posts.jsonl`` (each user's 20 latest posts) and prints:

- *bare*: the same models on the same inputs with nothing around them: the captions'
  sentences through one Keras ``predict``, the photos decoded once (not timed) and
  passed through the full image network;
- *cold*: ``RankingPipeline.rank`` (fused, score_sum) with an empty feature cache:
  windows, decoding, hashing, encoder, head, writing the cache, fusion and ranking;
- *no cache*: the same with the cache disabled;
- *warm*: the same again with the cache the cold pass filled.

Each figure is the best of ``--repeats`` runs after one warm-up call (graph tracing is
not ranking). Asserts nothing; the results are in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench_common import best_of  # benchmarks/bench_common.py (scripts run from here)

ROOT = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=Path, default=ROOT.parent / "shared" / "data" / "users" / "posts.jsonl")
    parser.add_argument("--text-model", default="models:/interestkit-text@champion")
    parser.add_argument("--image-model", default="models:/interestkit-image@champion")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not args.posts.is_file():
        sys.exit(f"{args.posts}: posts file not found; nothing to measure")

    from interestkit.app.ranking import load_models
    from interestkit.data import text as text_utils
    from interestkit.data.images import load_images
    from interestkit.data.posts import last_n, load_posts
    from interestkit.modeling.cache import FeatureCache
    from interestkit.ranking.pipeline import RankingPipeline

    models, _ = load_models({"text": args.text_model, "image": args.image_model}, ["text", "image"],
                            log=lambda m: print(m, file=sys.stderr))
    text_model, image_model = models["text"], models["image"]
    posts, _ = last_n(load_posts(args.posts), 20)
    users = len({p.user_id for p in posts})
    captions = [p.text for p in posts if p.text is not None]
    photos = [p.image for p in posts if p.image is not None]
    print(f"{args.posts}: {users} users, {len(posts)} posts ({len(captions)} captions, {len(photos)} photos)")
    print(f"text model: {text_model.meta.get('plugin')}, image model: {image_model.meta.get('plugin')} "
          f"at {image_model.image_size} px ({'frozen' if image_model.frozen else 'trained'} encoder)")

    # bare: the models' own work, with no decoding, hashing, caching, fusion or ranking
    import tensorflow as tf

    sentences, _, _ = text_utils.explode(captions)
    order = sorted(sentences, key=len)
    text_full = text_model.full_model()
    pixels, _, _ = load_images(photos, int(image_model.image_size))
    image_full = image_model.full_model()

    def bare():
        text_full.predict(tf.constant(order)[:, None], batch_size=256, verbose=0)
        image_full.predict(pixels, batch_size=64, verbose=0)

    def ranked(cache):
        RankingPipeline(models, cache=cache).rank(posts)

    bare()  # warm-up: traces both prediction functions
    ranked(FeatureCache(enabled=False))
    rows = [("bare models (decoded photos)", best_of(args.repeats, bare))]
    with tempfile.TemporaryDirectory(prefix="ik-rank-cache-") as folder:
        # a new, empty cache folder for each cold repeat; the warm pass reuses the first
        cold = iter(Path(folder) / f"cold{i}" for i in range(args.repeats))
        rows.append(("rank, cold cache", best_of(args.repeats, lambda: ranked(FeatureCache(next(cold))))))
        rows.append(("rank, no cache", best_of(args.repeats, ranked, FeatureCache(enabled=False))))
        rows.append(("rank, warm cache", best_of(args.repeats, ranked, FeatureCache(Path(folder) / "cold0"))))
    bare_seconds = rows[0][1]
    print(f"\n{'path':<30} {'seconds':>8} {'users/s':>8} {'posts/s':>8} {'x bare':>7}")
    for name, seconds in rows:
        print(f"{name:<30} {seconds:8.2f} {users / seconds:8.1f} {len(posts) / seconds:8.1f} "
              f"{seconds / bare_seconds:7.2f}")
    decode = best_of(args.repeats, load_images, photos, int(image_model.image_size))
    print(f"\ndecoding the {len(photos)} photos alone: {decode:.2f} s")


if __name__ == "__main__":
    main()
