"""OpenLineage for the Nemo operators: datasets for files and URLs, and a custom ``nemo`` run facet.

Everything is built from what the task already recorded while it ran (``op._lineage``): no API call is
made for lineage. The OpenLineage provider is optional; its modules are imported only here, only when
its listener asks, so a DAG file never pays for them.
"""

from __future__ import annotations

import functools
import os
from typing import Any
from urllib.parse import urlsplit

#: The run facet's key in an event's ``run.facets``.
FACET_NAME = "nemo"
FACET_SCHEMA_URL = (
    "https://github.com/airflow-provider-nemo/airflow-provider-nemo/blob/main/docs/quality.md#openlineage"
)


def dataset_name(path_or_uri: str) -> tuple[str, str]:
    """(namespace, name) by the OpenLineage naming spec: ``file`` + absolute path, ``s3://bucket`` + key,
    ``https://host`` + path for URLs. A ``file://`` URI names its file as decoded by ``local_path`` (a
    space is a space, not ``%20``), so a path and its URI are one dataset."""
    from nemo_provider.operators._destination import local_path

    local = local_path(path_or_uri)
    if local is not None:
        return "file", os.path.abspath(local)
    parts = urlsplit(path_or_uri)
    if parts.scheme in ("http", "https"):
        return f"{parts.scheme}://{parts.netloc}", parts.path
    return f"{parts.scheme}://{parts.netloc}", parts.path.lstrip("/")


@functools.cache
def _facet_class() -> type:
    import attrs
    from airflow.providers.common.compat.openlineage.facet import RunFacet

    @attrs.define
    class NemoRunFacet(RunFacet):
        """Provenance of a Nemo track (manifest fields) and the quality gate's verdict."""

        nemo: dict[str, Any] = attrs.field(factory=dict)

        @staticmethod
        def _get_schema() -> str:
            return FACET_SCHEMA_URL

    return NemoRunFacet


def operator_lineage(info: dict[str, Any] | None) -> Any:
    """An ``OperatorLineage`` from ``{"inputs": [...], "outputs": [...], "facet": {...}}``."""
    from airflow.providers.common.compat.openlineage.facet import Dataset
    from airflow.providers.openlineage.extractors import OperatorLineage

    if not info:
        return OperatorLineage()

    def datasets(items: list[str]) -> list[Any]:
        return [Dataset(namespace=ns, name=name) for ns, name in (dataset_name(str(i)) for i in items if i)]

    facets = {}
    if info.get("facet") is not None:
        facets[FACET_NAME] = _facet_class()(nemo=info["facet"])
    return OperatorLineage(
        inputs=datasets(info.get("inputs") or []),
        outputs=datasets(info.get("outputs") or []),
        run_facets=facets,
    )


def upload_info(files: list[str], urls: list[str], result: dict[str, Any]) -> dict[str, Any]:
    """Inputs: the uploaded files and URLs; outputs: where Nemo keeps them."""
    uploaded = result.get("files") or []
    return {
        "inputs": [*files, *urls],
        "outputs": [f.get("cdn_url") for f in uploaded if f.get("cdn_url")],
        "facet": {
            "session_id": result.get("session_id"),
            "uploads": [
                {k: f.get(k) for k in ("filename", "file_type", "duration", "hash")} for f in uploaded
            ],
        },
    }


def generate_info(prompt: str, result: dict[str, Any]) -> dict[str, Any]:
    """Outputs: the generated tracks' URLs; the facet: the prompt, what was made and what it cost."""
    media = result.get("generated_media") or []
    keep = ("id", "title", "bpm", "key", "mood", "seed", "duration_ms", "lufs")
    return {
        "inputs": [],
        "outputs": [m.get("url") for m in media if m.get("url")],
        "facet": {
            "session_id": result.get("session_id"),
            "prompt": prompt,
            "media": [{k: m.get(k) for k in keep} for m in media],
            "credits_spent": result.get("credits_spent"),
        },
    }
