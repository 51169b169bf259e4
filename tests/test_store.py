"""The MLflow store: safe first use by several processes at once, clear errors for a broken one."""

import sqlite3
import subprocess
import sys

import pytest
from click.testing import CliRunner

from interestkit.cli import cli

REGISTER = """
import sys
from interestkit import tracking
from interestkit.testing import FakeInterestModel
tracking.register_interest_model(FakeInterestModel("text", ["Golf", "Pets"]))
print("ok")
"""


@pytest.mark.integration
def test_three_processes_on_a_fresh_store_all_succeed_and_leave_it_usable(isolated_store, monkeypatch):
    """First use creates and migrates the tables: under a file lock, so concurrent starts do not race."""
    (isolated_store / "mlflow.db").unlink()  # a fresh store, not the tests' ready-made copy
    procs = [subprocess.Popen([sys.executable, "-c", REGISTER], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(3)]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err[-2000:] for _, err in results]
    listed = CliRunner().invoke(cli, ["models", "list", "--format", "json"])
    assert listed.exit_code == 0, listed.output
    import json

    versions = sorted(row["version"] for row in json.loads(listed.stdout))
    assert versions == [1, 2, 3]


@pytest.mark.integration
@pytest.mark.parametrize("damage", ["garbage", "unknown migration"])
def test_a_damaged_or_foreign_store_is_a_one_line_error_naming_it(isolated_store, damage):
    isolated_store.mkdir(parents=True, exist_ok=True)
    db = isolated_store / "mlflow.db"
    if damage == "garbage":
        db.write_bytes(b"this is not a database" * 100)
    else:  # a store written by an MLflow version this one does not know
        CliRunner().invoke(cli, ["models", "list"])  # creates it
        with sqlite3.connect(db) as connection:
            connection.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")
    # a new process: MLflow keeps an opened store for the rest of a process's life
    result = subprocess.run([sys.executable, "-m", "interestkit", "models", "list"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 2, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("Error: sqlite:///") and "mlflow.db: the MLflow store cannot be opened" in line
    assert "Traceback" not in result.stderr
