"""Give a video a soundtrack: upload it, have music composed to its length, add a title, export 1080p.

The finished MP4 is published as the ``nemo_video_with_soundtrack`` Asset; the second DAG here,
``nemo_video_soundtrack_consumer``, is scheduled on that Asset and shows a downstream consumer.
Without a ``video_path`` the first task makes a short test video with ffmpeg, so the DAG runs anywhere.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from airflow.sdk import Asset, Param, dag, task

from nemo_provider.operators.nemo import (
    NemoCreateSessionOperator,
    NemoExportOperator,
    NemoGenerateOperator,
    NemoUploadOperator,
)

VIDEO_WITH_SOUNDTRACK = Asset(name="nemo_video_with_soundtrack", uri="nemo://video-with-soundtrack")

# Where exports go: the run's `output_dir`, else the `nemo_export_destination` Variable (on a distributed
# deployment an object-storage URI every worker reaches, e.g. s3://bucket/nemo; docs/deployment.md), else
# a local folder, which only works while every task runs on one machine.
LOCAL_EXPORTS = os.environ.get("NEMO_EXPORT_DIR", os.path.join(tempfile.gettempdir(), "nemo-exports"))
EXPORTS = "{{ params.output_dir or var.value.get('nemo_export_destination', '" + LOCAL_EXPORTS + "') }}"
RUN_DIR = EXPORTS + "/{{ run_id | replace(':', '-') | replace('+', '_') }}"


def as_uri(path: str) -> str:
    """A URI for an export's path: object-storage URIs as they are, a local path as ``file://``."""
    return path if "://" in path else "file://" + os.path.abspath(path)


@dag(
    dag_id="nemo_video_soundtrack",
    schedule=None,
    tags=["nemo", "example"],
    params={
        "video_path": Param(
            "", type="string", description="A video path or object-storage URI; empty makes a test video."
        ),
        "test_video_seconds": Param(6, type="integer", minimum=2, maximum=60),
        "mood": Param("calm", type="string"),
        "title": Param("Our Product Tour", type="string"),
        "output_dir": Param(
            "",
            type="string",
            description="A folder or object-storage URI (s3://…); empty: the nemo_export_destination Variable.",
        ),
    },
    doc_md=__doc__,
)
def nemo_video_soundtrack() -> None:
    @task
    def input_video(run_dir: str, params: dict[str, Any]) -> str:
        """Use the given video, or render a short colour-bars test clip with the bundled ffmpeg.

        The clip is written to the run's export location (object storage on a distributed deployment),
        not to this worker's disk: the upload may run on another worker.
        """
        if params["video_path"]:
            return str(params["video_path"])
        import shutil
        import subprocess
        import tempfile
        from pathlib import Path

        import imageio_ffmpeg
        from airflow.sdk import ObjectStoragePath

        seconds = int(params["test_video_seconds"])
        with tempfile.TemporaryDirectory() as tmp:
            clip = Path(tmp) / "input-video.mp4"
            subprocess.run(
                [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error",
                 "-f", "lavfi", "-i", f"testsrc=size=640x360:rate=24:duration={seconds}",
                 "-c:v", "libx264", "-pix_fmt", "yuv420p", str(clip)],
                check=True,
            )  # fmt: skip
            target = ObjectStoragePath(as_uri(f"{run_dir}/input-video.mp4"))
            target.parent.mkdir(parents=True, exist_ok=True)
            with clip.open("rb") as src, target.open("wb") as out:
                shutil.copyfileobj(src, out)
        return str(target)

    @task
    def music_request(params: dict[str, Any]) -> str:
        return f"Generate {params['mood']} background music that fits the video's length."

    session = NemoCreateSessionOperator(task_id="create_session", task_name="video soundtrack")
    sid = session.output["session_id"]
    upload = NemoUploadOperator(task_id="upload_video", session_id=sid, files=[input_video(run_dir=RUN_DIR)])
    music = NemoGenerateOperator(task_id="compose_music", session_id=sid, prompt=music_request())
    title = NemoGenerateOperator(
        task_id="add_title", session_id=sid, prompt='Add the title "{{ params.title }}" for 3 seconds.'
    )
    export = NemoExportOperator(
        task_id="export_1080p",
        session_id=sid,
        format="mp4",
        quality="high",
        destination=RUN_DIR + "/with-soundtrack.mp4",
        poll_interval=2,
        timeout=1800,
    )

    @task(outlets=[VIDEO_WITH_SOUNDTRACK])
    def publish(result: dict[str, Any], **context: Any) -> dict[str, Any]:
        """The Asset event carries the video's URI (readable from any worker), never a worker-local path."""
        extra = {"path": as_uri(result["path"]), "duration_s": result["duration"], "size": result["size"]}
        quality = result.get("quality") or {}  # the quality gate's verdict and the provenance manifest
        extra |= {"quality_passed": quality.get("passed"), "quality_summary": quality.get("summary"),
                  "manifest": result.get("manifest")}  # fmt: skip
        context["outlet_events"][VIDEO_WITH_SOUNDTRACK].extra = extra
        return extra

    upload >> music >> title >> export
    publish(export.output)


@dag(
    dag_id="nemo_video_soundtrack_consumer",
    schedule=[VIDEO_WITH_SOUNDTRACK],
    tags=["nemo", "example"],
    doc_md="Runs whenever `nemo_video_soundtrack` publishes a video: here it just checks and reports the file.",
)
def nemo_video_soundtrack_consumer() -> None:
    @task
    def receive(**context: Any) -> list[str]:
        """Read each published video through ObjectStoragePath: it may have been written on another worker."""
        from airflow.sdk import ObjectStoragePath

        uris = []
        for events in context["triggering_asset_events"].values():
            for event in events:
                video = ObjectStoragePath(event.extra["path"])
                with video.open("rb") as fh:
                    head = fh.read(12)
                size = video.stat().st_size
                if head[4:8] != b"ftyp" or size != event.extra["size"]:
                    raise ValueError(f"{video} is not the published MP4 ({size} bytes, starts {head!r})")
                print(f"New video with soundtrack: {video} ({size} bytes)")
                uris.append(str(video))
        return uris

    receive()


nemo_video_soundtrack()
nemo_video_soundtrack_consumer()
