"""Symbolic links planted in the data dir (by anyone with a shell there) never make the start-up clean-up
remove what they point at: render job folders, partial uploads, orphaned media and tmp/ entries that are
links are removed as links; the files and folders outside stay. (Attacked; it held.)"""

from __future__ import annotations

from pathlib import Path

from tests.nemo_local.security.conftest import launch, stop


def test_start_up_clean_up_removes_links_not_their_targets(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "folder").mkdir(parents=True)
    victim, kept_in_folder = outside / "victim.png", outside / "folder" / "keep.txt"
    victim.write_bytes(b"\x89PNG precious")
    kept_in_folder.write_text("precious")
    data = tmp_path / "data"
    links = {
        data / "renders" / "rnd_0123456789abcdef01234567": outside / "folder",  # a job folder
        data / "renders" / "legacy_render": outside / "folder",
        data / "uploads" / "1234567890123456789" / "0011_victim.png": victim,  # a "partial upload"
        data / "uploads" / "1234567890123456789" / "dir": outside / "folder",
        data / "media" / "track.wav": victim,
        data / "tmp" / "work": outside / "folder",
        data / "tmp" / "file": victim,
    }
    for link, target in links.items():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target)
    server = launch(data)
    try:
        server.healthy()
    finally:
        stop(server)
    assert victim.read_bytes() == b"\x89PNG precious" and kept_in_folder.read_text() == "precious"
    survivors = [link.relative_to(data).as_posix() for link in links if link.is_symlink()]
    # a linked folder under uploads/ is left (the sweep removes files and empty folders, never follows
    # a link); every other link is gone
    assert survivors == ["uploads/1234567890123456789/dir"], survivors
