"""Quality gate: measure a delivered file and check it against what was asked.

``measure(path) -> MediaReport`` (container, codecs, duration, loudness, true peak, silence, clipping,
tempo, key, loop seam, video geometry, A/V sync) and ``check(report, expect) -> QualityResult``.
No Airflow import; the analysis libraries (PyAV and numpy: the ``quality`` extra) are imported only
when measuring, so importing this package is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nemo_provider.quality.expect import Expectations

if TYPE_CHECKING:
    from nemo_provider.quality.checking import QualityResult
    from nemo_provider.quality.report import MediaReport

__all__ = ["Expectations", "MediaReport", "QualityResult", "available", "check", "measure", "missing"]

#: import names of the extra's libraries (``pip install 'airflow-provider-nemo[quality]'``)
REQUIRED_MODULES = ("av", "numpy")
#: also in the extra, but optional when measuring: without it the check is right, only slower
SPEEDUP_MODULES = ("threadpoolctl",)


def missing() -> list[str]:
    """The extra's libraries that are not installed (empty when the gate can run)."""
    from importlib.util import find_spec

    return [name for name in REQUIRED_MODULES if find_spec(name) is None]


def available() -> bool:
    return not missing()


def measure(path: Any, *, music: bool = True) -> MediaReport:
    from nemo_provider.quality.measuring import measure as _measure

    return _measure(path, music=music)


def check(report: MediaReport, expect: Any = None) -> QualityResult:
    from nemo_provider.quality.checking import check as _check

    return _check(report, expect)


def __getattr__(name: str) -> Any:
    if name == "MediaReport":
        from nemo_provider.quality.report import MediaReport

        return MediaReport
    if name == "QualityResult":
        from nemo_provider.quality.checking import QualityResult

        return QualityResult
    raise AttributeError(name)
