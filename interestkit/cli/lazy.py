"""Commands imported when first used: ``interestkit predict`` does not import what ``serve`` needs.

A group's ``commands`` becomes a ``LazyCommands``: a dict that holds, for each command not
yet imported, a function that imports and returns it. Looking a command up (click's
``get_command``, ``commands[name]``, ``name in commands``) imports that command's module
only; listing the commands (``--help``) imports them all. Everything else behaves as the
plain dict click keeps.
"""

from __future__ import annotations

import importlib


def loader(target: str, then=None):
    """A function that imports ``"module:attribute"`` and returns the attribute, passed through ``then`` if given."""
    module, _, attribute = target.partition(":")

    def load():
        command = getattr(importlib.import_module(module), attribute)
        return then(command) if then is not None else command

    return load


class LazyCommands(dict):
    """``{name: click command}`` whose values are imported on first access."""

    def __init__(self, loaders: dict):
        super().__init__()
        self._loaders = dict(loaders)

    def _load(self, name):
        load = self._loaders.pop(name, None)
        if load is not None:
            dict.__setitem__(self, name, load())

    def _load_all(self):
        for name in list(self._loaders):
            self._load(name)

    def __missing__(self, name):
        self._load(name)
        if dict.__contains__(self, name):
            return dict.__getitem__(self, name)
        raise KeyError(name)

    def __contains__(self, name):
        return dict.__contains__(self, name) or name in self._loaders

    def get(self, name, default=None):
        try:
            return self[name]
        except KeyError:
            return default

    def __setitem__(self, name, command):
        self._loaders.pop(name, None)
        dict.__setitem__(self, name, command)

    def __delitem__(self, name):
        if self._loaders.pop(name, None) is None:
            dict.__delitem__(self, name)
        elif dict.__contains__(self, name):
            dict.__delitem__(self, name)

    def pop(self, name, *default):
        self._load(name)
        return dict.pop(self, name, *default)

    def __iter__(self):
        self._load_all()
        return dict.__iter__(self)

    def __len__(self):
        return dict.__len__(self) + len(self._loaders)

    def keys(self):
        self._load_all()
        return dict.keys(self)

    def values(self):
        self._load_all()
        return dict.values(self)

    def items(self):
        self._load_all()
        return dict.items(self)

    def copy(self):
        self._load_all()
        return dict(self)
