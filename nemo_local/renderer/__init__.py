"""Draft timeline -> exported file with ffmpeg. A library: no HTTP here (the server calls it).

out = render_draft(draft, Path("out.mp4"), fmt="mp4", quality="high", resolve_media=lookup,
                   progress=print, cancel=threading.Event())

Names load on first use, so the server can read the format table (``renderer.formats``) without
importing the pipelines (PyAV, numpy, scipy: ~0.8 s at start-up).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nemo_local.renderer.errors import RenderCancelled, RenderError
    from nemo_local.renderer.formats import FORMATS, QUALITIES
    from nemo_local.renderer.render import RenderOutput, render_draft

_WHERE = {
    "FORMATS": "nemo_local.renderer.formats",
    "QUALITIES": "nemo_local.renderer.formats",
    "RenderCancelled": "nemo_local.renderer.errors",
    "RenderError": "nemo_local.renderer.errors",
    "RenderOutput": "nemo_local.renderer.render",
    "render_draft": "nemo_local.renderer.render",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["FORMATS", "QUALITIES", "RenderCancelled", "RenderError", "RenderOutput", "render_draft"]
