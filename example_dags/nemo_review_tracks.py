"""Listen before you publish: generate a track, let a person hear it in Airflow, then publish or regenerate.

Each round generates the prompt with a new seed, exports it (deferrable), and asks for a review with
Airflow's human-in-the-loop operator. The review's body links to the track's player on the **Nemo
tracks** page; the buttons are on that page and in Airflow's own "Required actions" view. *Publish*
records an event of the ``nemo_reviewed_tracks`` Asset (its extra links to the player and the media);
*Regenerate* starts the next round, at most ``MAX_ROUNDS`` in all. While a review waits, the task
holds no worker slot (Airflow 3.3 parks it as "awaiting input"; older versions defer it to the triggerer).
"""

from __future__ import annotations

import zlib
from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.hitl import HITLBranchOperator
from airflow.sdk import Asset, Param, dag, task

from nemo_provider.links.urls import media_url, player_url
from nemo_provider.operators.nemo import NemoExportOperator, NemoGenerateOperator

REVIEWED_TRACKS = Asset(name="nemo_reviewed_tracks", uri="nemo://reviewed-tracks")
#: How many tracks one run may generate before it stops asking (each costs credits).
MAX_ROUNDS = 3
PUBLISH, REGENERATE, DISCARD = "Publish", "Regenerate", "Discard"


def round_seed(run_id: str, base: int | None, round_no: int) -> int:
    """A different seed per round; stable for a run so a retried task regenerates the same track."""
    start = base if base is not None else zlib.crc32(run_id.encode()) % 100_000
    return int(start) + 7919 * round_no


REVIEW_BODY = """\
**{{ ti.xcom_pull(task_ids='generate_%(n)d', key='generated_media')[-1]['title'] }}** \
(round %(round)d of %(max)d, seed {{ ti.xcom_pull(task_ids='message_%(n)d')['seed'] }})

Prompt: {{ params.prompt }}

Listen: {{ nemo_player_url(dag.dag_id, run_id, 'export_%(n)d') }}

%(choice)s"""


@dag(
    dag_id="nemo_review_tracks",
    schedule=None,
    tags=["nemo", "example", "review"],
    params={
        "prompt": Param(
            "calm lo-fi with soft piano for a study stream",
            type="string",
            minLength=3,
            maxLength=500,
            title="What should it sound like?",
            description="The brief every round is generated from.",
        ),
        "duration_s": Param(
            20, type="integer", minimum=4, maximum=600, title="Duration (seconds)", description="4 to 600 s."
        ),
        "seed": Param(
            None,
            type=["null", "integer"],
            minimum=0,
            title="First seed",
            description="Empty: derived from the run id. Each regeneration adds a fixed step.",
        ),
        "output_dir": Param(
            "",
            type="string",
            pattern=r"^$|^(/|[a-z][a-z0-9+.-]*://).+",
            title="Save to",
            description="A shared folder or object-storage URI; empty: the nemo_export_destination Variable, else NEMO_EXPORT_DIR.",
        ),
    },
    user_defined_macros={"nemo_player_url": player_url},
    doc_md=__doc__,
)
def nemo_review_tracks() -> None:
    @task
    def message(round_no: int, params: dict[str, Any], run_id: str) -> dict[str, Any]:
        seed = round_seed(run_id, params.get("seed"), round_no)
        text = (
            f"Generate background music: {params['prompt']}. Make it {int(params['duration_s'])} seconds long. "
            f"Use seed {seed}."
        )
        return {"text": text, "seed": seed}

    @task(outlets=[REVIEWED_TRACKS])
    def publish(
        round_no: int, generated: dict[str, Any], exported: dict[str, Any], **context: Any
    ) -> dict[str, Any]:
        """The approved track as an Asset event; its extra says where to hear and fetch it in Airflow."""
        media = (generated.get("generated_media") or [{}])[-1]
        run_id, dag_id = context["run_id"], context["dag"].dag_id
        task_id = f"export_{round_no}"
        extra = {
            "title": media.get("title"),
            "prompt": media.get("prompt"),
            "bpm": media.get("bpm"),
            "key": media.get("key"),
            "seed": media.get("seed"),
            "loudness_lufs": media.get("lufs"),
            "duration_s": exported.get("duration"),
            "format": exported.get("format"),
            "round": round_no + 1,
            "player": player_url(dag_id, run_id, task_id),
            "media": media_url(dag_id, run_id, task_id),
            "path": exported.get("path"),
        }
        context["outlet_events"][REVIEWED_TRACKS].extra = extra
        return extra

    previous_review: HITLBranchOperator | None = None
    for n in range(MAX_ROUNDS):
        last = n == MAX_ROUNDS - 1
        text = message.override(task_id=f"message_{n}")(n)
        generated = NemoGenerateOperator(task_id=f"generate_{n}", prompt=text["text"], task_name="review")
        exported = NemoExportOperator(
            task_id=f"export_{n}",
            session_id=generated.output["session_id"],
            format="mp3",
            destination=(
                "{% if params.output_dir %}{{ params.output_dir.rstrip('/') }}/"
                "{{ run_id | replace(':', '-') | replace('+', '_') }}/{% endif %}"
            ),
            deferrable=True,
            poll_interval=2,
            timeout=1800,
        )
        second = DISCARD if last else REGENERATE
        choice = (
            "Publish records it as the reviewed track; Discard ends the run without publishing."
            if last
            else "Publish records it as the reviewed track; Regenerate makes a new one with another seed."
        )
        review = HITLBranchOperator(
            task_id=f"review_{n}",
            subject=f"Publish this track? (round {n + 1} of {MAX_ROUNDS})",
            body=REVIEW_BODY % {"n": n, "round": n + 1, "max": MAX_ROUNDS, "choice": choice},
            options=[PUBLISH, second],
            options_mapping={PUBLISH: f"publish_{n}", second: "discarded" if last else f"message_{n + 1}"},
            response_timeout=timedelta(days=7),
        )
        published = publish.override(task_id=f"publish_{n}")(n, generated.output, exported.output)
        exported >> review >> published
        if previous_review is not None:
            previous_review >> text
        previous_review = review
    assert previous_review is not None
    previous_review >> EmptyOperator(task_id="discarded")


nemo_review_tracks()
