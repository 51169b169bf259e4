"""Real ``interestkit serve`` processes for the contract and fault tests: a TF-free fake hybrid
in the test's store, a server on a free loopback port, and a throwaway PostgreSQL cluster."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from support import LABELS, free_port, http

TOKEN = "contract-test-token"
INTERESTKIT = str(Path(sys.executable).with_name("interestkit"))


def build_fake_hybrid(root: Path, last: int = 5) -> str:
    """Fake text and image champions and a hybrid over them (window ``last``) in the current store."""
    from click.testing import CliRunner

    from interestkit.cli import cli
    from interestkit import tracking
    from interestkit.testing import FakeInterestModel

    text = FakeInterestModel("text", LABELS, keywords={"Golf": ["birdie"], "Pets": ["puppy", "dog"]})
    image = FakeInterestModel("image", LABELS[:-1])
    for model in (text, image):
        tracking.register_interest_model(model)
    ads = root / "ads.yaml"
    ads.write_text("ads:\n  - {ad_id: clubs, title: Golf clubs, interests: [Golf]}\n"
                   "  - {ad_id: kibble, title: Dog food, interests: [Pets]}\n")
    built = CliRunner().invoke(cli, ["models", "build-hybrid", "--ads", str(ads), "--last", str(last)])
    assert built.exit_code == 0, built.output
    return "models:/interestkit-hybrid@champion"


class Server:
    """One ``interestkit serve`` process on 127.0.0.1 (its log in ``log``)."""

    def __init__(self, state: str, log: Path, token: str | None = TOKEN, port: int | None = None, args=()):
        self.state, self.log, self.token, self.args = state, log, token, list(args)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None

    def start(self, wait: float = 120) -> "Server":
        return self.launch().ready(wait)

    def launch(self) -> "Server":
        """The process started, not waited for (``ready``): replicas start side by side."""
        env = dict(os.environ, INTERESTKIT_SERVE_TOKEN=self.token or "")
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [INTERESTKIT, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--state", self.state,
                 "--reload-seconds", "0", "--graceful-seconds", "5", "--no-access-log", *self.args],
                env=env, stdout=log, stderr=subprocess.STDOUT)
        return self

    def ready(self, wait: float = 120) -> "Server":
        """Waits until the launched process answers /health with 200."""
        deadline = time.time() + wait
        while time.time() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"interestkit serve exited with {self.process.returncode}: {self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        self.stop()
        pytest.fail(f"interestkit serve did not answer within {wait} s: {self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def call(self, method, path, payload=None, timeout=30):
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return http(method, self.url + path, payload, headers=headers, timeout=timeout)

    def kill(self):
        """``kill -9``: no shutdown, no flush."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


# --- PostgreSQL ------------------------------------------------------------------------------


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda p: [int(x) for x in Path(p).parts[-3].split(".") if x.isdigit()])
    return Path(found[-1]).parent if found else None


def need_postgres() -> Path:
    """The folder of PostgreSQL's programs; skip (fail in CI) where it is not installed."""
    folder = postgres_bin()
    if folder is None:
        message = "PostgreSQL is not installed (apt-get install postgresql; .ci/run installs it)"
        if os.environ.get("INTERESTKIT_CI") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return folder


class Postgres:
    """A throwaway cluster the test controls (start, stop, restart), on a free loopback port."""

    def __init__(self, folder: Path | None = None):
        self.bin = folder or need_postgres()
        self.dir = Path(tempfile.mkdtemp(prefix="interestkit-pgtest-"))
        self.port = free_port()
        self.run_as = []
        if os.geteuid() == 0:  # initdb refuses root
            if subprocess.run(["id", "-u", "postgres"], capture_output=True).returncode != 0:
                subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                                "postgres"], check=True)
            shutil.chown(self.dir, "postgres")
            self.run_as = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.dir / "data"), "-U", "interestkit", "-A", "trust", "--no-sync")
        self.url = f"postgresql://interestkit@127.0.0.1:{self.port}/postgres"

    def _run(self, program, *args):
        done = subprocess.run([*self.run_as, str(self.bin / program), *args], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, f"{program}: {done.stderr or done.stdout}"

    def start(self):
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "server.log"), "-w", "-t", "60",
                  "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1", "start")
        return self

    def stop(self, mode="fast"):
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", mode, "-w", "stop")

    def remove(self):
        subprocess.run([*self.run_as, str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate",
                        "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)
