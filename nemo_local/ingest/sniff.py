"""File type by content (magic bytes), so a renamed text file never passes for a video."""

from __future__ import annotations

from dataclasses import dataclass

KIND_BY_EXT = {
    **dict.fromkeys(("mp4", "mov", "avi", "webm", "mkv"), "video"),
    **dict.fromkeys(("jpg", "jpeg", "png", "gif", "webp"), "image"),
    **dict.fromkeys(("mp3", "wav", "m4a", "aac"), "audio"),
}
#: The accepted upload extensions (the client states them too: tests/contract holds the two equal).
ACCEPTED_EXTENSIONS = tuple(KIND_BY_EXT)
SNIFF_BYTES = 64


@dataclass(frozen=True)
class Sniffed:
    ext: str  # the format the bytes say, e.g. "mp4"
    kind: str  # video | image | audio


def sniff(head: bytes) -> Sniffed | None:
    """The accepted format `head` (the first bytes of a file) starts like, or None."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return Sniffed("mov", "video")
        if brand in (b"M4A ", b"M4B "):
            return Sniffed("m4a", "audio")
        return Sniffed("mp4", "video")
    if head.startswith(b"RIFF") and len(head) >= 12:
        sub = head[8:12]
        if sub == b"AVI ":
            return Sniffed("avi", "video")
        if sub == b"WAVE":
            return Sniffed("wav", "audio")
        if sub == b"WEBP":
            return Sniffed("webp", "image")
        return None
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return Sniffed("webm", "video") if b"webm" in head else Sniffed("mkv", "video")
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed("jpg", "image")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed("png", "image")
    if head.startswith((b"GIF87a", b"GIF89a")):
        return Sniffed("gif", "image")
    if head.startswith(b"ID3"):
        return Sniffed("mp3", "audio")
    if len(head) >= 2 and head[0] == 0xFF:
        if head[1] & 0xF6 == 0xF0:  # ADTS sync word, layer 0
            return Sniffed("aac", "audio")
        if head[1] & 0xE0 == 0xE0:  # MPEG audio frame sync
            return Sniffed("mp3", "audio")
    return None


def extension_of(filename: str) -> str:
    return filename.rsplit(".", 1)[-1].lower() if "." in filename else ""


def check_type(filename: str, head: bytes) -> Sniffed | None:
    """Accept only when the extension is an accepted one AND the content is of the same kind."""
    ext = extension_of(filename)
    found = sniff(head)
    if ext not in KIND_BY_EXT or found is None:
        return None
    return found if KIND_BY_EXT[ext] == found.kind else None
