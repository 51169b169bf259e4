"""``check_fusion``: the fusion contract, checked on a plugin author's class.

The contract (``interestkit.Fusion``): ``fuse({modality: {interest: score}})`` returns
``{interest: finite score}`` covering exactly the union of the present modalities'
interests; a modality absent from the input contributes nothing, so with one modality
the ranking follows its scores; empty input (or only empty modalities) gives ``{}``; the
input is left untouched; the same input gives the same result, whatever the order of
its keys. ``fit`` returns a dict of numbers; ``params()`` is JSON data and
``cls(**params())`` rebuilds a fusion that fuses the same way.
"""

from __future__ import annotations

import copy
import json
import math

from .checks import calling, check, checked_class

FUSION_CASES = {
    "one modality": {"text": {"Golf": 0.7, "Pets": 0.2, "Cooking": 0.1}},
    "two modalities": {"text": {"Golf": 0.6, "Pets": 0.4}, "image": {"Pets": 0.5, "Cooking": 0.5}},
}


def check_fusion(cls, options: dict | None = None):
    """Check the fusion contract on ``cls(**options)`` (fitted once on tiny examples); returns it."""
    name = checked_class("fusion", cls)
    fusion = calling(name, "__init__", lambda: cls(**(options or {})))
    examples = [(FUSION_CASES["two modalities"], "Pets"), (FUSION_CASES["one modality"], "Golf")]
    given = copy.deepcopy(examples)
    report = calling(name, "fit()", fusion.fit, given)
    check(given == examples, f"{name}: fit() modified its examples")
    check(isinstance(report, dict) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                           for v in report.values()),
          f"{name}: fit() must return a dict of numbers (fit metrics, {{}} if none), got {report!r}")
    for case in ("empty input", "only empty modalities"):
        scores = {} if case == "empty input" else {"text": {}, "image": {}}
        fused = _fuse(fusion, name, scores, case)
        check(fused == {}, f"{name}: {case} must give {{}}, got {fused!r}")
    single = FUSION_CASES["one modality"]
    fused = _fuse(fusion, name, single, "a missing modality")
    check(set(fused) == set(single["text"]),
          f"{name}: with only text scores the result must cover exactly their interests; got {sorted(fused)}")
    order = sorted(fused, key=lambda i: (-fused[i], i))
    check(order == ["Golf", "Pets", "Cooking"],
          f"{name}: with one modality the ranking must follow its scores (Golf, Pets, Cooking); got {order}")
    both = FUSION_CASES["two modalities"]
    fused = _fuse(fusion, name, both, "two modalities")
    check(set(fused) == {"Cooking", "Golf", "Pets"},
          f"{name}: the result must cover the union of the modalities' interests; got {sorted(fused)}")
    reordered = {"image": dict(reversed(list(both["image"].items()))), "text": both["text"]}
    again = _fuse(fusion, name, both, "a second call"), _fuse(fusion, name, reordered, "reordered input")
    check(again == (fused, fused), f"{name}: fusing the same scores again (or in another order) gave a different result")
    _check_rebuilt(cls, name, fusion, both, fused)
    return fusion


def _check_rebuilt(cls, name, fusion, scores, fused):
    """``params()`` is JSON and ``cls(**params())`` fuses like the fusion it came from."""
    params = calling(name, "params()", fusion.params)
    check(isinstance(params, dict), f"{name}: params() must return a dict, got {type(params).__name__}")
    try:
        params = json.loads(json.dumps(params))
    except (TypeError, ValueError) as error:
        raise AssertionError(f"{name}: params() must be JSON data (it is saved with the model): {error}") from None
    rebuilt = calling(name, f"{cls.__name__}(**params())", lambda: cls(**params))
    check(_fuse(rebuilt, name, scores, "a fusion rebuilt from params()") == fused,
          f"{name}: {cls.__name__}(**params()) fuses differently from the fusion whose params() it got "
          f"({params}): params() must return everything fit() learnt")


def _fuse(fusion, name, scores, case):
    before = copy.deepcopy(scores)
    fused = calling(name, f"fuse() on {case}", fusion.fuse, scores)
    check(scores == before, f"{name}: fuse() modified its input ({case})")
    check(isinstance(fused, dict), f"{name}: fuse() must return a dict, got {type(fused).__name__} ({case})")
    bad = {k: v for k, v in fused.items()
           if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)}
    check(not bad, f"{name}: fused scores must be finite numbers; got {bad} ({case})")
    return fused
