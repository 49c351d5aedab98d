"""Draft timeline -> exported file with ffmpeg. A library: no HTTP here (the server calls it).

out = render_draft(draft, Path("out.mp4"), fmt="mp4", quality="high", resolve_media=lookup,
                   progress=print, cancel=threading.Event())
"""

from nemo_local.renderer.errors import RenderCancelled, RenderError
from nemo_local.renderer.formats import FORMATS, QUALITIES
from nemo_local.renderer.render import RenderOutput, render_draft

__all__ = ["FORMATS", "QUALITIES", "RenderCancelled", "RenderError", "RenderOutput", "render_draft"]
