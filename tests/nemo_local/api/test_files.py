"""Public media paths: served without a token, only under their exact id and name."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.nemo_local.conftest import Api


def test_exact_path_only(api: Api, media_files: dict[str, Path]) -> None:
    user = api.user()
    sid = user.new_session()
    files = [("files", ("tone.wav", media_files["wav"].read_bytes()))]
    url = user.post(f"/api/upload-video/nemo_agent/me/{sid}", files=files).json()["data"]["files"][0][
        "cdn_url"
    ]
    assert httpx.get(url).status_code == 200
    base, public_id, name = url.rsplit("/", 2)
    for wrong in (f"{base}/{public_id}/other.wav", f"{base}/{public_id}0/{name}"):
        resp = httpx.get(wrong)
        assert resp.status_code == 404 and resp.json()["code"] == 404
    assert httpx.get(f"{base}/{public_id}/..%2F..%2Fsecret.key").status_code == 404
