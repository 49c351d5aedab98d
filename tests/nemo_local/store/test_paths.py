"""The one path helper: ids match strict patterns, built paths stay strictly inside their folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nemo_local.store import Store, paths


@pytest.mark.parametrize("bad", ["..", ".", "", "a/b", "a\0b", "../x", "/etc"])
def test_under_refuses_anything_but_one_component(tmp_path: Path, bad: str) -> None:
    with pytest.raises(paths.UnsafePath):
        paths.under(tmp_path, bad)


def test_under_follows_links_before_comparing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "escape").symlink_to(tmp_path)
    with pytest.raises(paths.UnsafePath):
        paths.under(root, "escape", "..")
    with pytest.raises(paths.UnsafePath):
        paths.under(root, "escape")  # resolves to the parent of root
    assert paths.under(root, "job", "work") == (root / "job" / "work").resolve()


def test_inside_checks_paths_read_back(tmp_path: Path) -> None:
    assert paths.inside(tmp_path, tmp_path / "a" / "b") == (tmp_path / "a" / "b").resolve()
    for bad in (tmp_path, tmp_path / "..", Path("/etc/passwd"), tmp_path / "a" / ".." / ".."):
        with pytest.raises(paths.UnsafePath):
            paths.inside(tmp_path, bad)


@pytest.mark.parametrize(
    ("check", "good", "bad"),
    [
        (paths.session_id, ["1234567890123456789"], ["..", "0123456789012345678", "123", "1" * 20, 5]),
        (paths.render_name, ["render_1_ab", "a", "x.y:z-1"], ["..", ".", "-a", ".a", "a/b", "a" * 129, "é"]),
        (paths.render_key, ["rnd_" + "a" * 24, "render_17"], ["..", ".", "a/b", ""]),
        (paths.public_id, ["A" * 24], ["..", "a/b", "short"]),
        # "r:1.mp4": a render kept from a data dir of before per-user keys is published under its old id
        (paths.public_name, ["track.wav", "a-b_c.mp4", "r:1.mp4"], ["..", ".", ".hidden", "a/b", "a b"]),
    ],
)
def test_id_patterns(check: object, good: list[str], bad: list[object]) -> None:
    for value in good:
        assert check(value) == value  # type: ignore[operator]
    for value in bad:
        with pytest.raises(paths.InvalidId):
            check(value)  # type: ignore[operator]
        assert not paths.is_valid(check, value)


def test_store_builds_and_serves_only_inside_the_data_dir(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with pytest.raises(paths.UnsafePath):
        store.path("renders", "..")
    with pytest.raises(paths.UnsafePath):
        store.dir("..")
    outside = tmp_path.parent / f"outside-{os.getpid()}.wav"
    outside.write_bytes(b"RIFF")
    try:
        with pytest.raises(paths.UnsafePath):
            store.media.publish(outside, "a.wav", "audio/wav", "u")
        inside = store.path("media", "a.wav")
        inside.write_bytes(b"RIFF")
        public = store.media.publish(inside, "a.wav", "audio/wav", "u")
        store.db.run("UPDATE files SET path=? WHERE public_id=?", (str(outside), public.public_id))
        assert store.media.public_file(public.public_id) is None  # a row pointing outside is missing
    finally:
        outside.unlink()
