"""The Content-Type served for each file extension the server stores (uploads and exports alike)."""

from __future__ import annotations

CONTENT_TYPES = {
    "mp4": "video/mp4", "mov": "video/quicktime", "avi": "video/x-msvideo", "webm": "video/webm",
    "mkv": "video/x-matroska", "jpg": "image/jpeg", "png": "image/png", "gif": "image/gif",
    "webp": "image/webp", "mp3": "audio/mpeg", "wav": "audio/wav", "m4a": "audio/mp4", "aac": "audio/aac",
}  # fmt: skip


def content_type(ext: str) -> str:
    """The type of a file with extension `ext` (no dot); unknown ones are plain bytes."""
    return CONTENT_TYPES.get(ext.lower(), "application/octet-stream")
