"""A picture's width and height from its header: nothing decoded, and no decompression-bomb refusal.

Uploads and the renderer both check a picture's pixels against ``--max-picture-mp`` before anything
decodes it (a 20000x20000 PNG takes 1.6 GB to decode). Pillow's ``Image.open`` refuses a picture over
its own ceiling (~179 MP) without saying how large it is; opening through each format's plugin, as
``Image.open`` does but without that refusal, gives the size the limit's message must name.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path


def header_size(path: Path, formats: Collection[str] | None = None) -> tuple[int, int] | None:
    """(width, height) read from ``path``'s header by the first of Pillow's formats (or of ``formats``)
    that accepts it; None when none can read it."""
    from PIL import Image

    Image.init()
    try:
        fp = path.open("rb")
    except OSError:
        return None
    with fp:
        prefix = fp.read(16)
        for fmt in Image.ID:
            if formats is not None and fmt not in formats:
                continue
            factory, accept = Image.OPEN[fmt]
            if accept is not None and not accept(prefix):
                continue
            fp.seek(0)
            try:
                image = factory(fp, str(path))
            except Exception:  # noqa: S112 (not this format: try the next, as Image.open does)
                continue
            return int(image.size[0]), int(image.size[1])
    return None
