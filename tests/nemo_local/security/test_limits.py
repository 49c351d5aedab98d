"""Every documented limit is enforced before work starts, each with its own enveloped error naming the
field and the limit (and the switch that raises it); refused work costs nothing and leaves no file."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.nemo_local.conftest import User
from tests.nemo_local.security.conftest import Client, envelope, png_header, small_png

MB = 1024 * 1024


def _seg(i: int, **extra: Any) -> dict[str, Any]:
    return {"id": f"s{i}", "s": i * 100, "d": 100, "txt": "x", **extra}


def _draft(tracks: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"t": tracks, "d": 1000, "m": {}, **extra}


def _render(user: User, sid: str, draft: Any, rid: str | None = None, **kw: Any) -> httpx.Response:
    body = {
        "id": rid or f"r_{uuid.uuid4().hex[:10]}",
        "sessionId": sid,
        "draft": draft,
        "output": {"format": "mp3"},
    }
    return user.post("/api/render/proxy/lambda", json=body, **kw)


def _upload(user: User, sid: str, files: list[tuple[str, bytes]]) -> httpx.Response:
    return user.post(f"/api/upload-video/nemo_agent/me/{sid}", files=[("files", f) for f in files])


@pytest.mark.parametrize(
    ("draft", "name", "field"),
    [
        (_draft([{"tt": 7, "sg": [_seg(i) for i in range(10_000)]}]), "draft_segments", "draft"),
        (_draft([{"tt": 7, "sg": [_seg(0)]} for _ in range(6)]), "draft_tracks", "draft.t"),
        (_draft([{"tt": 7, "sg": [_seg(0)]}], d=3_600_000), "export_seconds", "draft.d"),
        (_draft([{"tt": 7, "sg": [_seg(0, d=3_600_000)]}], d=0), "export_seconds", "draft.t[0].sg[0]"),
        (_draft([{"tt": 7, "sg": [_seg(0, txt="x" * 1001)]}]), None, "draft.t[0].sg[0].txt"),
    ],
)
def test_draft_limits_refuse_the_render_before_it_exists(
    strict: Client, draft: dict[str, Any], name: str | None, field: str
) -> None:
    user = strict.user()
    sid = user.new_session()
    before, files = user.credits(), strict.server.files()
    rid = f"r_{uuid.uuid4().hex[:10]}"
    resp = _render(user, sid, draft, rid=rid)
    body = envelope(resp, 422)
    assert body["data"]["field"] == field, body
    if name is not None:
        assert body["data"]["switch"].startswith("--max-") and "limit" in body["message"]
    assert user.credits() == before and strict.server.files() == files
    assert user.get(f"/api/render/proxy/lambda/{rid}").status_code == 404
    # nothing was created: the user can still start one render (the per-user limit is 1)
    ok = _render(user, sid, _draft([{"tt": 7, "sg": [_seg(0)]}]))
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (
            '{"t":[{"tt":1,"sg":[{"id":"a","s":0,"d":1000,"src":"x","v":"loud"}]}],"d":1000}',
            "draft.t[0].sg[0].v",
        ),
        (
            '{"t":[{"tt":7,"sg":[{"id":"a","s":0,"d":1000,"txt":"x"}]}],"d":1000,"m":{"width":Infinity}}',
            "draft.m.width",
        ),
        ('{"t":[{"tt":7,"sg":[{"id":"a","s":0,"d":Infinity,"txt":"x"}]}],"d":1000}', "draft.t[0].sg[0].d"),
        ('{"t":[{"tt":7,"sg":[{"id":"a","s":0,"d":1000,"txt":"x"}]}],"d":1e12}', "draft.d"),
        ('{"t":[{"tt":7,"sg":[{"id":"a","s":NaN,"d":1000,"txt":"x"}]}],"d":1000}', "draft.t[0].sg[0].s"),
        ('{"t":[{"tt":7,"sg":[{"id":"a","s":-5,"d":1000,"txt":"x"}]}],"d":1000}', "draft.t[0].sg[0].s"),
        ('{"t":[{"tt":7,"sg":"many"}],"d":1000}', "draft.t[0].sg"),
        ('{"t":[{"tt":[7],"sg":[]}],"d":1000}', "draft.t[0].tt"),
        ('{"t":"x","d":1000}', "draft.t"),
        ('{"t":[' + '{"m":' * 40 + "{}" + "}" * 40 + "]}", "draft"),
    ],
)
def test_bad_draft_values_name_their_field(strict: Client, raw: str, field: str) -> None:
    user = strict.user()
    sid = user.new_session()
    content = f'{{"id":"r_{uuid.uuid4().hex[:8]}","sessionId":"{sid}","draft":{raw}}}'
    resp = user.post(
        "/api/render/proxy/lambda", content=content, headers={"Content-Type": "application/json"}
    )
    body = envelope(resp, 422)
    assert body["data"]["field"] == field, body
    assert field in body["message"]


def test_per_user_render_limit_answers_429_and_spares_others(strict: Client) -> None:
    strict.faults(render_stuck=True)
    try:
        user, other = strict.user(), strict.user()
        sid, other_sid = user.new_session(), other.new_session()
        first = _render(user, sid, _draft([{"tt": 7, "sg": [_seg(0)]}]))
        assert first.status_code == 200
        second = _render(user, sid, _draft([{"tt": 7, "sg": [_seg(0)]}]))
        body = envelope(second, 429)
        assert body["data"]["field"] == "renders_per_user" and int(second.headers["retry-after"]) > 0
        assert _render(other, other_sid, _draft([{"tt": 7, "sg": [_seg(0)]}])).status_code == 200
        rid = first.json()["id"]
        assert user.post(f"/api/render/proxy/lambda/{rid}/cancel").json()["status"] == "cancelled"
        assert _render(user, sid, _draft([{"tt": 7, "sg": [_seg(0)]}])).status_code == 200
    finally:
        strict.faults(render_stuck=False)


def test_body_over_the_limit_is_refused_from_its_declared_length(strict: Client) -> None:
    user = strict.user()
    sid = user.new_session()
    blob = b'{"sessionId":"' + sid.encode() + b'","draft":{"x":"' + b"a" * (2 * MB) + b'"}}'
    resp = user.post("/api/render/proxy/lambda", content=blob, headers={"Content-Type": "application/json"})
    body = envelope(resp, 413)
    assert body["data"] == {"field": "body", "limit": MB, "value": len(blob), "switch": "--max-body-mb"}


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    yield b'{"sessionId":"1","draft":{"x":"'
    sent = 0
    while sent < total:
        yield b"a" * size
        sent += size
    yield b'"}}'


def test_a_chunked_body_is_cut_off_at_the_limit(strict: Client) -> None:
    user = strict.user()
    try:
        resp = user.post(
            "/api/render/proxy/lambda", content=_chunks(3 * MB), headers={"Content-Type": "application/json"}
        )
    except httpx.HTTPError:
        return  # the server answered and closed while the client was still sending: refused either way
    body = envelope(resp, 413)
    assert body["data"]["field"] == "body" and body["data"]["limit"] == MB


def test_too_many_files_in_one_upload(strict: Client) -> None:
    user = strict.user()
    sid = user.new_session()
    png = small_png()
    before = strict.server.files()
    resp = _upload(user, sid, [(f"f{i}.png", png) for i in range(300)])
    body = envelope(resp, 422)
    assert body["data"]["field"] == "files" and body["data"]["limit"] == 3
    assert strict.server.files() == before
    urls = user.post(f"/api/upload-video/nemo_agent/me/{sid}", json={"urls": ["http://x.test/a.png"] * 4})
    assert envelope(urls, 422)["data"]["field"] == "files"


def test_file_names(strict: Client) -> None:
    user = strict.user()
    sid = user.new_session()
    png = small_png()
    before = strict.server.files()
    for name in ("a" * 150 + ".png", "a" * 10_000 + ".png"):
        body = envelope(_upload(user, sid, [(name, png)]), 422)
        assert "files" in body["data"]["field"] and "100" in body["message"]
        assert body["data"]["switch"] == "--max-filename-chars"  # a limit, answered as every limit is
    # httpx would percent-encode the control character: the body is built by hand
    raw = (
        b'--BB\r\nContent-Disposition: form-data; name="files"; filename="bad\x07name.png"\r\n'
        b"Content-Type: image/png\r\n\r\n" + png + b"\r\n--BB--\r\n"
    )
    resp = user.post(
        f"/api/upload-video/nemo_agent/me/{sid}",
        content=raw,
        headers={"Content-Type": "multipart/form-data; boundary=BB"},
    )
    assert "control" in envelope(resp, 422)["message"]
    assert strict.server.files() == before
    ok = _upload(user, sid, [("名字 😀 ünïcode.png", png)])
    assert ok.status_code == 200, ok.text
    (f,) = ok.json()["data"]["files"]
    assert f["filename"] == "名字 😀 ünïcode.png" and f["cdn_url"].endswith(".png")
    assert httpx.get(f["cdn_url"]).content == png


def test_a_huge_picture_is_refused_at_upload(strict: Client) -> None:
    user = strict.user()
    sid = user.new_session()
    before = strict.server.files()
    resp = _upload(user, sid, [("huge.png", png_header(20_000, 20_000))])
    body = envelope(resp, 422)
    assert body["data"]["field"] == "files[0]" and body["data"]["value"] == "20000x20000"
    assert "megapixels" in body["message"] and "--max-picture-mp" in body["message"]
    assert strict.server.files() == before
    assert user.state(sid)["state"]["draft"] is None


def test_limits_in_the_docs_are_the_ones_enforced() -> None:
    from pathlib import Path

    from nemo_local.limits import SPECS, limits_table

    doc = (Path(__file__).resolve().parents[3] / "docs" / "local-backend.md").read_text()
    for row in limits_table().splitlines()[2:]:
        assert row in doc, f"docs/local-backend.md lacks the row: {row}"
    assert len(SPECS) == len({s.flag for s in SPECS}) == len({s.env for s in SPECS})
    assert all(math.isfinite(s.default) and s.default > 0 for s in SPECS)
    json.dumps([s.name for s in SPECS])
