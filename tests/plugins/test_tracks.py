"""The tracks plugin inside Airflow's real api-server app: registration, auth, listing, media."""

from __future__ import annotations

import hashlib
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.plugins.seed import seed_tracks

DAG = "nemo_plugin_test"


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("delivered")
    for i in range(3):
        (folder / f"track-{i}.mp3").write_bytes(os.urandom(50_000 + i))
    (folder / "clip.mp4").write_bytes(os.urandom(80_000))
    return folder


@pytest.fixture(scope="module")
def seeded(api_app: Any, media_dir: Path) -> list[dict[str, Any]]:
    from airflow.utils.session import create_session

    files = [
        media_dir / "track-0.mp3",
        media_dir / "track-1.mp3",
        media_dir / "track-2.mp3",
        media_dir / "clip.mp4",
    ]
    with create_session() as session:
        return seed_tracks(session, DAG, files, runs=2, start=datetime(2026, 11, 2, tzinfo=timezone.utc),
                           with_quality=True)  # fmt: skip


def _media(track: dict[str, Any], **extra: Any) -> str:
    keys = {k: track[k] for k in ("dag_id", "run_id", "task_id", "map_index")}
    return "/nemo/media?" + urlencode({**keys, **extra})


# -- registration ----------------------------------------------------------------------------------
def test_provider_info_and_plugins_manager_register_the_plugin(api_app: Any) -> None:
    from airflow import plugins_manager
    from airflow.providers_manager import ProvidersManager

    assert any(p.plugin_class.endswith("NemoTracksPlugin") for p in ProvidersManager().plugins)
    apps, _ = plugins_manager.get_fastapi_plugins()
    assert [a["url_prefix"] for a in apps if a["name"] == "Nemo tracks"] == ["/nemo"]
    views, _ = plugins_manager._get_ui_plugins()
    nav = [v for v in views if v.get("url_route") == "nemo-tracks"]
    assert nav and nav[0]["destination"] == "nav" and nav[0]["href"] == "/nemo/tracks"
    routes = {getattr(r, "path", None) for r in api_app.routes}
    assert "/nemo" in routes, "Airflow's api-server mounted the plugin app"


def test_the_ui_lists_the_page_in_its_navigation(http: Any, tokens: dict[str, str]) -> None:
    response = http.get("/api/v2/plugins", headers=_auth(tokens["viewer"]))
    assert response.status_code == 200, response.text
    names = {v["name"] for p in response.json()["plugins"] for v in p.get("external_views", [])}
    assert "Nemo tracks" in names


# -- authentication and authorization -------------------------------------------------------------
@pytest.mark.parametrize(
    "path", ["/nemo/tracks", "/nemo/api/tracks", "/nemo/track?dag_id=x&run_id=y&task_id=z"]
)
def test_anonymous_requests_are_refused(http: Any, seeded: list[dict[str, Any]], path: str) -> None:
    assert http.get(path).status_code == 401
    assert http.get(_media(seeded[0])).status_code == 401
    bad = http.get(path, headers={"Authorization": "Bearer not-a-jwt"})
    assert bad.status_code in (401, 403)


def test_anonymous_browser_gets_a_login_link(http: Any) -> None:
    response = http.get("/nemo/tracks", headers={"Accept": "text/html"})
    assert response.status_code == 401
    assert "/auth/login/" in response.text and "Log in" in response.text


def test_a_user_without_access_sees_and_plays_nothing(
    http: Any, tokens: dict[str, str], seeded: list[dict[str, Any]]
) -> None:
    headers = _auth(tokens["outsider"])
    listing = http.get("/nemo/api/tracks", headers=headers)
    assert listing.status_code == 200 and listing.json()["total"] == 0
    page = http.get("/nemo/tracks", headers=headers)
    assert page.status_code == 200 and DAG not in page.text
    assert http.get("/nemo/api/tracks", params={"dag_id": DAG}, headers=headers).status_code == 403
    assert http.get(_media(seeded[0]), headers=headers).status_code == 403
    track = {k: seeded[0][k] for k in ("dag_id", "run_id", "task_id", "map_index")}
    assert http.get("/nemo/track", params=track, headers=headers).status_code == 403


# -- the list --------------------------------------------------------------------------------------
def test_lists_every_track_newest_first_with_metadata(
    http: Any, tokens: dict[str, str], seeded: list[dict[str, Any]]
) -> None:
    body = http.get("/nemo/api/tracks", params={"dag_id": DAG}, headers=_auth(tokens["viewer"])).json()
    assert body["total"] == len(seeded) == 4
    items = body["tracks"]
    stamps = [t["delivered_at"] for t in items]
    assert stamps == sorted(stamps, reverse=True)
    newest = items[0]
    assert newest["title"] == "Track 3" and newest["prompt"].endswith("#3")
    assert newest["bpm"] == 83 and newest["key"] == "G major" and newest["lufs"] == -14.0
    assert newest["credits_spent"] == 5 and newest["is_video"] is True
    assert {t["quality"]["passed"] for t in items} == {True, False}


def test_filters_and_pagination(http: Any, tokens: dict[str, str], seeded: list[dict[str, Any]]) -> None:
    h = _auth(tokens["viewer"])

    def total(**params: Any) -> int:
        response = http.get("/nemo/api/tracks", params={"dag_id": DAG, **params}, headers=h)
        assert response.status_code == 200, response.text
        return int(response.json()["total"])

    run_ids = sorted({t["run_id"] for t in seeded})
    assert total(run_id=run_ids[0]) + total(run_id=run_ids[1]) == 4
    assert total(q="#2") == 1, "prompt text is matched in the run's generate task"
    assert total(q="no such words") == 0
    assert total(since="2026-11-03") == 2 and total(until="2026-11-02") == 2
    assert total(since="2027-01-01") == 0
    first = http.get("/nemo/api/tracks", params={"dag_id": DAG, "per_page": 3}, headers=h).json()
    second = http.get("/nemo/api/tracks", params={"dag_id": DAG, "per_page": 3, "page": 2}, headers=h).json()
    assert len(first["tracks"]) == 3 and len(second["tracks"]) == 1
    seen = {(t["run_id"], t["map_index"]) for t in first["tracks"] + second["tracks"]}
    assert len(seen) == 4
    assert http.get("/nemo/api/tracks", params={"since": "yesterday"}, headers=h).status_code == 422


def test_page_shows_players_metadata_and_links(
    http: Any, tokens: dict[str, str], seeded: list[dict[str, Any]]
) -> None:
    html = http.get("/nemo/tracks", params={"dag_id": DAG}, headers=_auth(tokens["viewer"])).text
    assert html.count('class="card track"') == 4
    assert html.count("<audio ") == 3 and html.count("<video ") == 1
    for expected in ("Track 2", "G major", "-14.0 LUFS", "too quiet"):
        assert expected in html, expected
    assert f"/dags/{DAG}/runs/" in html and "/tasks/track.export/mapped/" in html
    assert "download=1" in html and "1–4 of 4" in html


# -- media ----------------------------------------------------------------------------------------
def test_media_streams_whole_and_ranges(
    http: Any, tokens: dict[str, str], seeded: list[dict[str, Any]]
) -> None:
    h = _auth(tokens["viewer"])
    track = seeded[0]
    data = Path(track["path"]).read_bytes()
    whole = http.get(_media(track), headers=h)
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    assert hashlib.sha256(whole.content).digest() == hashlib.sha256(data).digest()
    assert whole.headers["content-type"] == "audio/mpeg"
    part = http.get(_media(track), headers={**h, "Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.content == data[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(data)}"
    tail = http.get(_media(track), headers={**h, "Range": "bytes=-100"})
    assert tail.status_code == 206 and tail.content == data[-100:]
    open_end = http.get(_media(track), headers={**h, "Range": f"bytes={len(data) - 10}-"})
    assert open_end.content == data[-10:]
    beyond = http.get(_media(track), headers={**h, "Range": f"bytes={len(data)}-"})
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{len(data)}"
    download = http.get(_media(track, download=1), headers=h)
    assert download.headers["content-disposition"].startswith("attachment;")


def test_media_is_looked_up_by_task_instance_never_by_request_path(
    http: Any, tokens: dict[str, str], seeded: list[dict[str, Any]]
) -> None:
    h = _auth(tokens["viewer"])
    probe = {**seeded[0], "task_id": "../../../../etc/passwd"}
    assert http.get(_media(probe), headers=h).status_code == 404
    assert http.get("/nemo/media", params={"path": "/etc/passwd"}, headers=h).status_code == 422


def test_media_checks_what_the_xcom_points_at(
    api_app: Any, http: Any, tokens: dict[str, str], tmp_path: Path
) -> None:
    """A planted XCom path outside the export formats is never opened; a swapped file is refused."""
    from airflow.utils.session import create_session

    secret = tmp_path / "secret.txt"
    secret.write_text("do not serve")
    swapped = tmp_path / "swapped.mp3"
    swapped.write_bytes(b"x" * 100)
    with create_session() as session:
        bad, changed = seed_tracks(session, "nemo_plugin_checks", [secret, swapped])
    swapped.write_bytes(b"y" * 150)  # replaced after delivery
    h = _auth(tokens["viewer"])
    refused = http.get(_media(bad), headers=h)
    assert refused.status_code == 404 and "do not serve" not in refused.text
    assert http.get(_media(changed), headers=h).status_code == 409


def test_media_from_object_storage(
    api_app: Any, http: Any, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ObjectStoragePath URI (fsspec's in-memory store here) is streamed with ranges like a file."""
    from airflow.sdk import ObjectStoragePath
    from airflow.sdk.io import fs
    from airflow.utils.session import create_session
    from fsspec.implementations.memory import MemoryFileSystem

    # what a provider's "filesystems" entry does for s3://; memory:// keeps the test offline
    monkeypatch.setitem(
        fs._register_filesystems(), "memory", lambda conn_id, options=None: MemoryFileSystem()
    )  # type: ignore[index]

    data = os.urandom(40_000)
    target = ObjectStoragePath("memory://nemo-bucket/exports/track.m4a")
    with target.open("wb") as f:
        f.write(data)
    with create_session() as session:
        (track,) = seed_tracks(session, "nemo_plugin_objects", [Path("/unused")], count=1)
        from airflow.models.xcom import XComModel
        from sqlalchemy import select

        row = session.scalar(
            select(XComModel).where(
                XComModel.dag_id == "nemo_plugin_objects",
                XComModel.key == "return_value",
                XComModel.task_id == "track.export",
            )
        )
        row.value = {**row.value, "path": str(target), "format": "m4a", "size": len(data)}
    h = _auth(tokens["viewer"])
    part = http.get(_media(track), headers={**h, "Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["content-type"] == "audio/mp4"


def test_prompt_operator_exports_and_the_quality_gates_media_key_are_read(
    api_app: Any, http: Any, tokens: dict[str, str], media_dir: Path
) -> None:
    """NemoPromptOperator nests the export under ``result``; ``media`` (quality gate) wins over generate."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        (track,) = seed_tracks(session, "nemo_plugin_prompt", [media_dir / "track-0.mp3"])
        row = session.scalar(
            select(XComModel).where(
                XComModel.dag_id == "nemo_plugin_prompt",
                XComModel.key == "return_value",
                XComModel.task_id == "track.export",
            )
        )
        media = [{"title": "From the manifest", "bpm": 101, "key": "E minor", "lufs": -16.0}]
        row.value = {"action": "export", "result": {**row.value, "media": media, "manifest": "/x.nemo.json"}}
    items = http.get(
        "/nemo/api/tracks", params={"dag_id": "nemo_plugin_prompt"}, headers=_auth(tokens["viewer"])
    ).json()["tracks"]
    (item,) = items
    assert (item["title"], item["bpm"], item["key"], item["lufs"]) == (
        "From the manifest",
        101,
        "E minor",
        -16.0,
    )
    assert item["manifest"] == "/x.nemo.json" and item["credits_spent"] == 5
    assert http.get(_media(track), headers=_auth(tokens["viewer"])).status_code == 200
