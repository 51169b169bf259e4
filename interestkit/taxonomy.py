"""Interest taxonomies: ``interests.yaml`` files, validated; the paper's 36 interests by default.

A taxonomy file has a top-level ``interests:`` list (and optional ``name`` and
``description``). Each interest has:

```yaml
interests:
  - name: Trail running                 # required, unique (case-insensitively)
    description: Running on mountain and forest trails, ultramarathons.   # required
    keywords: [trail, ultramarathon]    # optional: short texts that describe it
    parent: Sports                      # optional: another interest, or a group above them
    examples:                           # optional: captions and/or photos (paths inside the file's folder)
      - Twenty miles of mud and roots this morning.
      - {image: examples/trail1.jpg}
    imagenet_classes: [alp, valley]     # optional: overrides the photo mapping (names or indices)
    iab_audience: [672]                 # optional: IAB Audience Taxonomy 1.1 segment ids (Interest branch)
```

Every mistake is a one-line ``ConfigError`` naming the file, the line and the interest.
``iab_audience`` ids must exist in the shipped Audience Taxonomy 1.1 and lie in its
``Interest`` branch; OpenRTB output and segment tables carry them (``interestkit.adtech``).
Models are not bound to a taxonomy: a model knows the labels it was trained on, and
rankings live on the union of the labels of the models involved. ``INTERESTS`` is the
default taxonomy's names (the paper's Table 1, from the Curlie directory).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from .adtech.iab import check_interest_segment
from .data.paths import MediaPolicy
from .data.tables import read_yaml, safe_loader
from .errors import ConfigError, DataError, suggest

DEFAULT_FILE = Path(__file__).with_name("interests.yaml")
TOP_KEYS = ("name", "description", "interests")
INTEREST_KEYS = ("name", "description", "keywords", "parent", "examples", "imagenet_classes", "iab_audience")
EXAMPLE_KEYS = ("text", "image")
MAX_INTERESTS = 10_000
MAX_TEXT = 2_000
MAX_EXAMPLES = 1_000


@dataclass(frozen=True)
class Example:
    """One example of an interest: a caption (``text``) or a photo (``image``, a resolved path)."""

    text: str | None = None
    image: Path | None = None


@dataclass(frozen=True)
class Interest:
    name: str
    description: str
    keywords: tuple = ()
    parent: str | None = None
    examples: tuple = ()
    imagenet_classes: tuple | None = None  # None: the mapping decides; (): no photo reaches it
    iab_audience: tuple = ()  # Audience Taxonomy 1.1 segment ids (text), most fitting first
    where: str = field(default="", compare=False)

    @property
    def prompts(self) -> list[str]:
        """The texts a zero-shot model compares captions with: the description, then each keyword."""
        return [self.description, *self.keywords]

    @property
    def captions(self) -> list[str]:
        return [e.text for e in self.examples if e.text is not None]

    @property
    def photos(self) -> list[Path]:
        return [e.image for e in self.examples if e.image is not None]

    def as_dict(self, root: Path | None = None) -> dict:
        out = {"name": self.name, "description": self.description}
        if self.keywords:
            out["keywords"] = list(self.keywords)
        if self.parent:
            out["parent"] = self.parent
        if self.examples:
            out["examples"] = [e.text if e.text is not None else {"image": _relative(e.image, root)}
                               for e in self.examples]
        if self.imagenet_classes is not None:
            out["imagenet_classes"] = list(self.imagenet_classes)
        if self.iab_audience:
            out["iab_audience"] = [int(i) for i in self.iab_audience]
        return out


def _relative(path: Path, root: Path | None) -> str:
    try:
        return str(path.relative_to(root)) if root is not None else str(path)
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class Taxonomy:
    interests: tuple
    name: str = ""
    description: str = ""
    source: str = ""
    root: Path | None = None  # the folder photo examples are relative to

    @property
    def names(self) -> tuple:
        return tuple(i.name for i in self.interests)

    def get(self, name: str) -> Interest:
        for interest in self.interests:
            if interest.name == name:
                return interest
        raise ConfigError(f"{self.source}: no interest {name!r}{suggest(name, self.names)}")

    @property
    def groups(self) -> tuple:
        """Parents that are not interests themselves (categories above the listed ones), sorted."""
        names = set(self.names)
        return tuple(sorted({i.parent for i in self.interests if i.parent and i.parent not in names}))

    @property
    def n_examples(self) -> dict:
        """{"text": n, "image": n}: how many examples the file gives."""
        return {"text": sum(len(i.captions) for i in self.interests),
                "image": sum(len(i.photos) for i in self.interests)}

    def as_dict(self) -> dict:
        out = {key: value for key, value in (("name", self.name), ("description", self.description)) if value}
        return dict(out, interests=[i.as_dict(self.root) for i in self.interests])

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.as_dict(), sort_keys=False, allow_unicode=True, width=100)

    @property
    def segments(self) -> dict:
        """``{interest: (segment id, ...)}``: the Audience Taxonomy segments each interest maps to."""
        return {i.name: i.iab_audience for i in self.interests}

    def fingerprint(self) -> str:
        """A short hash of what the interests say (not of the file's layout or comments, nor of the
        segment ids, which change no model)."""
        described = self.as_dict()
        for interest in described["interests"]:
            interest.pop("iab_audience", None)
        text = json.dumps(described, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _entries(text: str) -> list:
    """The YAML nodes of the top-level ``interests`` list's entries, where they can be found."""
    import yaml

    try:
        node = yaml.compose(text, Loader=safe_loader())
    except yaml.YAMLError:
        return []
    if not isinstance(node, yaml.MappingNode):
        return []
    for key, value in node.value:
        if getattr(key, "value", None) == "interests" and isinstance(value, yaml.SequenceNode):
            return list(value.value)
    return []


def _lines(text: str) -> list:
    """The line (1-based) of each entry of the top-level ``interests`` list, where it can be found."""
    return [item.start_mark.line + 1 for item in _entries(text)]


def _segment_lines(text: str) -> list:
    """Per entry of ``interests``, the line (1-based) of each item of its ``iab_audience`` list."""
    import yaml

    out = []
    for entry in _entries(text):
        found = []
        if isinstance(entry, yaml.MappingNode):
            for key, value in entry.value:
                if getattr(key, "value", None) == "iab_audience" and isinstance(value, yaml.SequenceNode):
                    found = [item.start_mark.line + 1 for item in value.value]
        out.append(found)
    return out


def _text(value, where, key, required=True):
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        what = "an empty" if isinstance(value, str) or value is None else f"a {type(value).__name__}"
        raise ConfigError(f"{where}: '{key}' must be a non-empty text, got {what} {value!r}"[:300])
    if len(value) > MAX_TEXT:
        raise ConfigError(f"{where}: '{key}' is {len(value)} characters long; at most {MAX_TEXT} are accepted")
    return " ".join(value.split())


def _texts(value, where, key) -> tuple:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(f"{where}: '{key}' must be a list of texts, got {type(value).__name__} {value!r}"[:300])
    out, seen = [], set()
    for number, item in enumerate(value, 1):
        text = _text(item, f"{where} {key} #{number}", key)
        if text.casefold() in seen:
            raise ConfigError(f"{where}: duplicate {key[:-1]} {text!r}")
        seen.add(text.casefold())
        out.append(text)
    return tuple(out)


def _examples(value, where, policy: MediaPolicy | None) -> tuple:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(f"{where}: 'examples' must be a list of captions or {{image: path}}, got {value!r}"[:300])
    if len(value) > MAX_EXAMPLES:
        raise ConfigError(f"{where}: {len(value)} examples; at most {MAX_EXAMPLES} per interest are accepted")
    out = []
    for number, item in enumerate(value, 1):
        spot = f"{where} example #{number}"
        if isinstance(item, str):
            out.append(Example(text=_text(item, spot, "text")))
            continue
        if not isinstance(item, dict) or len(item) != 1:
            raise ConfigError(f"{spot}: expected a caption or a mapping with one key, 'text' or 'image'; got {item!r}"[:300])
        (key, content), = item.items()
        if key not in EXAMPLE_KEYS:
            raise ConfigError(f"{spot}: unknown key {key!r}{suggest(key, EXAMPLE_KEYS)}")
        if key == "text":
            out.append(Example(text=_text(content, spot, "text")))
            continue
        raw = _text(content, spot, "image")
        if policy is None:
            raise ConfigError(f"{spot}: photo examples need a taxonomy file (their paths are relative to its folder)")
        try:
            path = policy.resolve(raw, f"{spot} image")
        except DataError as error:
            raise ConfigError(str(error)) from None
        if not path.is_file():
            raise ConfigError(f"{spot}: photo {raw!r} not found (looked for {path})")
        out.append(Example(image=path))
    return tuple(out)


def _classes(value, where):
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
        raise ConfigError(f"{where}: 'imagenet_classes' must be a list of ImageNet class names or indices "
                          f"(an empty list: no photo class reaches this interest), got {value!r}"[:300])
    return tuple(v.strip() if isinstance(v, str) else v for v in value)


def _segments(value, where, spots=()) -> tuple:
    """``iab_audience``: Audience Taxonomy 1.1 ids in its Interest branch, each once. ``spots``: where
    each id is written (``file:line: interest #n (name)``), when known."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(f"{where}: 'iab_audience' must be a list of IAB Audience Taxonomy 1.1 segment ids "
                          f"(such as [644]), got {value!r}"[:300])
    out = []
    for number, item in enumerate(value, 1):
        spot = spots[number - 1] if len(spots) >= number else where
        try:
            ident = check_interest_segment(item)
        except ValueError as error:
            raise ConfigError(f"{spot}: iab_audience: {error}"[:300]) from None
        if ident in out:
            raise ConfigError(f"{spot}: iab_audience: duplicate segment id {ident}")
        out.append(ident)
    return tuple(out)


def _interest(row, where, policy, spots=()) -> Interest:
    if not isinstance(row, dict):
        raise ConfigError(f"{where}: expected a mapping with name and description, got {row!r}"[:300])
    if isinstance(row.get("name"), str) and row["name"].strip():
        named = f" ({' '.join(row['name'].split())})"
        where, spots = where + named, [spot + named for spot in spots]
    for key in row:
        if key not in INTEREST_KEYS:
            raise ConfigError(f"{where}: unknown key {key!r}{suggest(key, INTEREST_KEYS)}")
    name = _text(row.get("name"), where, "name")
    return Interest(name=name, description=_text(row.get("description"), where, "description"),
                    keywords=_texts(row.get("keywords"), where, "keywords"),
                    parent=_text(row.get("parent"), where, "parent", required=False),
                    examples=_examples(row.get("examples"), where, policy),
                    imagenet_classes=_classes(row.get("imagenet_classes"), where),
                    iab_audience=_segments(row.get("iab_audience"), where, spots), where=where)


def _check_parents(interests, source):
    by_name = {i.name: i for i in interests}
    folded = {i.name.casefold(): i.name for i in interests}
    for interest in interests:
        parent = interest.parent
        if parent is None or parent in by_name:
            continue
        if parent.casefold() in folded:
            raise ConfigError(f"{interest.where}: parent {parent!r} differs only in case from the interest "
                              f"{folded[parent.casefold()]!r}")
    for interest in interests:  # a cycle: following parents comes back
        seen, current = [interest.name], interest.parent
        while current in by_name:
            if current in seen:
                raise ConfigError(f"{interest.where}: parents form a cycle: {' -> '.join(seen + [current])}")
            seen.append(current)
            current = by_name[current].parent


def parse_taxonomy(data, source: str = "taxonomy", root=None, lines=(), segment_lines=()) -> Taxonomy:
    """Validate a taxonomy mapping (as read from YAML). ``root``: the folder photo paths are relative to;
    ``lines``/``segment_lines``: where each interest and each of its ``iab_audience`` ids is written."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping with an 'interests' list, got {type(data).__name__}")
    for key in data:
        if key not in TOP_KEYS:
            raise ConfigError(f"{source}: unknown key {key!r}{suggest(key, TOP_KEYS)}; accepted: {', '.join(TOP_KEYS)}")
    rows = data.get("interests")
    if not isinstance(rows, list) or not rows:
        raise ConfigError(f"{source}: 'interests' must be a non-empty list of interests (name, description, ...)")
    if len(rows) < 2 or len(rows) > MAX_INTERESTS:
        raise ConfigError(f"{source}: {len(rows)} interests; between 2 and {MAX_INTERESTS} are accepted")
    policy = MediaPolicy(Path(root)) if root is not None else None
    interests, seen = [], {}
    for number, row in enumerate(rows, 1):
        line = f":{lines[number - 1]}" if len(lines) >= number else ""
        spots = [f"{source}:{at}: interest #{number}"
                 for at in (segment_lines[number - 1] if len(segment_lines) >= number else ())]
        interest = _interest(row, f"{source}{line}: interest #{number}", policy, spots)
        key = interest.name.casefold()
        if key in seen:
            first = seen[key]
            how = "duplicate interest" if first.name == interest.name else \
                f"interest differs only in case from {first.name!r}, a duplicate"
            raise ConfigError(f"{interest.where}: {how} (first at {first.where.split(': ')[0]})")
        seen[key] = interest
        interests.append(interest)
    _check_parents(interests, source)
    return Taxonomy(tuple(interests), name=_text(data.get("name"), source, "name", required=False) or "",
                    description=_text(data.get("description"), source, "description", required=False) or "",
                    source=source, root=Path(root) if root is not None else None)


def load_taxonomy(path=None) -> Taxonomy:
    """Read and validate a taxonomy file; ``None``: the default (the paper's 36 interests)."""
    path = Path(path) if path is not None else DEFAULT_FILE
    data, text = read_yaml(path, "taxonomy file (interests.yaml)", "taxonomy file", ConfigError)
    return parse_taxonomy(data, str(path), root=path.parent, lines=_lines(text), segment_lines=_segment_lines(text))


def default_taxonomy() -> Taxonomy:
    return DEFAULT


DEFAULT = load_taxonomy()
#: the paper's 36 interests, in the order of its Table 1
INTERESTS = DEFAULT.names
