"""The ranking options, declared once: ``OPTION_RULES`` gives their names, types, defaults,
choices, bounds, help and command-line flags, and ``RankingOptions`` is generated from it.

Every entry point takes a whole ``RankingOptions``: the command line builds it from the
flags ``cli.options.ranking_flags`` generates from the same rules, a saved hybrid from its
``pipeline.json``, ``interestkit.spark.rank_users`` from its keywords. A new option is one
line here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from .. import hooks
from ..options import Option, options_class
from .aggregation import AGGREGATIONS
from .fusing import guarded_fusion

MODES = ("text", "image", "fused")
DEFAULT_FUSION = "score_sum"

OPTION_RULES = {
    "mode": Option("fused", choices=MODES, help="Rank by captions, photos, or both fused."),
    "top_k": Option(5, min=1, help="Interests per user."),
    "last": Option(20, min=0, help="Use each user's N most recent posts (0: all)."),
    "aggregation": Option("mean", choices=AGGREGATIONS,
                          help="How a user's post scores combine: mean probability, mean log-probability, top-1 votes."),
    "half_life_days": Option(None, type=float, gt=0, nullable=True, flag="--half-life",
                             help="Weight posts by recency: a post this many days older than the user's newest "
                                  "counts half (default: off)."),
    "calibrate": Option(True, flag="--no-calibration",
                        help="Ignore the models' fitted softmax temperature (use temperature 1)."),
    "top_n_ads": Option(10, min=1, flag="--top-n", help="Ads per user."),
    "posts_per_interest": Option(3, min=0, help="Contributing post ids listed per interest."),
}


RankingOptions = options_class("RankingOptions", OPTION_RULES, __name__,
                               "How posts become ranked interests (fields: ``OPTION_RULES``); validated on "
                               "construction (``ConfigError``).")


def options_table(rules: dict = OPTION_RULES) -> str:
    """The rules as a Markdown table (option, flag, default, accepted values, meaning): what
    ``docs/options.md`` shows, checked by a test against the rules."""
    rows = ["| option | flag | default | accepted | meaning |", "|---|---|---|---|---|"]
    for name, rule in rules.items():
        flag = rule.flag_of(name)
        accepted = (", ".join(f"`{c}`" for c in rule.choices) if rule.choices else
                    " ".join(filter(None, [getattr(rule.expected, "__name__", ""), rule.describe_bounds(),
                                           "or none" if rule.nullable or rule.default is None else ""])))
        rows.append(f"| `{name}` | `{flag}` | `{rule.default!r}` | {accepted} | {rule.help} |")
    return "\n".join(rows) + "\n"


@dataclass(frozen=True)
class FusionSpec:
    """A fusion plugin by name, with the parameters it is built with and where they came from."""

    name: str = DEFAULT_FUSION
    params: Mapping[str, Any] = field(default_factory=dict)
    source: str = "defaults"
    fitted_on: str = ""  # SHA-256 of the posts and labels the parameters were fitted on, if known

    def as_dict(self) -> dict:
        """Name, parameters, where they came from, and the distribution that provides the fusion."""
        info = hooks.get("fusion", self.name)
        return {"name": self.name, "params": _plain(self.params), "source": self.source,
                "package": info.package, "package_version": info.version}

    def build(self):
        """The fusion plugin's instance with these parameters, its failures naming it."""
        return guarded_fusion(hooks.get("fusion", self.name), dict(self.params), self.source)


def _plain(value):
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value
