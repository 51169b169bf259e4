"""What every command shares: messages on stderr, results on stdout, aligned tables."""

from __future__ import annotations

import contextlib
import sys

import click


def echo_err(message):
    click.echo(message, err=True)


def progress_to_stderr():
    """Keras prints its per-epoch lines to stdout; send them to stderr with the other
    progress, so that stdout holds only a command's result (a table, a summary)."""
    return contextlib.redirect_stdout(sys.stderr)


def table_text(headers, rows) -> str:
    """An aligned text table: a header, a rule, one line per row."""
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h))
              for i, h in enumerate(headers)]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(headers, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines.extend("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip() for row in rows)
    return "\n".join(lines)


def print_table(headers, rows):
    click.echo(table_text(headers, rows))


def given(**values) -> dict:
    """The values that were given (not None): command-line flags that override a config."""
    return {k: v for k, v in values.items() if v is not None}
