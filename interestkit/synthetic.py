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

import colorsys
import csv
import json
import math
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .errors import ConfigError
from .taxonomy import INTERESTS

#: the interests of the default workspace (all from the taxonomy)
DEFAULT_INTERESTS = ("Golf", "Cooking", "Pets", "Travel", "Music", "Fitness", "Art", "Vehicle")

TEXT_FORMATS = ("tsv", "csv", "jsonl")

# --------------------------------------------------------------------------- words

#: topical words per interest (hand-written; a few deliberately shared across topics)
TOPIC_WORDS = {
    "Golf": ["golf", "birdie", "fairway", "putter", "driver", "caddie", "eagle", "bogey",
             "green", "tee time", "par five", "swing", "clubhouse", "handicap", "sand trap",
             "golf ball", "back nine", "hole in one", "the links", "chip shot", "golf cart"],
    "Cooking": ["recipe", "pasta", "sauce", "oven", "skillet", "kitchen", "garlic", "risotto",
                "homemade bread", "spices", "simmering", "chef knife", "dinner", "baking",
                "crème brûlée", "jalapeño", "roast chicken", "cast iron", "sourdough", "dough"],
    "Pets": ["puppy", "kitten", "dog", "cat", "vet", "leash", "adopted", "rescue", "treats",
             "belly rubs", "paws", "tail wags", "doggo", "good boy", "litter box", "hamster",
             "fetch", "dog park", "parrot", "whiskers"],
    "Travel": ["flight", "passport", "airport", "beach", "hostel", "backpacking", "road trip",
               "suitcase", "Zürich", "São Paulo", "sightseeing", "itinerary", "layover",
               "boarding pass", "hotel", "wanderlust", "old town", "ferry", "Málaga", "jet lag"],
    "Music": ["guitar", "concert", "album", "vinyl", "drums", "playlist", "bass line", "chorus",
              "gig", "band", "piano", "song", "setlist", "headphones", "festival", "riff",
              "mixtape", "synth", "encore", "Beyoncé"],
    "Fitness": ["gym", "workout", "squats", "deadlift", "protein", "cardio", "reps", "leg day",
                "personal best", "treadmill", "dumbbells", "kettlebell", "burpees", "abs",
                "bench press", "stretching", "HIIT", "gains", "pull-ups", "rest day"],
    "Art": ["painting", "canvas", "sketch", "watercolor", "easel", "gallery", "brushes",
            "portrait", "acrylic", "charcoal", "museum", "mural", "oil paint", "palette",
            "still life", "exhibition", "doodle", "naïve art", "sculpture", "linocut"],
    "Vehicle": ["car", "engine", "truck", "horsepower", "turbo", "tires", "garage", "sedan",
                "pickup", "exhaust", "road", "V8", "oil change", "dashboard", "mileage",
                "test drive", "convertible", "motorbike", "gearbox", "hatchback"],
    "Dance": ["dance", "choreo", "ballet", "salsa", "hip hop", "recital", "pirouette",
              "tango", "studio", "dance crew", "breakdance", "freestyle", "rehearsal",
              "tap shoes", "waltz", "dance floor"],
    "AI": ["neural network", "machine learning", "dataset", "model", "GPU", "chatbot",
           "training run", "transformer", "deep learning", "robot", "algorithm",
           "inference", "benchmark", "embeddings", "prompt", "accuracy"],
    "Comics": ["comic book", "superhero", "manga", "graphic novel", "villain", "issue",
               "panel", "inking", "Batman", "cosplay", "anthology", "webcomic", "sidekick",
               "origin story", "comic con", "crossover"],
    "Smartphone": ["phone", "smartphone", "screen", "battery", "Android", "iPhone",
                   "camera bump", "charger", "case", "apps", "notch", "update",
                   "unboxing", "cracked screen", "flagship", "5G"],
    "Nutrition": ["calories", "vitamins", "macros", "fiber", "meal prep", "diet",
                  "nutrients", "salad", "smoothie", "whole grains", "protein shake",
                  "sugar free", "vegan", "supplements", "portion", "healthy eating"],
    "Camping": ["tent", "campfire", "sleeping bag", "trail", "marshmallows", "camp stove",
                "hiking", "backcountry", "lantern", "campsite", "s'mores", "canoe",
                "forest", "stargazing", "hammock", "firewood"],
    "Clothes": ["outfit", "jacket", "sneakers", "dress", "jeans", "hoodie", "wardrobe",
                "thrifted", "fashion", "scarf", "boots", "streetwear", "blazer", "tailor",
                "lookbook", "denim"],
    "Hair": ["haircut", "hairstyle", "braids", "curls", "bangs", "salon", "shampoo",
             "hair dye", "balayage", "undercut", "barber", "fade", "ponytail", "conditioner",
             "blowout", "perm"],
    "Gardening": ["garden", "seedlings", "tomatoes", "compost", "raised bed", "tulips",
                  "roses", "pruning", "soil", "greenhouse", "watering can", "weeds",
                  "succulents", "harvest", "flower bed", "mulch"],
    "Fishing": ["fishing", "trout", "bass", "lure", "rod", "reel", "tackle box", "fly fishing",
                "catch", "bait", "pier", "salmon", "boat", "casting", "hooked", "lake"],
    "Hunting": ["hunting", "deer", "rifle", "bow", "tree stand", "elk", "camo", "decoys",
                "duck season", "antlers", "blind", "scope", "trail cam", "venison",
                "turkey call", "game bag"],
    "Baseball": ["baseball", "home run", "pitcher", "inning", "batting", "glove", "dugout",
                 "shortstop", "strikeout", "ballpark", "World Series", "bullpen", "bat",
                 "double play", "catcher", "ball"],
    "Book": ["book", "novel", "chapter", "paperback", "library", "reading", "author",
             "bookshelf", "hardcover", "book club", "fantasy series", "bookmark",
             "page turner", "memoir", "poetry", "used bookstore"],
    "Laptop": ["laptop", "keyboard", "trackpad", "ultrabook", "RAM", "SSD", "charger",
               "MacBook", "ThinkPad", "screen", "battery life", "hinge", "ports",
               "gaming laptop", "docking station", "webcam"],
    "Basketball": ["basketball", "dunk", "three pointer", "hoop", "rebound", "NBA", "court",
                   "layup", "free throw", "buzzer beater", "crossover", "point guard",
                   "jump shot", "playoffs", "slam", "ball"],
    "Skincare": ["skincare", "moisturizer", "serum", "sunscreen", "cleanser", "retinol",
                 "toner", "face mask", "acne", "glow", "exfoliate", "SPF", "routine",
                 "hyaluronic", "pores", "night cream"],
    "Spa": ["spa", "massage", "sauna", "facial", "hot stones", "steam room", "aromatherapy",
            "robe", "relaxation", "jacuzzi", "pedicure", "manicure", "wellness",
            "mud bath", "hammam", "essential oils"],
    "Renovation": ["renovation", "drywall", "tiles", "demolition", "paint roller",
                   "flooring", "contractor", "remodel", "cabinets", "grout", "before and after",
                   "kitchen remodel", "sanding", "hardwood", "DIY", "power drill"],
    "Furniture": ["sofa", "armchair", "dining table", "bookcase", "dresser", "coffee table",
                  "mid-century", "upholstery", "IKEA", "nightstand", "wardrobe", "recliner",
                  "bed frame", "stool", "sectional", "oak"],
    "Ski": ["skiing", "slopes", "powder", "chairlift", "snowboard", "ski boots", "moguls",
            "après-ski", "black diamond", "gondola", "goggles", "fresh snow", "ski resort",
            "backcountry", "carving", "avalanche"],
    "Disability": ["wheelchair", "accessibility", "ramp", "prosthetic", "sign language",
                   "paralympics", "braille", "service dog", "adaptive sports", "inclusion",
                   "hearing aid", "mobility", "disability", "caregiver", "crutches", "access"],
    "Football": ["football", "touchdown", "quarterback", "end zone", "tailgate", "NFL",
                 "field goal", "linebacker", "kickoff", "helmet", "Super Bowl", "huddle",
                 "interception", "punt", "first down", "ball"],
    "Electronics": ["soldering", "circuit", "Arduino", "resistor", "breadboard", "LED",
                    "oscilloscope", "PCB", "Raspberry Pi", "amplifier", "capacitor", "wiring",
                    "multimeter", "speaker", "transistor", "firmware"],
    "Movie": ["movie", "film", "cinema", "trailer", "director", "sequel", "popcorn",
              "box office", "screenplay", "Oscar", "premiere", "blockbuster", "horror film",
              "cast", "plot twist", "IMAX"],
    "Tattoo": ["tattoo", "ink", "sleeve", "tattoo artist", "flash", "linework", "stencil",
               "piercing", "healing", "fine line", "blackwork", "traditional", "needle",
               "first tattoo", "touch up", "shading"],
    "Food": ["pizza", "burger", "tacos", "ramen", "sushi", "brunch", "dessert", "food truck",
             "street food", "restaurant", "fries", "pancakes", "ice cream", "donuts",
             "foodie", "burrito"],
    "Swim": ["swimming", "pool", "laps", "freestyle", "backstroke", "goggles", "swim meet",
             "butterfly", "lifeguard", "open water", "diving", "swim cap", "breaststroke",
             "lane", "relay", "wetsuit"],
    "Jewelry": ["necklace", "ring", "earrings", "bracelet", "pendant", "gold", "silver",
                "diamond", "gemstone", "engagement ring", "charm", "beads", "jeweler",
                "pearls", "handmade jewelry", "anklet"],
}
assert set(TOPIC_WORDS) == set(INTERESTS)

#: words that say nothing about the interest (shared by all): people and times
FILLER_PEOPLE = ["my friends", "the family", "my brother", "my sister", "the crew", "everyone",
                 "the neighbours", "my partner", "my mom", "my dad", "the kids", "my roommate"]
FILLER_TIMES = ["today", "this weekend", "last night", "this morning", "again", "after work",
                "on Sunday", "all day", "yesterday", "at last"]

#: half-topical words shared by many interests (noise that does not help)
SHARED_WORDS = ["new", "gear", "session", "practice", "shop", "weekend", "trip", "class",
                "team", "photo", "project", "setup", "collection", "favorite", "first try"]

EMOJIS = ["🔥", "😍", "✨", "🙌", "❤️", "😂", "👌", "🎉"]

#: templates for topical sentences: {t}, {t2} topical words, {p} person, {w} time, {s} shared word
TOPIC_TEMPLATES = [
    "Had a great day of {t} with {p}!",
    "Can't believe this {t} {s}",
    "My {s} {t} is finally here",
    "{t} and {t2} all weekend",
    "Anyone else into {t}?",
    "First time trying {t} {w}",
    "Look at this {t}!",
    "Best {t} ever, thanks {p}",
    "Throwback to {t} with {p}",
    "Some {t} {s} from {w}",
    "What do you think of my {t}?",
    "Nothing beats {t} and {t2}",
    "\"{t}\" is my new obsession",
    "Working on my {t}, {t2} next",
    "Quick {s}: {t} vs {t2}",
    "So proud of this {t}",
]

#: templates that say nothing about any interest
FILLER_TEMPLATES = [
    "What a day with {p}!",
    "Good vibes {w}",
    "Can't believe it's Monday already",
    "Feeling blessed {w}",
    "Missing {p} so much",
    "Throwback to {w}",
    "New {s} {w}, who dis",
    "Best {s} ever",
    "Love this, {p}",
    "Not sure what to say about this one",
    "Weekend mode: on",
    "Guess who's back",
]

ENDINGS = ["!", ".", "!!", "?", ""]

#: how fast topical words get rarer down each list (0: all equally common)
ZIPF_EXPONENT = 1.5

# --------------------------------------------------------------------------- styles

#: shape types the photos draw (see ``_SHAPE_DRAWERS``)
SHAPES = ("circles", "stripes", "squares", "triangles", "rings", "checker",
          "crosses", "stars", "zigzag", "dots", "bars", "diagonals")

#: hand-picked looks for the default interests: (background hue, motif hue, shape)
STYLES = {
    "Golf": (125, 60, "circles"),       # green lawn, pale yellow balls
    "Cooking": (25, 50, "rings"),       # orange, golden rings
    "Pets": (55, 10, "triangles"),      # olive, brick-red ears
    "Travel": (205, 180, "stripes"),    # sky blue, cyan horizon lines
    "Music": (275, 310, "bars"),        # purple, pink equaliser bars
    "Fitness": (0, 30, "squares"),      # red, orange plates
    "Art": (320, 55, "stars"),          # magenta, yellow stars
    "Vehicle": (235, 50, "checker"),    # indigo, amber chequer flag
}


def style_of(interest: str) -> tuple[float, float, str]:
    """Return ``(background hue, motif hue, shape)`` for an interest (degrees)."""
    if interest in STYLES:
        return STYLES[interest]
    if interest in INTERESTS:  # spread the taxonomy: golden-angle hues, shapes in turn
        i = INTERESTS.index(interest)
        hue = (i * 137.508) % 360
        return hue, (hue + 150) % 360, SHAPES[i % len(SHAPES)]
    key = _crc(interest)
    hue = key % 360
    return hue, (hue + 150) % 360, SHAPES[(key // 360) % len(SHAPES)]


# --------------------------------------------------------------------------- helpers


def _crc(text: str) -> int:
    """A stable (unsalted) 32-bit key for a string."""
    return zlib.crc32(text.encode("utf-8"))


def _rng(seed: int, *keys: str) -> np.random.Generator:
    """A generator for one named stream: same seed and keys, same numbers."""
    return np.random.default_rng([int(seed), *(_crc(k) for k in keys)])


def _pick(rng: np.random.Generator, items):
    """One element of ``items``."""
    return items[int(rng.integers(len(items)))]


def _clean(text: str) -> str:
    """One line, no tabs, single spaces."""
    return " ".join(text.replace("\t", " ").replace("\r", " ").replace("\n", " ").split())


def _words_for(interest: str) -> list[str]:
    """Topical words of an interest; unknown labels get their own name and a few variants."""
    if interest in TOPIC_WORDS:
        return TOPIC_WORDS[interest]
    name = interest.lower()
    return [name, f"{name} stuff", f"my {name}", f"{name} life", f"{name} time"]


# --------------------------------------------------------------------------- captions


def _zipf(n: int, exponent: float | None = None) -> np.ndarray:
    """Word probabilities falling with rank, as in real text: the first words are common."""
    weights = 1.0 / np.arange(1, n + 1) ** (ZIPF_EXPONENT if exponent is None else exponent)
    return weights / weights.sum()


def _two_words(words: list[str], rng: np.random.Generator) -> tuple[str, str]:
    """Two different topical words (Zipf-weighted), or the only one twice."""
    if len(words) == 1:
        return words[0], words[0]
    i, j = rng.choice(len(words), size=2, replace=False, p=_zipf(len(words)))
    return words[int(i)], words[int(j)]


def _filler(rng: np.random.Generator) -> dict[str, str]:
    """Values for the filler slots of a template: person, time, shared word."""
    return {"p": _pick(rng, FILLER_PEOPLE), "w": _pick(rng, FILLER_TIMES), "s": _pick(rng, SHARED_WORDS)}


def _topic_sentence(interest: str, rng: np.random.Generator) -> str:
    """One sentence about ``interest``; sometimes a word of another interest slips in."""
    t, t2 = _two_words(_words_for(interest), rng)
    if rng.random() < 0.12:  # cross-topic noise
        other = _pick(rng, [k for k in TOPIC_WORDS if k != interest])
        t2 = _pick(rng, TOPIC_WORDS[other])
    return _pick(rng, TOPIC_TEMPLATES).format(t=t, t2=t2, **_filler(rng))


def _filler_sentence(rng: np.random.Generator) -> str:
    """One sentence that says nothing about any interest."""
    return _pick(rng, FILLER_TEMPLATES).format(**_filler(rng))


def _finish(sentence: str, rng: np.random.Generator, last: bool = True) -> str:
    """Capitalise and end a sentence with punctuation (the last one may have none)."""
    sentence = sentence[:1].upper() + sentence[1:]
    if sentence[-1] in "!?.":
        return sentence
    return sentence + _pick(rng, ENDINGS if last else [e for e in ENDINGS if e])


def make_caption(interest: str, rng: np.random.Generator, *, ambiguous: float = 0.1) -> str:
    """Return one synthetic caption about ``interest`` (one line, no tabs).

    With probability ``ambiguous`` the caption holds filler only (nothing learnable);
    about a fifth are two sentences; about one in ten ends with an emoji.
    """
    if rng.random() < ambiguous:
        sentences = [_filler_sentence(rng)]
    else:
        sentences = [_topic_sentence(interest, rng)]
        if rng.random() < 0.2:
            extra = _topic_sentence(interest, rng) if rng.random() < 0.5 else _filler_sentence(rng)
            sentences.insert(int(rng.integers(2)), extra)
    text = " ".join(_finish(s, rng, last=k == len(sentences) - 1) for k, s in enumerate(sentences))
    if rng.random() < 0.1:
        text += " " + _pick(rng, EMOJIS)
    return _clean(text)


# --------------------------------------------------------------------------- images


def _rgb(hue: float, sat: float, val: float) -> tuple[int, int, int]:
    """HSV (hue in degrees, sat/val in 0..1) to an 8-bit RGB tuple."""
    r, g, b = colorsys.hsv_to_rgb((hue % 360) / 360.0, min(max(sat, 0), 1), min(max(val, 0), 1))
    return int(r * 255), int(g * 255), int(b * 255)


def _background(hue: float, rng: np.random.Generator, size: int) -> Image.Image:
    """A vertical gradient around the interest's background hue."""
    h = hue + rng.uniform(-10, 10)
    top = np.array(_rgb(h, rng.uniform(0.45, 0.75), rng.uniform(0.55, 0.8)), dtype=np.float32)
    bottom = np.array(_rgb(h + rng.uniform(-15, 15), rng.uniform(0.45, 0.8), rng.uniform(0.3, 0.55)),
                      dtype=np.float32)
    if rng.random() < 0.5:
        top, bottom = bottom, top
    ramp = np.linspace(0.0, 1.0, size, dtype=np.float32)[:, None, None]
    pixels = top * (1 - ramp) + bottom * ramp
    pixels = np.broadcast_to(pixels, (size, size, 3))
    return Image.fromarray(pixels.astype(np.uint8), "RGB")


class _Palette:
    """Colours for the motif: mostly the interest's motif hue, sometimes a random one."""

    def __init__(self, hue: float, rng: np.random.Generator, secondary: float = 0.25):
        self.hue, self.rng, self.secondary = hue, rng, secondary

    def __call__(self) -> tuple[int, int, int]:
        rng = self.rng
        if rng.random() < self.secondary:
            return _rgb(rng.uniform(0, 360), rng.uniform(0.2, 0.9), rng.uniform(0.3, 1.0))
        return _rgb(self.hue + rng.uniform(-12, 12), rng.uniform(0.55, 0.95), rng.uniform(0.8, 1.0))


def _rotated(cx, cy, radius, sides, angle, star=False):
    """Vertices of a regular polygon (or a star) around ``(cx, cy)``."""
    points = []
    count = sides * 2 if star else sides
    for k in range(count):
        r = radius * (0.45 if star and k % 2 else 1.0)
        a = angle + 2 * math.pi * k / count
        points.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    return points


def _draw_circles(d, rng, s, colour):
    for _ in range(int(rng.integers(3, 8))):
        r = rng.uniform(0.06, 0.16) * s
        x, y = rng.uniform(0, s, 2)
        d.ellipse([x - r, y - r, x + r, y + r], fill=colour())


def _draw_rings(d, rng, s, colour):
    for _ in range(int(rng.integers(2, 6))):
        r = rng.uniform(0.1, 0.25) * s
        x, y = rng.uniform(0.1 * s, 0.9 * s, 2)
        d.ellipse([x - r, y - r, x + r, y + r], outline=colour(), width=max(2, int(r * 0.3)))


def _draw_squares(d, rng, s, colour):
    for _ in range(int(rng.integers(3, 7))):
        r = rng.uniform(0.08, 0.18) * s
        x, y = rng.uniform(0, s, 2)
        d.polygon(_rotated(x, y, r, 4, rng.uniform(0, 0.3) + math.pi / 4), fill=colour())


def _draw_triangles(d, rng, s, colour):
    for _ in range(int(rng.integers(3, 7))):
        r = rng.uniform(0.1, 0.2) * s
        x, y = rng.uniform(0, s, 2)
        d.polygon(_rotated(x, y, r, 3, -math.pi / 2 + rng.uniform(-0.4, 0.4)), fill=colour())


def _draw_stars(d, rng, s, colour):
    for _ in range(int(rng.integers(2, 6))):
        r = rng.uniform(0.1, 0.22) * s
        x, y = rng.uniform(0, s, 2)
        d.polygon(_rotated(x, y, r, 5, rng.uniform(0, 2 * math.pi), star=True), fill=colour())


def _draw_stripes(d, rng, s, colour):
    """Horizontal bands across the whole picture."""
    y = rng.uniform(0, 0.15) * s
    while y < s:
        w = rng.uniform(0.04, 0.09) * s
        tilt = rng.uniform(-0.06, 0.06) * s
        d.polygon([(0, y), (s, y + tilt), (s, y + tilt + w), (0, y + w)], fill=colour())
        y += w + rng.uniform(0.07, 0.16) * s


def _draw_diagonals(d, rng, s, colour):
    """Parallel bands at about 45 degrees."""
    step = rng.uniform(0.14, 0.24) * s
    w = step * rng.uniform(0.3, 0.5)
    off = rng.uniform(0, step)
    for k in range(-12, 12):
        x = off + k * step
        d.polygon([(x, 0), (x + w, 0), (x + w + s, s), (x + s, s)], fill=colour())


def _draw_checker(d, rng, s, colour):
    """A chequered patch covering part of the picture."""
    cell = rng.uniform(0.08, 0.14) * s
    x0, y0 = rng.uniform(0, 0.3 * s, 2)
    x1, y1 = x0 + rng.uniform(0.55, 0.9) * s, y0 + rng.uniform(0.55, 0.9) * s
    fill, other = colour(), _rgb(0, 0, rng.uniform(0.0, 0.15))
    i = 0
    y = y0
    while y < y1:
        x, j = x0, 0
        while x < x1:
            d.rectangle([x, y, x + cell, y + cell], fill=fill if (i + j) % 2 == 0 else other)
            x += cell
            j += 1
        y += cell
        i += 1


def _draw_crosses(d, rng, s, colour):
    for _ in range(int(rng.integers(3, 7))):
        r = rng.uniform(0.08, 0.17) * s
        w = r * 0.35
        x, y = rng.uniform(0, s, 2)
        c = colour()
        d.rectangle([x - r, y - w, x + r, y + w], fill=c)
        d.rectangle([x - w, y - r, x + w, y + r], fill=c)


def _draw_zigzag(d, rng, s, colour):
    for _ in range(int(rng.integers(2, 4))):
        y = rng.uniform(0.1, 0.9) * s
        amp = rng.uniform(0.05, 0.1) * s
        step = rng.uniform(0.08, 0.14) * s
        points = [(x, y + (amp if k % 2 else -amp)) for k, x in enumerate(np.arange(-step, s + step, step))]
        d.line(points, fill=colour(), width=max(2, int(0.05 * s)))


def _draw_dots(d, rng, s, colour):
    """A regular grid of small dots."""
    step = rng.uniform(0.12, 0.18) * s
    r = step * rng.uniform(0.18, 0.3)
    off = rng.uniform(0, step, 2)
    c = colour()
    for y in np.arange(off[1], s, step):
        for x in np.arange(off[0], s, step):
            d.ellipse([x - r, y - r, x + r, y + r], fill=c if rng.random() > 0.1 else colour())


def _draw_bars(d, rng, s, colour):
    """Vertical bars rising from the bottom, like an equaliser."""
    n = int(rng.integers(5, 9))
    w = s / n
    for k in range(n):
        h = rng.uniform(0.2, 0.85) * s
        d.rectangle([k * w + 0.15 * w, s - h, (k + 1) * w - 0.15 * w, s], fill=colour())


_SHAPE_DRAWERS = {
    "circles": _draw_circles, "stripes": _draw_stripes, "squares": _draw_squares,
    "triangles": _draw_triangles, "rings": _draw_rings, "checker": _draw_checker,
    "crosses": _draw_crosses, "stars": _draw_stars, "zigzag": _draw_zigzag,
    "dots": _draw_dots, "bars": _draw_bars, "diagonals": _draw_diagonals,
}
assert set(_SHAPE_DRAWERS) == set(SHAPES)


def _distractor(d, rng, s):
    """A small shape of a random type and colour: visual noise shared by all classes."""
    r = rng.uniform(0.05, 0.1) * s
    x, y = rng.uniform(0, s, 2)
    c = _rgb(rng.uniform(0, 360), rng.uniform(0, 0.8), rng.uniform(0.2, 1.0))
    if rng.random() < 0.5:
        d.ellipse([x - r, y - r, x + r, y + r], fill=c)
    else:
        d.polygon(_rotated(x, y, r, int(rng.integers(3, 7)), rng.uniform(0, 6.3)), fill=c)


def make_image(interest: str, rng: np.random.Generator, size: int = 64) -> Image.Image:
    """Return one synthetic RGB photo of ``interest``, ``size`` x ``size`` pixels.

    The interest sets the background hue, the motif hue and the shape type; positions,
    sizes, secondary colours, distractors, brightness and noise are random.
    """
    bg_hue, motif_hue, shape = style_of(interest)
    scale = 2  # draw large, then downsample: smooth edges
    big = size * scale
    img = _background(bg_hue, rng, big)
    draw = ImageDraw.Draw(img)
    _SHAPE_DRAWERS[shape](draw, rng, big, _Palette(motif_hue, rng))
    for _ in range(int(rng.integers(0, 3))):
        _distractor(draw, rng, big)
    img = img.resize((size, size), Image.Resampling.BOX)
    pixels = np.asarray(img, dtype=np.float32) * rng.uniform(0.8, 1.2)
    pixels += rng.normal(0.0, rng.uniform(4, 12), size=pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).round().astype(np.uint8), "RGB")


# --------------------------------------------------------------------------- tables


def _caption_rows(interests, n_per_interest: int, seed: int) -> list[tuple[str, str]]:
    """``(label, text)`` rows, interest by interest, each from its own stream."""
    rows = []
    for label in interests:
        rng = _rng(seed, "text", label)
        rows.extend((label, make_caption(label, rng)) for _ in range(n_per_interest))
    return rows


def _write_rows(path: Path, rows, fmt: str) -> None:
    """Write ``(label, text)`` rows as tsv (unquoted), csv (csv module) or jsonl."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        if fmt == "tsv":
            f.write("label\ttext\n")
            f.writelines(f"{_clean(label)}\t{_clean(text)}\n" for label, text in rows)
        elif fmt == "csv":
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["label", "text"])
            writer.writerows(rows)
        elif fmt == "jsonl":
            f.writelines(json.dumps({"label": label, "text": text}, ensure_ascii=False) + "\n"
                         for label, text in rows)
        else:
            raise ConfigError(f"text table format {fmt!r} unknown; choose from: {', '.join(TEXT_FORMATS)}")


def make_text_table(path, interests=DEFAULT_INTERESTS, n_per_interest: int = 10, seed: int = 0,
                    fmt: str = "tsv") -> Path:
    """Write a small labelled caption table in ``fmt`` ("tsv", "csv" or "jsonl").

    tsv: header ``label<TAB>text``, unquoted (like the real data); csv: csv module,
    header ``label,text``; jsonl: one ``{"label": ..., "text": ...}`` per line.
    Returns the path.
    """
    if fmt not in TEXT_FORMATS:
        raise ConfigError(f"text table format {fmt!r} unknown; choose from: {', '.join(TEXT_FORMATS)}")
    path = Path(path)
    _write_rows(path, _caption_rows(_check_labels(interests, "interests"), n_per_interest, seed), fmt)
    return path


def _write_image_folders(folder: Path, interests, n_per_interest: int, size: int, seed: int) -> None:
    """``folder/<Label>/<nnn>.png`` for each interest."""
    for label in interests:
        rng = _rng(seed, "images", label)
        sub = folder / label
        sub.mkdir(parents=True, exist_ok=True)
        for k in range(n_per_interest):
            make_image(label, rng, size).save(sub / f"{k:03d}.png")


# --------------------------------------------------------------------------- users


def _post_topics(primary: str, others: list[str], n: int, rng: np.random.Generator) -> list[str]:
    """Interests of a user's ``n`` posts: ~40% primary, which is always the most frequent."""
    if n <= 0:
        return []
    p = max(1, round(0.4 * n))
    while others and p < n and p <= math.ceil((n - p) / len(others)):
        p += 1
    topics = [primary] * p + [others[k % len(others)] for k in range(n - p)] if others else [primary] * n
    return [topics[int(i)] for i in rng.permutation(n)]


def _user_plan(index: int, interests, rng: np.random.Generator) -> tuple[str, list[str]]:
    """A user's primary interest (interests in turn) and 2-3 secondary ones."""
    primary = interests[index % len(interests)]
    pool = [i for i in interests if i != primary]
    k = min(len(pool), int(rng.integers(2, 4)))
    others = [pool[int(i)] for i in rng.choice(len(pool), size=k, replace=False)] if k else []
    return primary, others


def _post_modalities(topic: str, text_set, image_set, rng: np.random.Generator) -> tuple[bool, bool]:
    """Whether a post has a caption and a photo: ~10% lack each, never both.

    A post about an interest that a modality does not cover lacks that modality
    (as with real data), unless that would leave it empty.
    """
    has_text, has_image = topic in text_set, topic in image_set
    if not (has_text or has_image):
        return True, True
    if has_text and has_image:
        u = rng.random()
        return (u >= 0.1, u < 0.1 or u >= 0.2)  # [0, .1): no caption; [.1, .2): no photo
    return has_text, has_image


def _write_users(folder: Path, interests, text_set, image_set, users: int, posts_per_user: int,
                 size: int, seed: int) -> tuple[Path, Path]:
    """Write ``posts.jsonl``, ``labels.tsv`` and ``media/`` for synthetic users."""
    media = folder / "media"
    media.mkdir(parents=True, exist_ok=True)
    rng = _rng(seed, "users")
    start = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    posts, labels = [], []
    for u in range(users):
        user_id = f"user{u:04d}"
        primary, others = _user_plan(u, interests, rng)
        labels.append((user_id, primary, ",".join(others)))
        when = start + timedelta(hours=int(rng.integers(0, 72)))
        for j, topic in enumerate(_post_topics(primary, others, posts_per_user, rng)):
            post_id = f"{user_id}-p{j:02d}"
            has_text, has_image = _post_modalities(topic, text_set, image_set, rng)
            text = make_caption(topic, rng) if has_text else None
            image = None
            if has_image:
                image = f"media/{post_id}.png"
                make_image(topic, rng, size).save(folder / image)
            posts.append({"user_id": user_id, "post_id": post_id, "text": text, "image": image,
                          "created_at": when.strftime("%Y-%m-%dT%H:%M:%SZ")})
            when += timedelta(hours=int(rng.integers(3, 24 * 5)), minutes=int(rng.integers(0, 60)))
    posts_path, labels_path = folder / "posts.jsonl", folder / "labels.tsv"
    with open(posts_path, "w", encoding="utf-8", newline="") as f:
        f.writelines(json.dumps(p, ensure_ascii=False) + "\n" for p in posts)
    with open(labels_path, "w", encoding="utf-8", newline="") as f:
        f.write("user_id\tinterest\tother_interests\n")
        f.writelines("\t".join(row) + "\n" for row in labels)
    return posts_path, labels_path


# --------------------------------------------------------------------------- workspace


def _check_labels(labels, what: str) -> list[str]:
    """Labels must be distinct non-empty names usable as folder names."""
    labels = list(labels)
    if not labels:
        raise ConfigError(f"{what}: needs at least one interest")
    for label in labels:
        if not isinstance(label, str) or not label or label != _clean(label) or "/" in label \
                or "\\" in label or "," in label or label in (".", ".."):
            raise ConfigError(f"{what}: {label!r} is not a usable interest label")
    if len(set(labels)) != len(labels):
        raise ConfigError(f"{what}: interests repeat")
    return labels


def _subset(given, default, interests, what: str) -> list[str]:
    """Resolve ``image_interests``/``text_interests``: a subset of ``interests``."""
    if given is None:
        return default
    given = _check_labels(given, what)
    unknown = [g for g in given if g not in interests]
    if unknown:
        raise ConfigError(f"{what}: {unknown[0]!r} is not one of the interests ({', '.join(interests)})")
    return given


def make_workspace(root, *, interests=None, captions_per_interest: int = 40,
                   images_per_interest: int = 12, users: int = 8, posts_per_user: int = 20,
                   image_size: int = 64, seed: int = 0, image_interests=None,
                   text_interests=None) -> dict:
    """Write a synthetic workspace under ``root``; return its paths.

    ``interests`` defaults to ``DEFAULT_INTERESTS``. ``image_interests`` (default: all
    but the last interest) get photo folders, ``text_interests`` (default: all but the
    second to last) get captions, so the label sets differ in both directions.
    Returns ``{"text": train.tsv, "images": images/train, "posts": posts.jsonl,
    "labels": labels.tsv}`` (Paths). Same arguments, byte-identical files.
    """
    interests = _check_labels(DEFAULT_INTERESTS if interests is None else interests, "interests")
    for name, value in (("captions_per_interest", captions_per_interest),
                        ("images_per_interest", images_per_interest), ("users", users),
                        ("posts_per_user", posts_per_user), ("image_size", image_size), ("seed", seed)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{name}: expected a non-negative int, got {value!r}")
    if image_size < 8:
        raise ConfigError(f"image_size: at least 8 pixels, got {image_size}")
    default_images = interests[:-1] if len(interests) > 1 else interests
    default_texts = interests[:-2] + interests[-1:] if len(interests) > 2 else interests
    image_set = _subset(image_interests, default_images, interests, "image_interests")
    text_set = _subset(text_interests, default_texts, interests, "text_interests")

    root = Path(root)
    paths = {"text": root / "text" / "train.tsv", "images": root / "images" / "train",
             "posts": root / "users" / "posts.jsonl", "labels": root / "users" / "labels.tsv"}
    _write_rows(paths["text"], _caption_rows(text_set, captions_per_interest, seed), "tsv")
    paths["images"].mkdir(parents=True, exist_ok=True)
    _write_image_folders(paths["images"], image_set, images_per_interest, image_size, seed)
    _write_users(root / "users", interests, set(text_set), set(image_set), users, posts_per_user,
                 image_size, seed)
    return paths
