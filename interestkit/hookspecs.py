"""Hook specifications: what a plugin can provide. Grouped by stage; see docs/plugins.md."""

import pluggy

hookspec = pluggy.HookspecMarker("interestkit")
hookimpl = pluggy.HookimplMarker("interestkit")


# --- models -----------------------------------------------------------------


@hookspec
def register_encoders(register):
    """Register encoders: call ``register(name, cls)`` with an ``interestkit.Encoder`` subclass."""


@hookspec
def register_classifiers(register):
    """Register classifier heads: call ``register(name, cls)`` with a ``Classifier`` subclass."""


# --- ranking ----------------------------------------------------------------


@hookspec
def register_fusions(register):
    """Register fusion strategies: call ``register(name, cls)`` with a ``Fusion`` subclass."""


# --- command line -----------------------------------------------------------


@hookspec
def register_commands(cli):
    """Add commands to the ``interestkit`` click group ``cli``."""
