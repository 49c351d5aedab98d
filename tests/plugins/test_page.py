"""Which element each delivered format gets on the tracks page."""

from __future__ import annotations

import pytest

from nemo_provider.plugins.catalogue import Track
from nemo_provider.plugins.page import track_card


@pytest.mark.parametrize(
    ("fmt", "element", "absent"),
    [
        ("mp3", "<audio ", ("<video ", "<img ")),
        ("mp4", "<video ", ("<audio ", "<img ")),
        ("gif", "<img ", ("<audio ", "<video ")),
    ],
)
def test_each_format_gets_the_element_that_can_show_it(
    fmt: str, element: str, absent: tuple[str, ...]
) -> None:
    track = Track("d", "r", "export", -1, None, "render_1", fmt, 10, 4.0, f"/x/t.{fmt}", title="T")
    html = track_card(track, "/nemo", "")
    assert element in html and not any(a in html for a in absent)
