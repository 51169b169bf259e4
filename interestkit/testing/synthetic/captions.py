"""Synthetic captions: per-interest topical words in templates, plus shared filler."""

from __future__ import annotations

import numpy as np

from ...taxonomy import INTERESTS
from .streams import one_line, pick

#: the interests of the default workspace (all from the taxonomy)
DEFAULT_INTERESTS = ("Golf", "Cooking", "Pets", "Travel", "Music", "Fitness", "Art", "Vehicle")


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
    return {"p": pick(rng, FILLER_PEOPLE), "w": pick(rng, FILLER_TIMES), "s": pick(rng, SHARED_WORDS)}


def _topic_sentence(interest: str, rng: np.random.Generator) -> str:
    """One sentence about ``interest``; sometimes a word of another interest slips in."""
    t, t2 = _two_words(_words_for(interest), rng)
    if rng.random() < 0.12:  # cross-topic noise
        other = pick(rng, [k for k in TOPIC_WORDS if k != interest])
        t2 = pick(rng, TOPIC_WORDS[other])
    return pick(rng, TOPIC_TEMPLATES).format(t=t, t2=t2, **_filler(rng))


def _filler_sentence(rng: np.random.Generator) -> str:
    """One sentence that says nothing about any interest."""
    return pick(rng, FILLER_TEMPLATES).format(**_filler(rng))


def _finish(sentence: str, rng: np.random.Generator, last: bool = True) -> str:
    """Capitalise and end a sentence with punctuation (the last one may have none)."""
    sentence = sentence[:1].upper() + sentence[1:]
    if sentence[-1] in "!?.":
        return sentence
    return sentence + pick(rng, ENDINGS if last else [e for e in ENDINGS if e])


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
        text += " " + pick(rng, EMOJIS)
    return one_line(text)
