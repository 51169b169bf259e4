"""The command line: click only, one module per command group (see ``main``)."""

from .main import cli, main

__all__ = ["cli", "main"]
