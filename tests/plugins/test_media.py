"""What an XCom path may make the tracks page open: only delivered media, never what it links to or a web
address (an XCom can be written by task code or through the REST API)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nemo_provider.plugins.media import MediaError, locate


def test_a_track_named_link_to_another_file_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not serve")
    link = tmp_path / "t.mp3"
    link.symlink_to(secret)
    with pytest.raises(MediaError) as refused:
        locate(str(link), None)
    assert refused.value.status == 404 and "does not point at an export format" in str(refused.value)


def test_a_link_to_a_real_track_is_still_served(tmp_path: Path) -> None:
    track = tmp_path / "real.mp3"
    track.write_bytes(b"x" * 10)
    link = tmp_path / "t.mp3"
    link.symlink_to(track)
    assert locate(str(link), 10).size == 10


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1:9/admin?a=.mp3",
        "https://127.0.0.1:9/x.mp3",
        "s3://bucket/x?y=.mp3",
        "s3://b/x.mp3#f",
    ],
)
def test_web_addresses_and_queries_are_never_fetched(uri: str) -> None:
    with pytest.raises(MediaError) as refused:
        locate(uri, None)
    assert refused.value.status == 404
    assert "is not an object-storage location this page serves" in str(refused.value) or (
        "not an export format" in str(refused.value)
    )
