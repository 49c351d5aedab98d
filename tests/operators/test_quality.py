"""The quality gate in the operators: the export's policies, expectations, manifest and lineage, and
NemoMediaCheckOperator. The Nemo API is the scripted fake; the files are real nemo_local tracks."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from nemo_provider._compat import AirflowFailException
from nemo_provider.client.models import GeneratedMedia
from nemo_provider.operators.nemo import NemoExportOperator
from nemo_provider.operators.quality import NemoMediaCheckOperator, NemoQualityError, resolve_policy

SID = "1234567890123456789"
SECONDS = 6.0


@pytest.fixture(scope="module")
def mp3(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, dict]:
    from nemo_local.composer import compose

    track = compose("warm acoustic guitar for a travel vlog", duration_s=SECONDS, seed=2)
    path = tmp_path_factory.mktemp("gate") / "track.mp3"
    track.write(path)
    return path.read_bytes(), track.metadata


@pytest.fixture
def session(fake_client, mp3):
    """The fake service serves a real track, described by its real metadata, alone on the timeline."""
    payload, meta = mp3
    fake_client.payload = payload
    fake_client.media = [
        GeneratedMedia(
            id="med_1", kind="music", title=meta["title"], prompt=meta["prompt"], bpm=meta["bpm"], key=meta["key"],
            mood=meta["mood"], seed=meta["seed"], lufs=meta["lufs"], duration_ms=meta["duration_ms"],
            genre=meta["genre"], instruments=meta["instruments"], engine="nemo_local 0.1.0",
        )
    ]  # fmt: skip
    fake_client.draft = {
        "t": [{"tt": 1, "sg": [{"id": "bgm", "s": 0, "d": 6000, "src": "http://x/m.wav", "v": 1.0,
                                "m": {"media_id": "med_1"}}]}],
        "d": 6000,
    }  # fmt: skip
    return fake_client


def export(tmp_path: Path, **kw) -> NemoExportOperator:
    kw.setdefault("destination", str(tmp_path) + "/")
    return NemoExportOperator(
        task_id="export", session_id=SID, format="mp3", deferrable=False, poll_interval=0.01, **kw
    )


def test_default_gate_passes_a_track_that_is_what_the_session_says(session, records, ti, tmp_path) -> None:
    out = export(tmp_path).execute({"ti": ti})
    q = out["quality"]
    assert q["passed"] is True, q["summary"]
    names = {c["name"] for c in q["checks"] if c["judged"]}
    assert {"audio_codec", "duration_s", "loudness_lufs", "true_peak_dbtp", "tempo_bpm", "key"} <= names
    assert q["expected"]["bpm"] == session.media[0].bpm and q["expected"]["duration_s"] == SECONDS


def test_fail_policy_raises_after_keeping_the_file_and_its_manifest(session, records, ti, tmp_path) -> None:
    op = export(tmp_path, quality_check="fail", expect={"bpm": 61, "lufs": -23})
    with pytest.raises(NemoQualityError) as exc:
        op.execute({"ti": ti})
    message = str(exc.value)
    assert "tempo_bpm: measured" in message and "expected 61" in message
    assert "loudness_lufs: measured" in message and "expected -23" in message
    assert {m["name"] for m in exc.value.result["misses"]} == {"tempo_bpm", "loudness_lufs"}
    kept = list(tmp_path.glob("*.mp3"))
    assert len(kept) == 1 and kept[0].read_bytes() == session.payload, "the file is kept for inspection"
    manifest = json.loads(Path(str(kept[0]) + ".nemo.json").read_text())
    assert manifest["quality"]["passed"] is False
    assert records.records == {}, "a finished render leaves no resume record: a retry would not re-render"


def test_warn_policy_returns_the_misses(session, records, ti, tmp_path) -> None:
    out = export(tmp_path, quality_check="warn", expect={"duration_s": 7.5}).execute({"ti": ti})
    assert out["quality"]["passed"] is False
    assert [m["name"] for m in out["quality"]["misses"]] == ["duration_s"]


def test_off_policy_measures_nothing_but_still_writes_the_manifest(session, records, ti, tmp_path) -> None:
    out = export(tmp_path, quality_check="off").execute({"ti": ti})
    assert out["quality"] is None
    assert json.loads(Path(out["manifest"]).read_text())["quality"] is None


def test_video_volume_and_format_shape_the_expectations(session, records, ti, tmp_path) -> None:
    # at 35 % volume the music is ~9 dB quieter than the engine mastered it: the gate expects that
    session.draft["t"][0]["sg"][0]["v"] = 0.35
    out = export(tmp_path).execute({"ti": ti})
    expected = out["quality"]["expected"]
    assert expected["lufs"] == pytest.approx(session.media[0].lufs - 9.12, abs=0.01)
    assert [m["name"] for m in out["quality"]["misses"]] == ["loudness_lufs"]


def test_manifest_records_provenance_and_the_files_hash(session, records, ti, tmp_path) -> None:
    out = export(tmp_path, credits_spent="10").execute({"ti": ti})
    manifest = json.loads(Path(out["manifest"]).read_text())
    assert manifest["file"]["sha256"] == hashlib.sha256(Path(out["path"]).read_bytes()).hexdigest()
    assert manifest["file"]["size"] == out["size"] and manifest["render_id"] == out["render_id"]
    assert manifest["session_id"] == SID and manifest["seed"] == session.media[0].seed
    assert manifest["plan"]["bpm"] == session.media[0].bpm and manifest["plan"]["style"] == "acoustic"
    assert manifest["plan"]["instruments"] == session.media[0].instruments
    assert manifest["engine"] == {"name": "nemo_local", "version": "0.1.0", "service": None}
    assert "no samples" in manifest["licence"]["statement"]
    assert manifest["credits_spent"] == {"export": 0, "generation": 10.0}
    assert manifest["quality"]["measured"]["audio"]["integrated_lufs"] is not None


def test_object_storage_export_gets_its_manifest_there(session, records, ti, tmp_path, monkeypatch) -> None:
    from airflow.sdk import ObjectStoragePath
    from airflow.sdk.io import fs
    from fsspec.implementations.memory import MemoryFileSystem

    memory = MemoryFileSystem()
    monkeypatch.setitem(fs._register_filesystems(), "memory", lambda conn_id: memory)
    out = export(tmp_path, destination="memory://bucket/gate/track.mp3").execute({"ti": ti})
    assert out["manifest"] == "memory://bucket/gate/track.mp3.nemo.json"
    manifest = json.loads(ObjectStoragePath(out["manifest"]).read_text())
    assert manifest["file"]["sha256"] == hashlib.sha256(session.payload).hexdigest()
    assert out["quality"]["passed"] is True, out["quality"]["summary"]


def test_export_lineage_names_the_delivered_file_and_carries_the_verdict(
    session, records, ti, tmp_path
) -> None:
    op = export(tmp_path)
    out = op.execute({"ti": ti})
    lineage = op.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.outputs] == [("file", out["path"])]
    facet = lineage.run_facets["nemo"].nemo
    assert facet["render_id"] == out["render_id"] and facet["quality"]["passed"] is True
    assert facet["file"]["sha256"] and facet["plan"]["key"] == session.media[0].key


def test_media_check_operator_passes_fails_and_reads_file_uris(mp3, tmp_path) -> None:
    payload, _ = mp3
    path = tmp_path / "t.mp3"
    path.write_bytes(payload)
    good = NemoMediaCheckOperator(
        task_id="c", path=f"file://{path}", expect={"format": "mp3", "duration_s": "6"}
    )
    assert good.execute({})["passed"] is True
    bad = NemoMediaCheckOperator(task_id="c", path=str(path), expect={"format": "wav", "key": "C# major"})
    with pytest.raises(NemoQualityError, match="audio_codec: measured mp3float, expected pcm_s16le"):
        bad.execute({})
    soft = NemoMediaCheckOperator(task_id="c", path=str(path), expect={"format": "wav"}, fail_on_miss=False)
    assert soft.execute({})["passed"] is False
    lineage = soft.get_openlineage_facets_on_complete(None)
    assert [d.name for d in lineage.inputs] == [str(path)] and lineage.run_facets["nemo"].nemo["quality"][
        "passed"
    ] is False


def test_unknown_expectations_and_policies_are_clear_errors(mp3, tmp_path) -> None:
    with pytest.raises(ValueError, match="Unknown expectation"):
        NemoMediaCheckOperator(task_id="c", path=str(tmp_path), expect={"tempo": 90}).execute({})
    with pytest.raises(ValueError, match="quality_check must be one of fail, warn, off"):
        resolve_policy("strict")


def test_without_the_extra_the_default_is_off_and_fail_says_what_to_install(monkeypatch) -> None:
    from nemo_provider import quality

    monkeypatch.setattr(quality, "missing", lambda: ["librosa"])
    assert resolve_policy(None) == "off"
    assert resolve_policy("warn") == "off"
    with pytest.raises(AirflowFailException, match=r"airflow-provider-nemo\[quality\].*librosa"):
        resolve_policy("fail")
