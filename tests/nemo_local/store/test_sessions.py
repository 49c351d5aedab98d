"""Sessions belong to their user; drafts keep their history."""

from __future__ import annotations

from pathlib import Path

from nemo_local.store import Store


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
