"""The job checkpoint file is shared by every batch worker: one that finds it locked waits, it does not fail."""

from __future__ import annotations

import sqlite3
import threading
import time

from agents.planner import open_checkpointer
from tools.core.workspace import Workspace


def test_a_checkpointer_waits_for_another_writers_lock(tmp_path):
    """The Ray batch test failed once with "database is locked": sqlite's default wait is 5 s. Another
    process holds the file's write lock for 6 s; setting up the checkpointer then succeeds."""
    ws = Workspace(tmp_path / "ws")
    path = ws.inside("checkpoints.sqlite")
    other = sqlite3.connect(str(path), check_same_thread=False)
    other.execute("CREATE TABLE IF NOT EXISTS other (x INTEGER)")
    other.commit()
    other.execute("BEGIN EXCLUSIVE")  # the other writer's lock
    released = threading.Event()

    def release() -> None:
        time.sleep(6.0)
        other.rollback()
        released.set()

    t = threading.Thread(target=release)
    t.start()
    try:
        saver = open_checkpointer(ws)
        saver.setup()  # PRAGMA journal_mode=WAL + tables: needs the lock the other writer holds
        assert released.is_set()  # it waited for the lock rather than failing
        assert saver.conn.execute("SELECT count(*) FROM checkpoints").fetchone() == (0,)
    finally:
        t.join()
        other.close()
