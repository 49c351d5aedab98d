"""Database.tx: a nested transaction joins the outer one; a COMMIT that fails leaves no transaction open."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from nemo_local.store.db import Database


class _FailingCommit:
    """The connection, except that its next COMMIT fails (as a full disk or a busy database makes it)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn, self.fail = conn, True

    def execute(self, sql: str, *args: Any) -> Any:
        if sql == "COMMIT" and self.fail:
            self.fail = False
            raise sqlite3.OperationalError("database or disk is full")
        return self.conn.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


def test_a_failed_commit_rolls_back_and_the_next_transaction_starts(tmp_path: Path) -> None:
    db = Database(tmp_path / "nemo.db")
    with db.tx() as conn:
        conn.execute("CREATE TABLE t (x INTEGER)")
    real = db._conn
    db._conn = _FailingCommit(real)  # type: ignore[assignment]
    with pytest.raises(sqlite3.OperationalError, match="full"), db.tx() as conn:
        conn.execute("INSERT INTO t VALUES (1)")
    assert not real.in_transaction
    with db.tx() as conn:  # before: "cannot start a transaction within a transaction", for good
        conn.execute("INSERT INTO t VALUES (2)")
    assert [r[0] for r in real.execute("SELECT x FROM t")] == [2]


def test_a_nested_transaction_joins_the_outer_one(tmp_path: Path) -> None:
    db = Database(tmp_path / "nemo.db")
    with db.tx() as conn:
        conn.execute("CREATE TABLE t (x INTEGER)")
    with pytest.raises(RuntimeError), db.tx() as outer:
        with db.tx() as inner:
            inner.execute("INSERT INTO t VALUES (1)")
        outer.execute("INSERT INTO t VALUES (2)")
        raise RuntimeError("the outer one fails")
    assert db._conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 0  # the inner write went too
