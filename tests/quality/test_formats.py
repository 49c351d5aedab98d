"""The gate knows every format the client can export, and judges picture size only where the contract
says what a quality means."""

from __future__ import annotations

from nemo_provider.client.constants import EXPORT_FORMATS
from nemo_provider.quality.formats import FORMATS, VIDEO_LINES


def test_every_export_format_has_a_spec() -> None:
    assert set(EXPORT_FORMATS) <= set(FORMATS), set(EXPORT_FORMATS) - set(FORMATS)


def test_only_the_contracts_high_quality_implies_a_picture_size() -> None:
    assert set(VIDEO_LINES.values()) == {1080}
    assert "medium" not in VIDEO_LINES and "720p" not in VIDEO_LINES
