"""A deterministic generator of a small, entirely SYNTHETIC workspace.

Everything this module writes is made up here, from hand-written word lists and
procedurally drawn pictures: no real caption, photo or user is used or shipped. The
project's demo and its test fixtures are built with it; real data (when present)
lives outside the project, in ``../shared/data``.

The workspace follows the project's data contracts::

    root/text/train.tsv                 label<TAB>text, one caption per row (unquoted)
    root/images/train/<Label>/<nnn>.png synthetic photos, RGB, image_size px
    root/users/posts.jsonl              user_id, post_id, text|null, image|null, created_at
    root/users/media/<post_id>.png      the users' photos (paths relative to users/)
    root/users/labels.tsv               user_id<TAB>interest<TAB>other_interests

Design, so that models learn something, but not trivially:

* captions: per-interest topical words in templates, plus shared filler words;
  ~10% of captions hold filler only (ambiguous), some mix in a word of another
  interest, some are two sentences, some carry an emoji or accented letters.
* photos: per-interest background hue + motif colour + shape type (circles,
  stripes, rings, checker...), drawn at random positions and sizes, with random
  secondary colours, a distractor shape or two, brightness jitter and pixel noise.
* label sets differ between modalities (by default the last interest has captions
  only, the second to last photos only), as in real data.
* users: one primary interest (~40% of posts, always the most frequent) and 2-3
  secondary ones; ~10% of posts lack a caption, ~10% a photo, never both. Their
  captions and photos are new draws from the same generators.

All randomness comes from ``numpy.random.default_rng`` seeded with ``seed`` and a
stable key (crc32 of a label), so the same arguments give byte-identical files,
and one interest's samples do not change when others are added.
"""

from __future__ import annotations

from .captions import DEFAULT_INTERESTS, TOPIC_WORDS, make_caption
from .pictures import make_image, style_of
from .workspace import TEXT_FORMATS, make_text_table, make_workspace

__all__ = ["DEFAULT_INTERESTS", "TEXT_FORMATS", "TOPIC_WORDS", "make_caption", "make_image", "make_text_table",
           "make_workspace", "style_of"]
