"""The per-user questions asked on every upload, render and new session (storage quota, active renders,
the fair queue, the session count) are answered from an index, not by scanning every user's rows under
the database's one lock."""

from __future__ import annotations

from pathlib import Path

import pytest

from nemo_local.store import Store

PER_USER_QUERIES = [
    "SELECT COALESCE(SUM(size), 0) FROM uploads WHERE user_id=?",
    "SELECT COALESCE(SUM(size), 0) FROM renders WHERE user_id=? AND status='completed'",
    "SELECT COUNT(*) FROM renders WHERE user_id=? AND status IN ('pending', 'processing')",
    "SELECT COALESCE(MAX(started_at), 0) FROM renders WHERE user_id=?",
    "SELECT COUNT(*) FROM sessions WHERE user_id=? AND lost=0",
]


@pytest.mark.parametrize("query", PER_USER_QUERIES)
def test_per_user_queries_use_an_index(tmp_path: Path, query: str) -> None:
    store = Store(tmp_path)
    try:
        plan = " ".join(str(r["detail"]) for r in store.db.all("EXPLAIN QUERY PLAN " + query, ("u",)))
    finally:
        store.close()
    assert "INDEX" in plan and not plan.startswith("SCAN"), plan
