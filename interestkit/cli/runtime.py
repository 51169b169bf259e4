"""``--runtime auto|onnx|tf`` on the scoring commands: which runtime scores the models.

``auto`` (default) scores a model through its ONNX export when it has one, on TensorFlow
otherwise; ``tf`` keeps the Keras path (to check the export against it); ``onnx`` fails
for a model without an export. The choice is passed on as ``INTERESTKIT_RUNTIME``
(``runtime.choice``), so the processes a command starts (MLflow's, Spark's workers)
make the same one.
"""

from __future__ import annotations

import functools

import click

from ..runtime.choice import CHOICES, set_runtime

HELP = ("Score with the model's ONNX export (onnx), with TensorFlow (tf), or the export when the model has one "
        "(auto, the default; or INTERESTKIT_RUNTIME).")


def add_runtime_option(command: click.Command) -> click.Command:
    """Give ``command`` a ``--runtime`` option, applied before its callback runs."""
    command.params.append(click.Option(["--runtime"], type=click.Choice(CHOICES), default=None, help=HELP))
    callback = command.callback

    @functools.wraps(callback)
    def with_runtime(*args, runtime=None, **kwargs):
        set_runtime(runtime)
        return callback(*args, **kwargs)

    command.callback = with_runtime
    return command
