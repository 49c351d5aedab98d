"""Public media paths resolve back to files; nothing else does."""

from __future__ import annotations

from pathlib import Path

import pytest

from nemo_local.store import Store


def test_resolve_url_only_maps_our_own_files(tmp_path: Path) -> None:
    store = Store(tmp_path)
    f = tmp_path / "media" / "a.wav"
    f.write_bytes(b"RIFF")
    public = store.media.publish(f, "a.wav", "audio/wav", "usr")
    assert store.media.resolve_url(f"http://any-host:1234{public.url_path}") == f
    assert store.media.resolve_url(public.url_path) == f
    assert len(public.public_id) >= 20
    for bad in (
        "/etc/passwd",
        "http://h/files/nope/a.wav",
        "file:///etc/passwd",
        "http://h/files/../secret.key",
    ):
        with pytest.raises(FileNotFoundError):
            store.media.resolve_url(bad)
