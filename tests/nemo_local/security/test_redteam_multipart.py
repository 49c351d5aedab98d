"""Red-team finding: multipart parts that carry no file were not counted. python-multipart runs its
callbacks on the event loop for each, so 30 MB of tiny form fields held it for 30 s (/healthz p50
0.85 s meanwhile), and the body limit for uploads allows gigabytes. Parts are now counted: at most
--max-upload-files files plus a few other fields, refused as soon as one more begins."""

from __future__ import annotations

from nemo_local.ingest.receive import EXTRA_PARTS
from tests.nemo_local.security.conftest import SMALL_LIMITS, Client, envelope, small_png

FIELD = b'--B\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n'


def test_a_flood_of_form_fields_is_refused_at_the_part_limit(strict: Client) -> None:
    user = strict.user()
    sid = user.new_session()
    before, credits = strict.server.files(), user.credits()
    body = FIELD * 20_000 + b"--B--\r\n"
    resp = user.post(
        f"/api/upload-video/nemo_agent/me/{sid}",
        content=body,
        headers={"Content-Type": "multipart/form-data; boundary=B"},
    )
    data = envelope(resp, 422)
    allowed = int(SMALL_LIMITS["--max-upload-files"]) + EXTRA_PARTS
    assert data["data"]["field"] == "parts" and data["data"]["switch"] == "--max-upload-files"
    assert data["data"]["value"] == allowed + 1
    assert strict.server.files() == before and user.credits() == credits


def test_files_with_a_few_form_fields_still_upload(strict: Client) -> None:
    user = strict.user()
    sid = user.new_session()
    png = small_png()
    body = (
        FIELD * EXTRA_PARTS
        + b'--B\r\nContent-Disposition: form-data; name="files"; filename="a.png"\r\n'
        + b"Content-Type: image/png\r\n\r\n"
        + png
        + b"\r\n--B--\r\n"
    )
    resp = user.post(
        f"/api/upload-video/nemo_agent/me/{sid}",
        content=body,
        headers={"Content-Type": "multipart/form-data; boundary=B"},
    )
    assert resp.status_code == 200, resp.text
    assert [f["filename"] for f in resp.json()["data"]["files"]] == ["a.png"]
