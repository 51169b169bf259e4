"""Helpers the tests share: fake champions in the test's store, a server on a free port, HTTP."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager

from interestkit.testing import FakeInterestModel
from interestkit.testing.synthetic import make_workspace
from store_snapshot import registered_once

LABELS = ("Golf", "Cooking", "Pets", "Travel", "Music", "Fitness", "Art", "Vehicle")
ADS = """ads:
  - {ad_id: clubs, title: Golf clubs, interests: [Golf], weight: 2}
  - {ad_id: kibble, title: Dog food, interests: [Pets]}
  - {ad_id: pans, title: Cast-iron pans, interests: [Cooking, Food]}
  - {ad_id: gone, title: Expired, interests: [Golf], weight: 9, ends: 2020-01-01}
"""


def small_workspace(root, users=4):
    """A synthetic workspace: 8 interests, ``users`` users of 20 posts, 32-pixel photos."""
    return make_workspace(root, users=users, images_per_interest=3, captions_per_interest=6, image_size=32)


def register_fakes(text_labels=LABELS, image_labels=LABELS[:-1], temperature=1.3) -> dict:
    """Fake text and image champions in the current store; ``{"text": uri, "image": uri}``
    (registered once per process, then copied into empty stores: ``store_snapshot``)."""
    from interestkit import tracking

    def register():
        text = FakeInterestModel("text", text_labels, temperature=temperature,
                                 keywords={"Golf": ["birdie", "fairway"], "Pets": ["puppy", "dog"]})
        image = FakeInterestModel("image", image_labels, temperature=temperature)
        return {m: tracking.register_interest_model(model)["uri"] for m, model in (("text", text), ("image", image))}

    return registered_once(("fakes", tuple(text_labels), tuple(image_labels), temperature), register)


def register_fakes_and_hybrid(*args, ads=None) -> str:
    """``register_fakes()``, then ``interestkit models build-hybrid ARGS [--ads ADS]`` in the test's
    store (kept and copied like the fakes: the ads file goes in by content); the command's output."""
    from click.testing import CliRunner

    from interestkit.cli import cli

    def register():
        register_fakes()
        built = CliRunner().invoke(cli, ["models", "build-hybrid", *args, *(["--ads", str(ads)] if ads else [])])
        assert built.exit_code == 0, built.output
        return {"output": built.output}

    return registered_once(("fakes+hybrid", args, ads.read_text(encoding="utf-8") if ads else None),
                           register)["output"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, payload=None, raw=None, headers=None, timeout=60):
    """(status, JSON body) of one request."""
    data = raw if raw is not None else (json.dumps(payload).encode() if payload is not None else None)
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        body = error.read()
        try:
            return error.code, json.loads(body)
        except ValueError:
            return error.code, body.decode(errors="replace")


@contextmanager
def serving(service, token=None, limits=None):
    """``interestkit serve``'s app over ``service`` on uvicorn, on a free port, in a thread; yields its URL."""
    from interestkit.serve.app import create_app
    from interestkit.serve.server import uvicorn_server

    server = uvicorn_server(create_app(service, token, limits), "127.0.0.1", 0, limits or service.limits, 5)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and thread.is_alive() and time.time() < deadline:
        time.sleep(0.01)
    assert server.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
