"""Options shared by the commands that rank: the same flags, the same meaning, everywhere.

Every ranking command takes the models, the fusion and the path policy through these
decorators, and its ranking options through ``ranking_flags``, which generates the flags
from ``OPTION_RULES`` (name, type, default, choices, bounds, help) and hands the command
one ``RankingOptions``: so ``rank``, ``recommend``, ``evaluate``, ``fusion fit``,
``build-hybrid`` and ``batch`` cannot drift apart, and no default is written twice.
"""

from __future__ import annotations

import functools

import click

from ..app.ranking import IMAGE_URI, TEXT_URI
from ..errors import ConfigError
from ..ranking.options import DEFAULT_FUSION, RankingOptions


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


def rule_flags(options_class, *names, param: str = "options", defaults: dict | None = None,
               extra_choices: dict | None = None, overrides: str | None = None):
    """Click options generated from the rules of ``options_class`` (``options_class.RULES``),
    gathered into one argument ``param``: an ``options_class`` instance.

    Each rule gives its flag (``Option.flag``, else ``--name-with-dashes``), type, default,
    choices, bounds and help; a bool option defaulting to True is a ``--no-...`` flag. A
    value is checked by its rule, the error naming the flag. ``defaults`` changes a
    command's default (``evaluate --mode all``); ``extra_choices`` accepts more values, which
    the command receives as a keyword of the option's name (the options keep the rule's
    default). Options not named keep their defaults.

    ``overrides`` (what stands in for a default in ``--help``, e.g. "the model's"): the flags
    have no default, and ``param`` is a dict of the options given, each checked by its rule,
    for a command that changes options it reads from elsewhere.
    """
    rules = options_class.RULES
    defaults, extra_choices = defaults or {}, extra_choices or {}

    def decorate(function):
        params = []
        for name in names:
            rule = rules[name]
            dest = f"{param}__{name}"
            if rule.expected is bool:
                params.append(click.option(rule.flag_of(name), dest, is_flag=True, default=None if overrides else False,
                                           help=rule.help))
                continue
            if overrides:
                kind = click.Choice(tuple(rule.choices)) if rule.choices else rule.expected
                params.append(click.option(rule.flag_of(name), dest, type=kind, default=None,
                                           help=f"{rule.help} [default: {overrides}]"))
                continue
            default = defaults.get(name, rule.default)
            kind = (click.Choice(tuple(extra_choices.get(name, ())) + tuple(rule.choices)) if rule.choices
                    else rule.expected)
            params.append(click.option(rule.flag_of(name), dest, type=kind, default=default,
                                       show_default=default is not None, help=rule.help))

        @functools.wraps(function)
        def run(**values):
            given = {}
            for name in names:
                rule, value = rules[name], values.pop(f"{param}__{name}")
                if overrides and value is None:
                    continue
                if value in extra_choices.get(name, ()):
                    values[name] = value
                    continue
                if rule.expected is bool:
                    value = not value if rule.default else value  # --no-... turns it off
                given[name] = rule.check(value, rule.flag_of(name))
                if name in extra_choices:
                    values[name] = given[name]
            values[param] = given if overrides else options_class(**given)
            return function(**values)

        return _apply(run, params)

    return decorate


def ranking_flags(*names, **how):
    """``rule_flags`` of ``RankingOptions``: the command receives ``options``."""
    return rule_flags(RankingOptions, *names, **how)


#: the window and scoring options every ranking command takes
SCORING = ("last", "aggregation", "half_life_days", "calibrate")


def path_options(function):
    """--media-root and --allow-outside-paths: the path policy, set by whoever runs the command."""
    return _apply(function, [
        click.option("--media-root", type=click.Path(), default=None,
                     help="Folder image paths are relative to (default: the posts file's folder)."),
        click.option("--allow-outside-paths", is_flag=True,
                     help="Accept image paths that are absolute or leave the media root."),
    ])


def ranking_options(function):
    """Models and path options together (what every ranking command takes besides ``ranking_flags``)."""
    return model_options(path_options(function))


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
