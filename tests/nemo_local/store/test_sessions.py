"""Sessions belong to their user; drafts keep their history."""

from __future__ import annotations

from pathlib import Path

import pytest

from nemo_local.limits import Limits, replace
from nemo_local.store import SessionsFull, Store


def test_ownership_history_and_loss(tmp_path: Path) -> None:
    store = Store(tmp_path)
    s = store.sessions.create("usr_a", "demo", "en")
    assert store.sessions.get(s.id, "usr_b") is None
    assert store.sessions.get(s.id, "usr_a") is not None
    assert store.sessions.latest_draft(s.id) == (0, None)
    store.sessions.save_draft(s.id, {"t": [], "v": 1}, "first")
    store.sessions.save_draft(s.id, {"t": [], "v": 2}, "second")
    assert store.sessions.latest_draft(s.id) == (2, {"t": [], "v": 2})
    assert store.sessions.draft_history(s.id) == [(1, "first"), (2, "second")]
    assert [store.sessions.next_edit_index(s.id) for _ in range(3)] == [0, 1, 2]
    store.sessions.lose_all()
    assert store.sessions.get(s.id, "usr_a") is None


def test_a_sessions_history_keeps_its_newest_versions_only(tmp_path: Path) -> None:
    store = Store(tmp_path, replace(Limits(), draft_versions=3))
    s = store.sessions.create("usr_a", "demo", "en")
    other = store.sessions.create("usr_a", "demo", "en")
    store.sessions.save_draft(other.id, {"t": [], "v": 0}, "first")
    versions = [store.sessions.save_draft(s.id, {"t": [], "v": i}, f"edit {i}") for i in range(1, 8)]
    assert versions == [1, 2, 3, 4, 5, 6, 7]  # numbers go on rising
    assert store.sessions.draft_history(s.id) == [(5, "edit 5"), (6, "edit 6"), (7, "edit 7")]
    assert store.sessions.latest_draft(s.id) == (7, {"t": [], "v": 7})
    assert store.sessions.draft_history(other.id) == [(1, "first")]  # another session's history stays
    assert int(store.db.one("SELECT COUNT(*) AS n FROM drafts")["n"]) == 4
    store.close()


def test_a_user_may_create_so_many_sessions(tmp_path: Path) -> None:
    store = Store(tmp_path)
    for _ in range(2):
        store.sessions.create("usr_a", "demo", "en", max_sessions=2)
    with pytest.raises(SessionsFull) as full:
        store.sessions.create("usr_a", "demo", "en", max_sessions=2)
    assert full.value.count == 2
    assert store.sessions.create("usr_b", "demo", "en", max_sessions=2)  # per user
    store.sessions.lose_all()  # sessions lost (the fault switch) no longer count
    assert store.sessions.create("usr_a", "demo", "en", max_sessions=2)
    assert int(store.db.one("SELECT COUNT(*) AS n FROM sessions WHERE user_id='usr_a'")["n"]) == 3
    store.close()
