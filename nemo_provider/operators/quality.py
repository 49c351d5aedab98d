"""The quality gate in Airflow: NemoQualityError and NemoMediaCheckOperator.

``NemoMediaCheckOperator`` checks any file (local path, ``file://`` or an ObjectStoragePath URI such as
``s3://…``) against expectations, in the style of Airflow's check operators: it fails the task when a
check misses and returns the result (measured, expected, passed, misses) otherwise. The export runs the
same gate itself (``NemoExportOperator(quality_check=…)``). DAG files import this module: the analysis
libraries are imported only when a check runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from nemo_provider._compat import AirflowFailException

if TYPE_CHECKING:
    from airflow.sdk import Context

    from nemo_provider.quality.checking import QualityResult

#: The gate's policies (one place: the export and its docs use these).
POLICIES = ("fail", "warn", "off")


class NemoQualityError(AirflowFailException):
    """The delivered file is not what was asked. ``.result`` holds the QualityResult as a dict.

    Not retried: a retry would download the same render and measure the same misses. Regenerate (e.g.
    with another seed) instead; docs/quality.md shows the pattern.
    """

    def __init__(self, message: str, result: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.result = result or {}

    @classmethod
    def from_result(cls, where: str, result: QualityResult) -> NemoQualityError:
        lines = "\n".join(f"  - {miss.describe()}" for miss in result.misses)
        return cls(
            f"{where} failed the quality check ({len(result.misses)} miss(es)); the file is kept for "
            f"inspection:\n{lines}",
            result.as_dict(),
        )


def resolve_policy(value: str | None) -> str:
    """``None`` -> "warn" when the quality extra is installed, else "off"; anything else must be a policy."""
    from nemo_provider import quality

    if value is None or value == "":
        return "warn" if quality.available() else "off"
    policy = str(value).strip().lower()
    if policy not in POLICIES:
        raise ValueError(f"quality_check must be one of {', '.join(POLICIES)}, not {value!r}.")
    if policy != "off" and not quality.available():
        if policy == "fail":
            raise AirflowFailException(
                "quality_check='fail' needs the quality extra: pip install 'airflow-provider-nemo[quality]' "
                f"(missing: {', '.join(quality.missing())})."
            )
        return "off"
    return policy


class NemoMediaCheckOperator(BaseOperator):
    """Measure a media file and check it against ``expect``; fail the task on any miss.

    Returns ``{passed, summary, misses, checks, notes, measured, expected}``. With ``fail_on_miss=False``
    the result is returned (and logged) even when checks miss, for a branch to act on.

    :param path: local path, ``file://`` URI or ObjectStoragePath URI (templated).
    :param expect: expectations (templated): keys of ``nemo_provider.quality.Expectations``, e.g.
        ``{"format": "mp3", "duration_s": 30, "lufs": -14, "bpm": 90, "key": "A minor", "loop": True}``.
    :param music: measure tempo and key (the slowest part; off for speech or silent video).
    """

    template_fields: Sequence[str] = ("path", "expect")
    template_fields_renderers = {"expect": "json"}  # noqa: RUF012 (Airflow reads it as a class attribute)
    ui_color = "#fbe7c6"

    def __init__(
        self,
        *,
        path: str,
        expect: dict[str, Any] | None = None,
        fail_on_miss: bool = True,
        music: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.path = path
        self.expect = expect
        self.fail_on_miss = fail_on_miss
        self.music = music
        self._lineage: dict[str, Any] | None = None

    def execute(self, context: Context) -> dict[str, Any]:
        from nemo_provider import quality
        from nemo_provider.operators._local_copy import local_copy

        if not quality.available():
            raise AirflowFailException(
                "NemoMediaCheckOperator needs the quality extra: pip install 'airflow-provider-nemo[quality]' "
                f"(missing: {', '.join(quality.missing())})."
            )
        expect = quality.Expectations.from_value(self.expect)
        with local_copy(str(self.path)) as local:
            report = quality.measure(local, music=self.music)
        result = quality.check(report, expect)
        data = result.as_dict()
        self._lineage = {"inputs": [str(self.path)], "outputs": [], "facet": {"quality": data}}
        self.log.info("Quality of %s: %s", self.path, result.summary())
        if not result.passed and self.fail_on_miss:
            raise NemoQualityError.from_result(str(self.path), result)
        return data

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        from nemo_provider.operators._lineage import operator_lineage

        return operator_lineage(self._lineage)
