"""Every week, a fresh set of background tracks: one per prompt, each as MP3 and as a 1080p MP4.

Dynamic task mapping runs one task group per prompt (the ``prompts`` Param); each track is generated in
its own Nemo session, exported twice, and published as an event of the ``nemo_weekly_background_tracks``
Asset with its metadata (prompt, bpm, key, duration, loudness, file paths) for downstream DAGs.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from typing import Any

from airflow.sdk import Asset, Param, dag, task, task_group

from nemo_provider.links.urls import track_urls
from nemo_provider.operators.nemo import (
    NemoCreateSessionOperator,
    NemoExportOperator,
    NemoGenerateOperator,
)

WEEKLY_TRACKS = Asset(name="nemo_weekly_background_tracks", uri="nemo://weekly-background-tracks")

DEFAULT_PROMPTS = [
    "calm lo-fi with soft piano for a study stream",
    "upbeat corporate track for a product explainer",
    "cinematic build-up for a trailer",
    "warm acoustic guitar for a travel vlog",
]

# Where exports go: the run's `output_dir`, else the `nemo_export_destination` Variable (on a distributed
# deployment an object-storage URI every worker reaches, e.g. s3://bucket/nemo; docs/deployment.md), else
# a local folder, which only works while every task runs on one machine.
LOCAL_EXPORTS = os.environ.get("NEMO_EXPORT_DIR", os.path.join(tempfile.gettempdir(), "nemo-exports"))
EXPORTS = "{{ params.output_dir or var.value.get('nemo_export_destination', '" + LOCAL_EXPORTS + "') }}"

# One folder per run and per mapped track; run ids contain ':' and '+', which some tools dislike.
OUT = EXPORTS + "/{{ run_id | replace(':', '-') | replace('+', '_') }}/track-{{ ti.map_index }}"


def checked_uri(export: dict[str, Any]) -> str:
    """The export's URI (a local path becomes ``file://``), after checking the file is whole there."""
    from pathlib import Path

    from airflow.sdk import ObjectStoragePath

    path = str(export["path"])
    uri = path if "://" in path else "file://" + str(Path(path).resolve())
    size = ObjectStoragePath(uri).stat().st_size
    if size != export["size"]:
        raise ValueError(f"{uri} is {size} bytes, the export reported {export['size']}")
    return uri


@dag(
    dag_id="nemo_weekly_background_tracks",
    schedule="@weekly",
    start_date=datetime(2026, 1, 5),
    catchup=False,
    tags=["nemo", "example"],
    params={
        "prompts": Param(DEFAULT_PROMPTS, type="array", description="One track per prompt."),
        "duration_s": Param(30, type="integer", minimum=4, maximum=600, description="Track length, seconds."),
        "output_dir": Param(
            "",
            type="string",
            description="A folder or object-storage URI (s3://…); empty: the nemo_export_destination Variable.",
        ),
    },
    doc_md=__doc__,
)
def nemo_weekly_background_tracks() -> None:
    @task
    def prompts(params: dict[str, Any]) -> list[str]:
        """The Param list, as an XCom that mapping can expand over."""
        return [str(p) for p in params["prompts"]]

    @task
    def message(prompt: str, params: dict[str, Any]) -> str:
        return f"Generate background music: {prompt}. Make it {int(params['duration_s'])} seconds long."

    @task(outlets=[WEEKLY_TRACKS])
    def publish(
        prompt: str, generated: dict[str, Any], mp3: dict[str, Any], mp4: dict[str, Any], **context: Any
    ) -> dict[str, Any]:
        """Record the track as an Asset event; the extra is what a downstream DAG needs to use it.

        The files are checked where every worker can see them (through ObjectStoragePath, as a consumer
        will read them), and the event carries their URIs, never a path local to one worker.
        """
        uris = {fmt: checked_uri(result) for fmt, result in (("mp3", mp3), ("mp4", mp4))}
        media = (generated.get("generated_media") or [{}])[-1]
        extra = {
            "prompt": prompt,
            "title": media.get("title"),
            "bpm": media.get("bpm"),
            "key": media.get("key"),
            "duration_s": mp3.get("duration"),
            "loudness_lufs": media.get("lufs"),
            "mp3": uris["mp3"],
            "mp4": uris["mp4"],
            "session_id": generated["session_id"],
            # the quality gate's verdict on each file and its provenance manifest (docs/quality.md)
            "quality": {f: (r.get("quality") or {}).get("summary") for f, r in (("mp3", mp3), ("mp4", mp4))},
            "quality_passed": all((r.get("quality") or {}).get("passed", True) for r in (mp3, mp4)),
            "manifests": [r.get("manifest") for r in (mp3, mp4)],
            # where to hear and fetch them through Airflow (the Nemo tracks page), not a worker path
            **track_urls(context, ("export_mp3", "export_mp4_1080p")),
        }
        context["outlet_events"][WEEKLY_TRACKS].extra = extra
        return extra

    @task_group
    def track(prompt: str) -> None:
        # The session (project) name is the prompt: it titles the MP4's cover card.
        session = NemoCreateSessionOperator(task_id="create_session", task_name=prompt)
        generated = NemoGenerateOperator(
            task_id="generate", session_id=session.output["session_id"], prompt=message(prompt)
        )
        mp3 = NemoExportOperator(
            task_id="export_mp3",
            session_id=session.output["session_id"],
            format="mp3",
            destination=OUT + ".mp3",
            poll_interval=2,
            timeout=1800,
        )
        mp4 = NemoExportOperator(
            task_id="export_mp4_1080p",
            session_id=session.output["session_id"],
            format="mp4",
            quality="high",
            destination=OUT + ".mp4",
            poll_interval=2,
            timeout=1800,
        )
        generated >> [mp3, mp4]
        publish(prompt, generated.output, mp3.output, mp4.output)

    track.expand(prompt=prompts())


nemo_weekly_background_tracks()
