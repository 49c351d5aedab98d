"""One track from a form: open "Trigger DAG" in the UI, fill in the prompt, mood, duration, format and loop.

The export is deferrable: while Nemo renders, the wait runs in the triggerer and holds no worker slot.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from airflow.sdk import Param, dag, task

from nemo_provider.operators.nemo import NemoExportOperator, NemoGenerateOperator

MOODS = ["calm", "upbeat", "cinematic", "happy", "dark", "epic", "relaxing", "energetic"]
FORMATS = ["mp3", "wav", "m4a", "mp4"]

# Where exports go: the run's `output_dir`, else the `nemo_export_destination` Variable (on a distributed
# deployment an object-storage URI every worker reaches, e.g. s3://bucket/nemo; docs/deployment.md), else
# a local folder, which only works while every task runs on one machine.
LOCAL_EXPORTS = os.environ.get("NEMO_EXPORT_DIR", os.path.join(tempfile.gettempdir(), "nemo-exports"))
EXPORTS = (
    "{{ (params.output_dir or var.value.get('nemo_export_destination', '"
    + LOCAL_EXPORTS
    + "')).rstrip('/') }}"
)


@dag(
    dag_id="nemo_generate_from_ui",
    schedule=None,
    tags=["nemo", "example"],
    params={
        "prompt": Param(
            "soft piano for a product demo",
            type="string",
            minLength=3,
            maxLength=500,
            title="What should it sound like?",
            description="Instruments, style, the scene it is for. Example: warm acoustic guitar for a travel vlog.",
        ),
        "mood": Param(
            "calm",
            type="string",
            enum=MOODS,
            minLength=1,
            title="Mood",
            description="The overall feel; Nemo picks tempo and harmony from it.",
        ),
        "duration_s": Param(
            30,
            type="integer",
            minimum=4,
            maximum=600,
            title="Duration (seconds)",
            description="Between 4 and 600 seconds.",
        ),
        "output_format": Param(
            "mp3",
            type="string",
            enum=FORMATS,
            title="Output format",
            description="mp3, wav or m4a for audio; mp4 for a video with a title card.",
        ),
        "loop": Param(
            False,
            type="boolean",
            title="Loopable",
            description="The end flows back into the start, for background loops.",
        ),
        "output_dir": Param(
            "",
            type="string",
            pattern=r"^$|^(/|[a-z][a-z0-9+.-]*://).+",
            title="Save to",
            description=(
                "A shared folder or an object-storage URI (s3://bucket/nemo). Empty: the deployment's "
                "export location (the nemo_export_destination Variable, else NEMO_EXPORT_DIR). The file "
                "is then listed on the Nemo tracks page."
            ),
        ),
    },
    render_template_as_native_obj=False,
    doc_md=__doc__,
)
def nemo_generate_from_ui() -> None:
    @task
    def message(params: dict[str, Any]) -> str:
        """Turn the form into one request for the agent."""
        text = f"Generate {params['mood']} background music: {params['prompt']}."
        text += f" Make it {int(params['duration_s'])} seconds long."
        if params["loop"]:
            text += " It should loop seamlessly."
        return text

    generated = NemoGenerateOperator(task_id="generate", prompt=message())
    exported = NemoExportOperator(
        task_id="export",
        session_id=generated.output["session_id"],
        format="{{ params.output_format }}",
        # a folder per run under "Save to" (or the deployment's export location)
        destination=EXPORTS + "/{{ run_id | replace(':', '-') | replace('+', '_') }}/",
        deferrable=True,
        poll_interval=2,
        timeout=1800,
    )

    @task
    def report(result: dict[str, Any]) -> str:
        print(f"Your track: {result['path']} ({result['size']} bytes, {result['duration']} s)")
        return result["path"]

    report(exported.output)


nemo_generate_from_ui()
