"""A track that is what was asked, or no track: regenerate with another seed until the quality check passes.

``gated_track`` generates a track, exports it with ``quality_check="fail"`` (the delivered file is
measured against what the session says it made and what the export asked: length, tempo, key,
loudness, true peak, silence, codecs) and, on a ``NemoQualityError``, asks for the same music with the
next seed, at most ``max_attempts`` times. Each attempt costs a generation's credits; the failed files
stay in the run folder with their ``.nemo.json`` manifests for inspection. Then ``check_delivery``
re-checks the delivered file on its own (``NemoMediaCheckOperator``, the standalone gate), and
``publish`` records it as an Asset event whose extra carries the verdict and the manifest.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset, Param, dag, task

from nemo_provider.operators.quality import NemoMediaCheckOperator

CHECKED_TRACKS = Asset(name="nemo_checked_tracks", uri="nemo://checked-tracks")


@dag(
    dag_id="nemo_quality_gated",
    schedule=None,
    tags=["nemo", "example", "quality"],
    params={
        "prompt": Param("warm acoustic guitar for a travel vlog at 100 bpm", type="string", minLength=3),
        "duration_s": Param(20, type="integer", minimum=4, maximum=600),
        "output_format": Param("mp3", enum=["mp3", "wav", "m4a", "mp4"]),
        "max_attempts": Param(3, type="integer", minimum=1, maximum=10),
        "first_seed": Param(1, type="integer", minimum=0),
        "expect": Param({}, type="object", description='Extra expectations, e.g. {"lufs": -16}.'),
        "output_dir": Param(
            "",
            type="string",
            description="A folder or object-storage URI; empty: the nemo_export_destination Variable, "
            "else NEMO_EXPORT_DIR (the export operator's own default).",
        ),
    },
    doc_md=__doc__,
)
def nemo_quality_gated() -> None:
    @task
    def gated_track(params: dict[str, Any], run_id: str, **context: Any) -> dict[str, Any]:
        """Generate + export (gate "fail"), with the next seed after each miss; at most max_attempts."""
        from nemo_provider.operators.nemo import NemoExportOperator, NemoGenerateOperator
        from nemo_provider.operators.quality import NemoQualityError

        run_folder = run_id.replace(":", "-").replace("+", "_")
        folder = f"{params['output_dir'].rstrip('/')}/{run_folder}" if params["output_dir"] else None
        misses: list[str] = []
        for attempt in range(int(params["max_attempts"])):
            seed = int(params["first_seed"]) + attempt
            # a fresh session per take: the new track is the only one on its timeline
            generated = NemoGenerateOperator(
                task_id=f"generate_{attempt}",
                task_name=f"{params['prompt']} (take {attempt + 1})",
                prompt=f"Generate {params['prompt']}. Make it {int(params['duration_s'])} seconds long. "
                f"Use seed {seed}.",
            ).execute_nested(context)
            session_id = generated["session_id"]
            fmt = params["output_format"]
            export = NemoExportOperator(
                task_id=f"export_{attempt}",
                session_id=session_id,
                format=fmt,
                destination=f"{folder}/attempt-{attempt}.{fmt}" if folder else None,
                quality_check="fail",
                expect=params["expect"] or None,
                credits_spent=generated["credits_spent"],
                deferrable=False,
                poll_interval=1,
                timeout=1800,
            )
            try:
                result = export.execute_nested(context)
            except NemoQualityError as err:
                misses.append(f"seed {seed}: {err.result.get('summary')}")
                print(f"Attempt {attempt + 1} (seed {seed}) missed; trying the next seed.\n{err}")
                continue
            return {**result, "attempts": attempt + 1, "seed": seed, "earlier_misses": misses}
        raise NemoQualityError(
            f"No track passed the quality check in {params['max_attempts']} attempt(s):\n" + "\n".join(misses)
        )

    track = gated_track()

    check = NemoMediaCheckOperator(
        task_id="check_delivery",
        path="{{ ti.xcom_pull(task_ids='gated_track')['path'] }}",
        expect={
            "format": "{{ params.output_format }}",
            "duration_s": "{{ params.duration_s }}",
        },
    )

    @task(outlets=[CHECKED_TRACKS])
    def publish(result: dict[str, Any], **context: Any) -> dict[str, Any]:
        quality = result.get("quality") or {}
        extra = {
            "path": result["path"],
            "seed": result["seed"],
            "attempts": result["attempts"],
            "quality_passed": quality.get("passed"),
            "quality_summary": quality.get("summary"),
            "manifest": result.get("manifest"),
        }
        context["outlet_events"][CHECKED_TRACKS].extra = extra
        return extra

    track >> check >> publish(track)


nemo_quality_gated()
