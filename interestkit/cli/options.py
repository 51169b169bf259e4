"""Options shared by the commands that rank: the same flags, the same meaning, everywhere.

Every ranking command takes the models, the fusion, the window and scoring options and the
path policy through these decorators, and turns them into pipeline options with
``pipeline_options``: so ``rank``, ``recommend``, ``evaluate``, ``fusion fit``,
``build-hybrid`` and ``batch`` cannot drift apart.
"""

from __future__ import annotations

import click

from ..app.ranking import IMAGE_URI, TEXT_URI
from ..errors import ConfigError
from ..ranking.aggregation import AGGREGATIONS
from ..ranking.pipeline import DEFAULT_FUSION, OPTION_RULES


def _apply(function, options):
    for option in reversed(options):
        function = option(function)
    return function


def model_options(function):
    """--text-model and --image-model."""
    return _apply(function, [
        click.option("--text-model", default=TEXT_URI, show_default=True,
                     help="Text model: models:/NAME@ALIAS, models:/NAME/VERSION, runs:/... or a model folder "
                          "('' to rank without one)."),
        click.option("--image-model", default=IMAGE_URI, show_default=True, help="Image model (same forms)."),
    ])


def fusion_options(function):
    """--fusion and --fusion-weights."""
    return _apply(function, [
        click.option("--fusion", default=DEFAULT_FUSION, show_default=True,
                     help="Fusion plugin for fused ranking: score_sum, rank_vote, weighted or another installed one."),
        click.option("--fusion-weights", default=None,
                     help="Fitted fusion parameters: the runs:/... URI 'interestkit fusion fit' prints, or a file."),
    ])


def scoring_options(function):
    """The window and scoring options: --last, --aggregation, --half-life, --no-calibration."""
    return _apply(function, [
        click.option("--last", default=20, show_default=True, type=int, help="Use each user's N most recent posts (0: all)."),
        click.option("--aggregation", type=click.Choice(AGGREGATIONS), default="mean", show_default=True,
                     help="How a user's post scores combine: mean probability, mean log-probability, top-1 votes."),
        click.option("--half-life", type=float, default=None,
                     help="Weight posts by recency: a post this many days older than the user's newest counts half."),
        click.option("--no-calibration", is_flag=True,
                     help="Ignore the models' fitted softmax temperature (use temperature 1)."),
    ])


def path_options(function):
    """--media-root and --allow-outside-paths: the path policy, set by whoever runs the command."""
    return _apply(function, [
        click.option("--media-root", type=click.Path(), default=None,
                     help="Folder image paths are relative to (default: the posts file's folder)."),
        click.option("--allow-outside-paths", is_flag=True,
                     help="Accept image paths that are absolute or leave the media root."),
    ])


def ranking_options(function):
    """Models, scoring and path options together (what every ranking command takes)."""
    return model_options(scoring_options(path_options(function)))


#: the pipeline option each flag sets: its errors name the flag (the rules are ``OPTION_RULES``)
FLAG_NAMES = {"last": "--last", "half_life_days": "--half-life", "top_k": "--top-k", "top_n_ads": "--top-n",
              "aggregation": "--aggregation", "calibrate": "--no-calibration",
              "posts_per_interest": "--posts-per-interest"}


def pipeline_options(values: dict, **extra) -> dict:
    """Pipeline options from the command's flags, each checked by the pipeline's rules
    (``OPTION_RULES``), the error naming the flag."""
    options = {"last": values["last"], "aggregation": values["aggregation"], "half_life_days": values["half_life"],
               "calibrate": not values["no_calibration"]}
    options.update({k: v for k, v in extra.items() if v is not None})
    for key, value in options.items():
        if key in OPTION_RULES and key in FLAG_NAMES:
            OPTION_RULES[key].check(value, FLAG_NAMES[key])
    return options


SET_SECTIONS = ("encoder", "classifier", "training", "tracking")


def parse_settings(settings) -> dict:
    """``--set SECTION.KEY=VALUE`` flags as config overrides ``{section: {key: value}}``.

    VALUE is read as YAML (``8``, ``0.5``, ``true``, ``[a, b]``, ``text``); the sections are
    those of a config file, and every value is checked by the same rules as the file's.
    """
    import yaml

    overrides: dict = {}
    for setting in settings:
        key, equals, text = setting.partition("=")
        section, dot, name = key.strip().partition(".")
        if not equals or not dot or not name or section not in SET_SECTIONS:
            raise ConfigError(f"--set {setting!r}: expected SECTION.KEY=VALUE with SECTION one of "
                              f"{', '.join(SET_SECTIONS)} (e.g. --set encoder.units=32)")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            value = text
        overrides.setdefault(section, {})[name] = value
    return overrides
