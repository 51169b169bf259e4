"""Typed errors. The library raises these; only the CLI turns them into messages."""


class InterestkitError(Exception):
    """Base class: a mistake the user can fix. The message is one line and names the culprit."""

    exit_code = 2

    def __init__(self, message: str = "", field: str | None = None):
        super().__init__(message)
        self.field = field  # the input at fault, when one is (``posts.jsonl:3.created_at``, ``body[0].image``)


class ConfigError(InterestkitError):
    """A config file, key or value is not what was expected."""


class DataError(InterestkitError):
    """An input file (table, folder, posts, labels, image) is missing or malformed."""


class PluginError(InterestkitError):
    """A plugin is unknown, broken, or registered twice."""


class ModelError(InterestkitError):
    """A model URI does not resolve, or a model cannot be used as asked."""


def suggest(name, choices):
    """Return ' (did you mean X?)' or a list of the accepted choices."""
    import difflib

    choices = sorted(choices)
    close = difflib.get_close_matches(str(name), choices, n=3, cutoff=0.6)
    if close:
        return f" (did you mean {', '.join(repr(c) for c in close)}?)"
    return f" (choose from: {', '.join(choices) or 'none registered'})"
