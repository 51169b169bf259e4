"""``interestkit models export``: ONNX exports for registered versions logged without one."""

from __future__ import annotations

import click

from ..data.datasets import load_image_dataset
from ..errors import ModelError
from ..tracking import registry
from ..tracking.exports import export_registered
from .output import echo_err


@click.command("export")
@click.argument("uris", nargs=-1)
@click.option("--calibration", type=click.Path(exists=True),
              help="Photo folder or table whose photos calibrate an image model's int8 quantisation "
                   "(without it, an image model is exported in float32).")
@click.option("--photos", type=click.IntRange(1, 5000), default=200, show_default=True,
              help="Calibration photos drawn from --calibration.")
def export_command(uris, calibration, photos):
    """Write the ONNX export of registered versions (default: the text and image champions) into their folders."""
    uris = uris or tuple(f"models:/{registry.registered_name(m)}@{registry.CHAMPION}" for m in ("text", "image"))
    sources = load_image_dataset(calibration, checked=False).inputs if calibration else None
    failed = 0
    for uri in uris:
        try:
            export_registered(uri, sources, photos, log=echo_err)
        except ModelError as error:
            failed += 1
            echo_err(f"error: {error}")
    if failed:
        raise SystemExit(1)
