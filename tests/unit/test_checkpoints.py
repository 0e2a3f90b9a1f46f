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


def _open_at_once(path: str, barrier) -> str:
    """A batch worker: open the shared checkpoint file when every other worker does."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    from agents.planner import setup_checkpointer

    conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
    barrier.wait()
    try:
        setup_checkpointer(SqliteSaver(conn))
        conn.execute("SELECT count(*) FROM checkpoints").fetchall()
        return "ok"
    except sqlite3.OperationalError as e:
        return str(e)
    finally:
        conn.close()


def test_workers_that_open_a_fresh_checkpoint_file_together_all_succeed(tmp_path):
    """The pool catalogue test failed with "database is locked" in ``SqliteSaver.setup``: switching a
    fresh file to WAL fails at once when another process does it too (no busy wait there). Four
    processes open a fresh file at the same moment, eight times (before the retry: 6 of 60 failed in
    15 such rounds)."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    results: list[str] = []
    with ctx.Manager() as m, ctx.Pool(4) as pool:
        for i in range(8):
            path = str(tmp_path / f"ck{i}.sqlite")
            results += pool.starmap(_open_at_once, [(path, m.Barrier(4))] * 4)
    assert results == ["ok"] * 32, results


def test_the_setup_retry_gives_up_on_other_errors_and_after_its_wait(tmp_path):
    """Only a lock is waited for, and not for ever: a broken file's error is raised at once."""
    import pytest

    from agents.planner import setup_checkpointer

    calls = []

    class Flaky:
        def setup(self):
            calls.append(1)
            if len(calls) < 3:
                raise sqlite3.OperationalError("database is locked")

    assert isinstance(setup_checkpointer(Flaky()), Flaky) and len(calls) == 3

    class Broken:
        def setup(self):
            raise sqlite3.OperationalError("file is not a database")

    with pytest.raises(sqlite3.OperationalError, match="not a database"):
        setup_checkpointer(Broken())

    class Locked:
        def setup(self):
            raise sqlite3.OperationalError("database is locked")

    with pytest.raises(sqlite3.OperationalError, match="locked"):
        setup_checkpointer(Locked(), wait_s=0.3)  # a lock held past the wait is raised, not waited on for ever
