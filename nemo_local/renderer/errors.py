"""Render failures the server maps to a render's ``failed`` / ``cancelled`` status."""

from __future__ import annotations


class RenderError(RuntimeError):
    """The draft cannot be rendered (bad draft, missing media, ffmpeg failed). The message is user-facing."""


class RenderCancelled(RenderError):
    """The caller set the cancel event; ffmpeg was stopped and partial output removed."""
