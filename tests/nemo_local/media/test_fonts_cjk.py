"""Chinese text is drawn with a CJK font (glyphs, not boxes), and a missing one is reported once."""

from __future__ import annotations

import logging
import subprocess
import sys

import numpy as np
import pytest

from nemo_local.media import fonts


def _glyph(text: str) -> np.ndarray:
    font = fonts.load_font(48, text)
    return np.asarray(font.getmask(text), dtype=np.uint8).reshape(font.getmask(text).size[::-1])


def test_a_cjk_font_is_installed_and_chosen_for_chinese_text() -> None:
    # scripts/setup.sh runs scripts/install-fonts.sh: a machine set up by the README has one
    path = fonts.cjk_font_path()
    assert path is not None, f"no CJK font: {fonts.INSTALL_HINT}"
    assert path.lower().endswith((".ttf", ".ttc", ".otf", ".otc"))
    assert fonts.font_path(cjk=True) == path


def test_chinese_characters_render_as_distinct_glyphs() -> None:
    shapes = [_glyph(ch) for ch in "中文标题"]
    assert all(shape.sum() > 0 for shape in shapes)
    # a box ("tofu") is the same shape for every character; real glyphs differ
    assert len({shape.tobytes() for shape in shapes}) == 4


def test_a_missing_cjk_font_is_reported_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("NEMO_FONT", raising=False)
    monkeypatch.setattr(fonts, "_CJK_GLOBS", ("/nonexistent/**/*.ttc",))
    monkeypatch.setattr(fonts, "_reported", False)
    with caplog.at_level(logging.WARNING, logger=fonts.__name__):
        assert fonts.report_missing_cjk_font() is None
        assert fonts.report_missing_cjk_font() is None
    warnings = [r.getMessage() for r in caplog.records if "CJK" in r.getMessage()]
    assert len(warnings) == 1
    assert "drawn as boxes" in warnings[0] and "install-fonts.sh" in warnings[0]


def test_a_present_cjk_font_is_not_reported(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=fonts.__name__):
        assert fonts.report_missing_cjk_font() is not None
    assert not [r for r in caplog.records if "CJK" in r.getMessage()]


def test_the_check_install_fonts_sh_uses_says_which_font() -> None:
    code = "import sys; from nemo_local.media.fonts import main; sys.exit(main())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == fonts.cjk_font_path()
