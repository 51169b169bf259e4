"""The serving state: each user's posts (as received), their scores and the model that scored them.

sqlite, one connection guarded by a lock, every change in one transaction: a restart
loses nothing, and a user's window is replaced whole.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS posts (
    user_id TEXT NOT NULL,
    post_id TEXT NOT NULL,
    created_at TEXT,
    seq INTEGER NOT NULL,
    record TEXT NOT NULL,
    scores TEXT NOT NULL,
    model_key TEXT NOT NULL,
    PRIMARY KEY (user_id, post_id)
);
CREATE INDEX IF NOT EXISTS posts_by_user ON posts (user_id);
"""


class Store:
    """Per-post scores and rolling windows in sqlite (one connection, guarded by a lock)."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)
        self.lock = threading.Lock()

    def rows(self, user_id):
        with self.lock:
            cur = self.db.execute("SELECT post_id, created_at, seq, record, scores, model_key FROM posts "
                                  "WHERE user_id = ?", (user_id,))
            return [dict(zip(("post_id", "created_at", "seq", "record", "scores", "model_key"), r)) for r in cur]

    def next_seq(self):
        with self.lock:
            return (self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM posts").fetchone()[0] or 0) + 1

    def replace(self, user_id, rows, keep_ids):
        """Write ``rows`` and drop the user's posts outside ``keep_ids``, in one transaction."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.executemany(
                    "INSERT OR REPLACE INTO posts (user_id, post_id, created_at, seq, record, scores, model_key) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(user_id, r["post_id"], r["created_at"], r["seq"], r["record"], r["scores"], r["model_key"])
                     for r in rows])
                placeholders = ",".join("?" * len(keep_ids)) or "''"
                self.db.execute(f"DELETE FROM posts WHERE user_id = ? AND post_id NOT IN ({placeholders})",
                                (user_id, *keep_ids))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
