"""Replicas and faults with real processes: two ``interestkit serve`` on one PostgreSQL, ``kill -9``
of a replica under load and of the only one mid-write, and PostgreSQL restarted under load.

Every load is bounded (a fixed number of requests, each with a timeout) and on loopback. A
post is *acknowledged* when its update answered 200: acknowledged posts must survive any of
these faults, and an update is all-or-nothing (no half-written window is ever served).
"""

import http.client
import threading
import time
import urllib.error
from concurrent.futures import ThreadPoolExecutor

import pytest

from serve_process import Postgres, Server, build_fake_hybrid

pytestmark = pytest.mark.slow
WINDOW = 1000  # larger than any user's posts here: the window is every post the user has


@pytest.fixture
def postgres():
    cluster = Postgres().start()
    yield cluster
    cluster.remove()


def send(server, user, posts, timeout=30):
    """(status, body) of one update; status None when the connection failed or the answer was cut
    off (not acknowledged)."""
    try:
        return server.call("POST", f"/users/{user}/posts", posts, timeout=timeout)
    except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError, OSError):
        return None, None


def window_of(server, user):
    status, body = server.call("GET", f"/users/{user}/interests")
    assert status in (200, 404), body
    return body if status == 200 else None


def updates(client, count, size=1):
    """``count`` updates of ``size`` posts each for one client, captions only (fast to score)."""
    return [[{"post_id": f"c{client}-u{n}-p{k}", "text": f"birdie golf puppy {client} {n} {k}",
              "created_at": f"2026-01-{1 + (n % 28):02d}T{k:02d}:{client:02d}:00Z"} for k in range(size)]
            for n in range(count)]


def run_load(targets, clients, per_client, users, size=1, stop=None, done=None):
    """Clients sending updates in turn to ``targets`` (servers), users shared between clients.

    Returns ``[(user, post_ids, status)]`` for every update sent (appended to ``done`` as they
    answer, when given)."""
    done, lock = ([] if done is None else done), threading.Lock()

    def client(c):
        for n, posts in enumerate(updates(c, per_client, size)):
            if stop is not None and stop.is_set():
                return
            user = users[(c + n) % len(users)]
            status, _ = send(targets[(c + n) % len(targets)], user, posts)
            with lock:
                done.append((user, [p["post_id"] for p in posts], status))

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    return done


def acknowledged(done):
    by_user = {}
    for user, ids, status in done:
        if status == 200:
            by_user.setdefault(user, set()).update(ids)
    return by_user


def replicas(tmp_path, postgres):
    """Replicas a and b on ``postgres``, started side by side once its tables exist (as when a first
    replica has run): the test is about their updates, not about two processes creating tables."""
    from interestkit.serve.audiences import AudienceIndex
    from interestkit.serve.store import Store

    store = Store(postgres.url, pool_size=1)
    AudienceIndex(store)
    store.close()
    a, b = Server(postgres.url, tmp_path / "a.log"), Server(postgres.url, tmp_path / "b.log")
    a.launch(), b.launch()
    try:
        return a.ready(), b.ready()
    except BaseException:
        a.stop()
        b.stop()
        raise


def test_two_replicas_take_interleaved_updates_and_agree(tmp_path, postgres):
    build_fake_hybrid(tmp_path, last=WINDOW)
    a, b = replicas(tmp_path, postgres)
    try:
        users = [f"user{i}" for i in range(4)]
        done = run_load([a, b], clients=8, per_client=15, users=users)
        assert len(done) == 120 and [s for *_, s in done if s != 200] == []
        sent = acknowledged(done)
        for user in users:
            left, right = window_of(a, user), window_of(b, user)
            assert set(left["window"]) == sent[user] and len(left["window"]) == len(sent[user])  # 0 lost posts
            assert left == right  # the same answer from both replicas
        assert "Traceback" not in a.tail() + b.tail()
    finally:
        a.stop()
        b.stop()


def test_kill_9_of_one_replica_under_load_loses_no_acknowledged_post(tmp_path, postgres):
    build_fake_hybrid(tmp_path, last=WINDOW)
    a, b = replicas(tmp_path, postgres)
    try:
        users = [f"user{i}" for i in range(4)]
        done = []
        killer = kill_after(b, done)
        run_load([a, b], clients=6, per_client=15, users=users, size=3, done=done)
        killer.join()
        assert b.process.returncode == -9
        assert killer.answered_before_kill < len(done)  # the kill landed mid-load
        statuses = {s for *_, s in done}
        assert None in statuses and statuses <= {200, None}, statuses  # refused connections, never an error answer
        sent = acknowledged(done)
        for user in users:
            assert sent[user] <= set(window_of(a, user)["window"])
        b.start()  # the restarted replica serves the same windows
        for user in users:
            assert window_of(a, user) == window_of(b, user)
    finally:
        a.stop()
        b.stop()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_kill_9_of_the_only_replica_mid_write_keeps_every_acknowledged_update_whole(tmp_path, backend, request):
    state = str(tmp_path / "serving.db") if backend == "sqlite" else request.getfixturevalue("postgres").url
    build_fake_hybrid(tmp_path, last=WINDOW)
    server = Server(state, tmp_path / "serve.log").start()
    try:
        users = [f"user{i}" for i in range(3)]
        done = []
        killer = kill_after(server, done)
        run_load([server], clients=6, per_client=20, users=users, size=4, done=done)
        killer.join()
        assert server.process.returncode == -9 and None in {s for *_, s in done}
        assert killer.answered_before_kill < len(done)  # the kill landed mid-load
        server.start()  # on the same state
        windows = {user: set((window_of(server, user) or {"window": []})["window"]) for user in users}
        for user, ids, status in done:
            kept = [i in windows[user] for i in ids]
            if status == 200:
                assert all(kept), (user, ids)  # acknowledged: every post is there
            assert all(kept) or not any(kept), (user, ids, kept)  # an update is whole or absent, never half
        for user in users:  # and what is served is a consistent answer over the window
            answer = window_of(server, user)
            if answer:
                assert answer["posts_used"] == len(answer["window"]) and answer["interests"]
    finally:
        server.stop()


def test_postgres_restarted_under_load_gives_503_then_recovers_by_itself(tmp_path, postgres):
    build_fake_hybrid(tmp_path, last=WINDOW)
    server = Server(postgres.url, tmp_path / "serve.log").start()
    try:
        seen, stop = [], threading.Event()

        def load():
            for n, posts in enumerate(updates(0, 2000)):  # bounded: 2,000 updates at most
                if stop.is_set():
                    return
                status, body = send(server, "user0", posts, timeout=20)
                seen.append((time.monotonic(), posts[0]["post_id"], status, body))
                time.sleep(0.02)

        worker = threading.Thread(target=load)
        worker.start()
        assert wait_for(lambda: sum(s == 200 for _, _, s, _ in seen) >= 10), "no update answered before the stop"
        postgres.stop()
        down = time.monotonic()
        # the load keeps going: wait for the 503s it gets (instead of a fixed time)
        wait_for(lambda: sum(s == 503 and t > down for t, _, s, _ in seen) >= 3)
        status, body = server.call("GET", "/users/user0/interests")
        assert status == 503 and body["error"]["code"] == 503 and "state store is unavailable" in body["error"]["message"]
        assert server.call("GET", "/health")[0] == 200  # the health check does not need the database
        postgres.start()
        up = time.monotonic()
        wait_for(lambda: sum(t > up and s == 200 for t, _, s, _ in seen[-10:]) >= 5)  # recovered, and stays up
        stop.set()
        worker.join(timeout=60)
        statuses = [s for _, _, s, _ in seen]
        assert set(statuses) <= {200, 503}, {s for s in statuses}  # never a 500, never a dropped connection
        assert any(s == 503 and t > down for t, _, s, _ in seen), "no 503 while PostgreSQL was away"
        recovered = [t for t, _, s, _ in seen if s == 200 and t > up]
        assert recovered, "the service did not recover after PostgreSQL came back"
        assert all(body["error"]["field"] is None for *_, s, body in seen if s == 503)
        window = set(window_of(server, "user0")["window"])
        assert {pid for _, pid, s, _ in seen if s == 200} <= window  # acknowledged posts survived the restart
        status, _ = server.call("GET", "/health")
        assert status == 200
    finally:
        server.stop()


def wait_for(condition, timeout=60):
    """Polls ``condition`` until it holds (True) or ``timeout`` seconds have passed (False)."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


def kill_after(server, done, answered=20, deadline=120):
    """A started thread that ``kill -9``s ``server`` once ``answered`` updates have answered
    (mid-load however fast or slow the machine is), or at ``deadline`` seconds."""
    def wait_then_kill():
        end = time.monotonic() + deadline
        while len(done) < answered and time.monotonic() < end:
            time.sleep(0.02)
        killer.answered_before_kill = len(done)
        server.kill()

    killer = threading.Thread(target=wait_then_kill)
    killer.answered_before_kill = None
    killer.start()
    return killer
