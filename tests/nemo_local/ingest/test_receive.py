"""Upload names: any script and emoji are kept for display; control characters and bidirectional
overrides are refused; the name on disk is always a safe one that keeps the extension."""

from __future__ import annotations

import pytest

from nemo_local.ingest.receive import BadUpload, check_filename, safe_name
from nemo_local.limits import LimitExceeded, Limits
from nemo_local.store import paths


@pytest.mark.parametrize("name", ["名字.png", "👨\u200d👩\u200d👧.mp4", "ملف.wav", "naïve café.jpg"])
def test_names_in_any_script_are_fine(name: str) -> None:
    check_filename(name, 0, Limits())
    assert paths.PUBLIC_NAME.fullmatch(safe_name(name))
    assert safe_name(name).endswith("." + name.rsplit(".", 1)[1])


@pytest.mark.parametrize("name", ["a\x00.png", "a\nb.png", "photo\u202egnp.exe", "\ud800.png"])
def test_control_and_override_characters_are_refused(name: str) -> None:
    with pytest.raises(BadUpload, match=r"files\[0\]\.filename"):
        check_filename(name, 0, Limits())


def test_length_limit_names_the_field() -> None:
    with pytest.raises(LimitExceeded) as err:
        check_filename("a" * 256, 2, Limits())
    assert err.value.field == "files[2].filename" and err.value.switch == "--max-filename-chars"


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "..", ".", "", "a/b/c.mp4", "C:\\x\\y.png", "-.png", "x" * 500]
)
def test_safe_names_are_single_safe_components(name: str) -> None:
    out = safe_name(name)
    assert paths.PUBLIC_NAME.fullmatch(out) and len(out) <= 120 and out not in (".", "..")
