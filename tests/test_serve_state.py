"""Users' windows shared by replicas: no lost update on sqlite or PostgreSQL, and none across a SIGTERM.

PostgreSQL comes from ``INTERESTKIT_TEST_POSTGRES`` (``.ci/run`` starts a throwaway
cluster and sets it); without it the PostgreSQL cases skip, except in CI, where they fail.
"""

import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
from click.testing import CliRunner

from interestkit.cli import cli
from support import free_port, http, register_fakes, serving
from test_serve_app import make_service

POSTGRES_ENV = "INTERESTKIT_TEST_POSTGRES"


@pytest.fixture
def postgres():
    """A fresh PostgreSQL database for the test; its URL."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        message = f"no PostgreSQL: set {POSTGRES_ENV} to a server's URL (.ci/run starts one)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    import psycopg

    name = f"ik_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL at {POSTGRES_ENV} is not reachable: {error}")
    admin.execute(f"CREATE DATABASE {name}")
    base, _, _ = url.rpartition("/")
    yield f"{base}/{name}"
    admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
    admin.close()


def hammer(urls, users, clients, posts_each):
    """``clients`` threads, each posting ``posts_each`` posts to one of ``users`` through one of ``urls``;
    ``({user: [acknowledged post ids]}, [errors])``."""
    acknowledged, errors, lock = {u: [] for u in users}, [], threading.Lock()

    def client(index):
        user = users[index % len(users)]
        for n in range(posts_each):
            post_id = f"c{index:02d}-{n}"
            url = urls[(index + n) % len(urls)]
            status, body = http("POST", f"{url}/users/{user}/posts", [{"post_id": post_id, "text": f"golf {n}"}])
            with lock:
                if status == 200 and post_id in body["window"]:
                    acknowledged[user].append(post_id)
                else:
                    errors.append((status, body))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    return acknowledged, errors


def assert_nothing_lost(url, acknowledged):
    for user, ids in acknowledged.items():
        status, body = http("GET", f"{url}/users/{user}/interests")
        assert status == 200, body
        assert sorted(body["window"]) == sorted(ids), user


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def test_64_clients_on_8_users_lose_no_update(backend, tmp_path, request):
    state = request.getfixturevalue("postgres") if backend == "postgres" else tmp_path / "many.db"
    svc = make_service(tmp_path, last=0, batch_wait_ms=2)  # last=0: every post stays in the window
    svc.store.close()
    svc.store = type(svc.store)(state)
    with serving(svc) as url:
        acknowledged, errors = hammer([url], [f"user{i}" for i in range(8)], clients=64, posts_each=3)
        assert not errors
        assert sum(map(len, acknowledged.values())) == 64 * 3
        assert_nothing_lost(url, acknowledged)


@pytest.mark.integration
def test_two_replicas_updating_one_user_on_postgres(postgres, tmp_path):
    one = make_service(tmp_path, "a.db", last=0)
    two = make_service(tmp_path, "b.db", last=0)
    for svc in (one, two):
        svc.store.close()
        svc.store = type(svc.store)(postgres)
    with serving(one) as first, serving(two) as second:
        acknowledged, errors = hammer([first, second], ["shared"], clients=8, posts_each=6)
        assert not errors and len(acknowledged["shared"]) == 48
        assert_nothing_lost(first, acknowledged)
        assert_nothing_lost(second, acknowledged)
        status, _ = http("DELETE", f"{first}/users/shared")
        assert status == 200
        status, body = http("GET", f"{second}/users/shared/interests")  # gone for every replica
        assert status == 404 and body["error"]["code"] == 404


def _start_serve(port, state, env):
    process = subprocess.Popen([sys.executable, "-m", "interestkit", "serve", "--port", str(port), "--state", state,
                                "--last", "1000", "--reload-seconds", "0", "--no-access-log"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline:
        if process.poll() is not None:
            pytest.fail("serve exited: " + process.stderr.read().decode()[-2000:])
        try:
            if http("GET", f"http://127.0.0.1:{port}/health", timeout=2)[0] == 200:
                return process
        except OSError:
            pass
        time.sleep(0.3)
    process.kill()
    pytest.fail("serve did not start")


@pytest.mark.slow
@pytest.mark.integration
def test_sigterm_under_load_keeps_every_acknowledged_update(tmp_path):
    register_fakes()
    built = CliRunner().invoke(cli, ["models", "build-hybrid"])
    assert built.exit_code == 0, built.output
    env = dict(os.environ)
    state, port = str(tmp_path / "term.db"), free_port()
    url = f"http://127.0.0.1:{port}"
    server = _start_serve(port, state, env)
    acknowledged, stop = {f"user{i}": [] for i in range(4)}, threading.Event()

    def client(index):
        user, n = f"user{index % 4}", 0
        while not stop.is_set():
            post_id = f"k{index}-{n}"
            try:
                status, body = http("POST", f"{url}/users/{user}/posts", [{"post_id": post_id, "text": "golf"}],
                                    timeout=10)
            except OSError:  # refused or reset: the server is going away
                return
            if status == 200:
                acknowledged[user].append(post_id)
            n += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    [t.start() for t in threads]
    deadline = time.time() + 120  # under load: SIGTERM once the clients' updates are flowing
    while sum(map(len, acknowledged.values())) < 16 and time.time() < deadline:
        time.sleep(0.05)
    assert sum(map(len, acknowledged.values())) >= 16, "the server acknowledged too few updates before SIGTERM"
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=60) == 0, server.stderr.read().decode()[-2000:]
    stop.set()
    [t.join() for t in threads]
    assert sum(map(len, acknowledged.values())) > 0
    again = _start_serve(port, state, env)
    try:
        for user, ids in acknowledged.items():
            status, body = http("GET", f"{url}/users/{user}/interests")
            assert status == 200 and set(ids) <= set(body["window"]), user
    finally:
        again.terminate()
        again.wait(timeout=60)
