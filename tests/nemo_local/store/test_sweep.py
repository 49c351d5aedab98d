"""The start-up sweep removes partial uploads and orphaned media, and never a published file."""

from __future__ import annotations

from pathlib import Path

from nemo_local.store import Store
from nemo_local.store.sweep import sweep_orphans


def test_sweep_removes_only_unreferenced_files(tmp_path: Path) -> None:
    store = Store(tmp_path)
    kept = store.path("uploads", "1234567890123456789")
    kept.mkdir()
    published = kept / "abc_clip.mp4"
    published.write_bytes(b"x")
    store.media.publish(published, "clip.mp4", "video/mp4", "u")
    partial = kept / "def_half.mp4"
    partial.write_bytes(b"half")
    orphan_dir = store.path("media", "med_000000000000")
    orphan_dir.mkdir()
    (orphan_dir / "track.wav").write_bytes(b"RIFF")
    (store.dir("tmp") / "x.partial").write_bytes(b"")
    assert sweep_orphans(store.data_dir, store.db) == 3
    assert published.read_bytes() == b"x"
    assert not partial.exists() and not orphan_dir.exists()
    assert list(store.dir("tmp").iterdir()) == []
    assert sweep_orphans(store.data_dir, store.db) == 0
