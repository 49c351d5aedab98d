"""Extra links and URLs point at the tracks page through Airflow, never at a worker path or the backend."""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest

from nemo_provider.links.nemo import NemoDownloadLink, NemoTrackLink
from nemo_provider.links.urls import media_url, player_url, track_urls

KEY = SimpleNamespace(
    dag_id="weekly", run_id="manual__2026-12-01T08:00:00+00:00", task_id="track.export_mp3", map_index=2
)


def test_links_name_the_task_instance_under_the_api_servers_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com/")
    op = SimpleNamespace(render_url="http://127.0.0.1:8765/files/r.mp3")
    listen = NemoTrackLink().get_link(op, ti_key=KEY)  # type: ignore[arg-type]
    download = NemoDownloadLink().get_link(op, ti_key=KEY)  # type: ignore[arg-type]
    for url, path in ((listen, "/nemo/track"), (download, "/nemo/media")):
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc, parts.path) == ("https", "airflow.example.com", path)
        query = parse_qs(parts.query)
        assert query["run_id"] == [KEY.run_id] and query["map_index"] == ["2"]
        assert "127.0.0.1" not in url and "/tmp" not in url
    assert parse_qs(urlsplit(download).query)["download"] == ["1"]


def test_links_are_relative_without_a_base_url_and_empty_before_delivery(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AIRFLOW__API__BASE_URL", raising=False)
    monkeypatch.setattr("nemo_provider.links.nemo._delivered", lambda op, key: bool(op.render_url))
    assert NemoTrackLink().get_link(SimpleNamespace(render_url="x"), ti_key=KEY).startswith("/nemo/track?")  # type: ignore[arg-type]
    assert NemoTrackLink().get_link(SimpleNamespace(render_url=None), ti_key=KEY) == ""  # type: ignore[arg-type]


def test_track_urls_for_sibling_exports_of_a_mapped_group() -> None:
    ti = SimpleNamespace(dag_id="weekly", run_id="r1", task_id="track.publish", map_index=3)
    urls = track_urls({"ti": ti}, ("export_mp3",))
    assert urls["export_mp3_player"] == player_url("weekly", "r1", "track.export_mp3", 3)
    assert urls["export_mp3_media"] == media_url("weekly", "r1", "track.export_mp3", 3)
    assert (
        "task_id=track.export_mp3" in urls["export_mp3_media"] and "map_index=3" in urls["export_mp3_media"]
    )
