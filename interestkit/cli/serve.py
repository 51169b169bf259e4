"""``interestkit serve``: interests and ads over HTTP from a hybrid model (see docs/serving.md)."""

from __future__ import annotations

import click

from .. import settings, tracking
from ..data.paths import MediaPolicy
from ..modeling.cache import FeatureCache
from ..serve.http import make_server
from ..serve.service import InterestService
from .output import echo_err


def _loader(model_uri, media_root, window):
    """() -> (pipeline, info): the hybrid with this process's media root, cache and window."""
    def load():
        pipeline, info = tracking.load_hybrid(model_uri, cache=FeatureCache())
        changes = {}
        if media_root:
            changes["media"] = MediaPolicy(media_root)
        if window:
            changes["options"] = {"last": window}
        return (pipeline.replace(**changes) if changes else pipeline), info
    return load


def _watcher(model_uri):
    """() -> the version the URI's alias points at now (None for a pinned version: no reload)."""
    name, alias, _ = tracking.parse_model_uri(model_uri)
    if alias is None:
        return None
    return lambda: tracking.alias_version(name, alias)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address (loopback by default).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--model", "model_uri", default="models:/interestkit-hybrid@champion", show_default=True)
@click.option("--db", "db_path", type=click.Path(), help="Scores and windows database (default <store>/serving.db).")
@click.option("--window", default=None, type=click.IntRange(min=1),
              help="Posts kept per user (default: the hybrid's 'last' option).")
@click.option("--media-root", type=click.Path(file_okay=False),
              help="Accept image paths relative to this folder (default: the hybrid's build-time setting).")
@click.option("--reload-seconds", default=30, show_default=True, type=click.IntRange(min=0),
              help="Check for a newly promoted version of the served alias this often (0: never).")
def serve(host, port, model_uri, db_path, window, media_root, reload_seconds):
    """Serve interests and ads over HTTP from a hybrid model (see docs/serving.md)."""
    db = db_path or str(settings.store_dir() / "serving.db")
    service = InterestService(_loader(model_uri, media_root, window), db, watch=_watcher(model_uri),
                              reload_seconds=reload_seconds)
    server = make_server(service, host, port)
    info = service.model_info
    echo_err(f"serving {info.get('name')} version {info.get('version')} on http://{host}:{server.server_port} "
             f"(state in {db}; Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        echo_err("stopped")
    finally:
        service.close()
        server.server_close()
