"""Content sniffing of the accepted formats."""

from __future__ import annotations

import pytest

from nemo_local.ingest.sniff import check_type, sniff


@pytest.mark.parametrize(
    ("head", "ext"),
    [
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00", "mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00", "mov"),
        (b"\x00\x00\x00\x1cftypM4A \x00\x00\x00\x00", "m4a"),
        (b"RIFF\x00\x00\x00\x00AVI LIST", "avi"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "wav"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "webp"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01webm", "webm"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01matroska", "mkv"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "jpg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "png"),
        (b"GIF89a\x01\x00", "gif"),
        (b"ID3\x04\x00\x00", "mp3"),
        (b"\xff\xfb\x90\x00", "mp3"),
        (b"\xff\xf1\x50\x80", "aac"),
    ],
)
def test_magic_bytes(head: bytes, ext: str) -> None:
    found = sniff(head)
    assert found is not None and found.ext == ext


def test_extension_and_content_must_agree_in_kind() -> None:
    mp4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00"
    assert check_type("a.mp4", mp4) is not None
    assert check_type("a.mov", mp4) is not None  # same kind: containers are often misnamed
    assert check_type("a.png", mp4) is None
    assert check_type("a.txt", mp4) is None
    assert check_type("a.mp4", b"hello world, plain text") is None
