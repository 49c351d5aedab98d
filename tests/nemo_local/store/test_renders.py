"""Render jobs: unique ids, and nothing left 'processing' after a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from nemo_local.store import DuplicateRenderId, Store


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.renders.create("r1", "u", "s", {"t": []}, "mp4", "high")
    with pytest.raises(DuplicateRenderId):
        store.renders.create("r1", "u", "s", {"t": []}, "mp4", "high")


def test_recovery_resumes_once_then_fails(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.renders.create("r1", "u", "s", {}, "mp4", "high")
    assert store.renders.claim("r1")
    assert store.renders.recover_after_restart() == (["r1"], [])
    assert store.renders.get("r1").status == "pending"  # type: ignore[union-attr]
    assert store.renders.claim("r1")
    assert store.renders.recover_after_restart() == ([], ["r1"])
    job = store.renders.get("r1")
    assert job is not None and job.status == "failed" and "restart" in (job.error or "")


def test_cancel_only_while_running(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.renders.create("r1", "u", "s", {}, "mp4", "high")
    assert store.renders.cancel("r1")
    assert not store.renders.claim("r1")
    assert not store.renders.cancel("r1")
