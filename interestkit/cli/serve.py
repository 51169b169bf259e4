"""``interestkit serve``: interests and ads over HTTP from a hybrid model (see docs/serving.md)."""

from __future__ import annotations

import logging
import sys

import click

from .. import settings, tracking
from ..data.paths import MediaPolicy
from ..modeling.cache import FeatureCache
from ..serve.app import create_app
from ..serve.security import Limits, check_bind, load_token
from ..serve.server import uvicorn_server
from ..serve.service import InterestService, ServeOptions
from .options import ranking_flags, rule_flags

#: the ranking options a server may change at start: those of the user level (the per-post
#: scores it keeps were made with the hybrid's calibration and mode)
SERVED = ("last", "aggregation", "half_life_days", "top_k", "top_n_ads", "posts_per_interest")
from .output import echo_err


def _loader(model_uri, media_root, options: dict):
    """() -> (pipeline, info): the hybrid with this process's media root, cache and ranking
    options (``options``: those given on the command line; the others are the hybrid's)."""
    def load():
        pipeline, info = tracking.load_hybrid(model_uri, cache=FeatureCache())
        changes = {}
        if media_root:
            changes["media"] = MediaPolicy(media_root, hint=settings.SERVE_MEDIA_HINT)
        if options:
            changes["options"] = options
        return (pipeline.replace(**changes) if changes else pipeline), info
    return load


def _watcher(model_uri):
    """() -> the version the URI's alias points at now (None for a pinned version: no reload)."""
    name, alias, _ = tracking.parse_model_uri(model_uri)
    if alias is None:
        return None
    return lambda: tracking.alias_version(name, alias)


def _access_log():
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("interestkit.serve.access")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address (loopback by default).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--model", "model_uri", default="models:/interestkit-hybrid@champion", show_default=True)
@click.option("--state", "--db", "state", help="Users' windows: a sqlite file or postgresql://user@host/db shared "
              "by replicas (default <store>/serving.db).")
@ranking_flags(*SERVED, overrides="the hybrid's")
@click.option("--media-root", type=click.Path(file_okay=False),
              help="Accept image paths relative to this folder (default: the hybrid's build-time setting).")
@click.option("--token-file", type=click.Path(dir_okay=False),
              help="Bearer token required on every route but /health (or INTERESTKIT_SERVE_TOKEN).")
@click.option("--insecure", is_flag=True, help="Allow a non-loopback --host without a token.")
@rule_flags(ServeOptions, "reload_seconds", "retention_days", "batch_max_posts", "batch_max_photos", "batch_wait_ms",
            param="serve_options", defaults={"reload_seconds": 30})
@click.option("--max-body-bytes", default=Limits.max_body_bytes, show_default=True, type=click.IntRange(min=1))
@click.option("--max-posts", default=Limits.max_posts, show_default=True, type=click.IntRange(min=1),
              help="Posts per update.")
@click.option("--read-timeout", default=Limits.read_timeout, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds a client has to send a request's headers, and then its body.")
@click.option("--graceful-seconds", default=30, show_default=True, type=click.IntRange(min=0),
              help="On SIGTERM, how long in-flight requests may take to finish.")
@click.option("--access-log/--no-access-log", default=True, show_default=True,
              help="One JSON line per request on stderr.")
def serve(host, port, model_uri, state, options, media_root, token_file, insecure, serve_options, max_body_bytes,
          max_posts, read_timeout, graceful_seconds, access_log):
    """Serve interests and ads over HTTP from a hybrid model (see docs/serving.md)."""
    token = load_token(token_file)
    check_bind(host, token, insecure)
    limits = Limits(max_body_bytes=max_body_bytes, max_posts=max_posts, read_timeout=read_timeout)
    service = InterestService(_loader(model_uri, media_root, options), state or str(settings.store_dir() / "serving.db"),
                              serve_options, watch=_watcher(model_uri), limits=limits)
    if access_log:
        _access_log()
    server = uvicorn_server(create_app(service, token, limits), host, port, limits, graceful_seconds)
    info = service.model_info
    purged = f"; {service.purged} posts past retention deleted" if serve_options.retention_days else ""
    echo_err(f"serving {info.get('name')} version {info.get('version')} on http://{host}:{port} "
             f"(state in {service.store.describe()}; {'token required' if token else 'no token'}{purged}; "
             "Ctrl-C or SIGTERM to stop)")
    server.run()
    echo_err("stopped")
