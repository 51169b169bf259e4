"""Hook specifications: what a plugin can provide. Grouped by stage; see docs/plugins.md.

Each ``register_*`` hook receives a ``register`` callable: ``register(name, cls)`` with
``name`` a non-empty ``str`` (how users refer to it) and ``cls`` a subclass of the matching
interface. The hook returns nothing.
"""

from __future__ import annotations

from typing import Callable

import pluggy

hookspec = pluggy.HookspecMarker("interestkit")
hookimpl = pluggy.HookimplMarker("interestkit")

#: the type of the ``register`` argument of every ``register_*`` hook
Register = Callable[[str, type], None]


# --- models -----------------------------------------------------------------


@hookspec
def register_encoders(register: Register) -> None:
    """Register encoders: ``register(name, cls)`` with an ``interestkit.Encoder`` subclass."""


@hookspec
def register_classifiers(register: Register) -> None:
    """Register classifier heads: ``register(name, cls)`` with an ``interestkit.Classifier`` subclass."""


# --- ranking ----------------------------------------------------------------


@hookspec
def register_fusions(register: Register) -> None:
    """Register fusion strategies: ``register(name, cls)`` with an ``interestkit.Fusion`` subclass."""


# --- meaning --------------------------------------------------------------


@hookspec
def register_embedders(register: Register) -> None:
    """Register text embedders (zero-shot prototypes, the ImageNet-name mapping):
    ``register(name, cls)`` with an ``interestkit.interfaces.TextEmbedder`` subclass."""


# --- command line -----------------------------------------------------------


@hookspec
def register_commands(cli) -> None:
    """Add commands to ``cli``, the ``interestkit`` ``click.Group`` (``cli.add_command(...)``)."""
