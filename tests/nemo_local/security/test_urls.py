"""URL uploads cannot reach internal addresses (every non-public range, IPv6 forms that embed one
included), follow a bounded number of redirects, are cut off after their total time however slowly the
bytes drip, and never log a URL's query string (presigned URLs carry their signature there)."""

from __future__ import annotations

import time

import pytest

from tests.nemo_local.security.conftest import Client, envelope


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1", "[::1]", "0.0.0.0", "10.0.0.1", "100.64.0.1", "169.254.169.254", "192.0.0.8", "198.18.0.1",
        "[2002:7f00:1::]",  # 6to4 of 127.0.0.1
        "[::ffff:127.0.0.1]",  # IPv4-mapped
        "[::ffff:7f00:1]",
        "[::127.0.0.1]",  # IPv4-compatible
        "[64:ff9b::7f00:1]",  # NAT64 of 127.0.0.1
        "[2001:0:4136:e378:8000:63bf:3fff:fdd2]",  # Teredo
        "[fd00::1]", "[fe80::1]", "[ff02::1]", "224.0.0.1", "255.255.255.255", "metadata.google.internal",
        "localhost",
    ],
)  # fmt: skip
def test_non_public_addresses_are_refused(strict: Client, host: str) -> None:
    user = strict.user()
    sid = user.new_session()
    before = strict.server.files()
    resp = user.post(f"/api/upload-video/nemo_agent/me/{sid}", json={"urls": [f"http://{host}/a.png"]})
    assert envelope(resp, 422, 4003)["message"].startswith("URL refused")
    assert strict.server.files() == before


def test_a_drip_fed_url_is_cut_off_at_the_total_time(lenient: Client, bad_host: str) -> None:
    user = lenient.user()
    sid = user.new_session()
    before = lenient.server.files()
    started = time.monotonic()
    resp = user.post(f"/api/upload-video/nemo_agent/me/{sid}", json={"urls": [f"{bad_host}/drip"]})
    took = time.monotonic() - started
    body = envelope(resp, 422)
    assert body["data"]["field"] == "urls[0]" and body["data"]["switch"] == "--url-fetch-seconds"
    assert 1.5 < took < 10, took  # the limit is 2 s: cut off then, not after the 60 s the drip lasts
    assert lenient.server.files() == before


def test_redirects_are_bounded(lenient: Client, bad_host: str) -> None:
    user = lenient.user()
    sid = user.new_session()
    resp = user.post(f"/api/upload-video/nemo_agent/me/{sid}", json={"urls": [f"{bad_host}/loop"]})
    body = envelope(resp, 422, 4003)
    assert "too many redirects (more than 2)" in body["message"] and "--url-max-redirects" in body["message"]
    assert body["data"]["switch"] == "--url-max-redirects" and body["data"]["field"] == "urls[0]"


def test_a_url_larger_than_the_upload_limit_stops_at_the_limit(lenient: Client, bad_host: str) -> None:
    user = lenient.user()
    sid = user.new_session()
    before = lenient.server.files()
    resp = user.post(f"/api/upload-video/nemo_agent/me/{sid}", json={"urls": [f"{bad_host}/big"]})
    body = envelope(resp, 413, 4002)
    assert body["data"]["limit"] == 1024 * 1024 and body["data"]["switch"] == "--max-upload-mb"
    assert lenient.server.files() == before


def test_urls_are_logged_without_their_query(lenient: Client, bad_host: str) -> None:
    user = lenient.user()
    sid = user.new_session()
    secret = "X-Amz-Signature=do-not-log-me-4f1e"
    resp = user.post(f"/api/upload-video/nemo_agent/me/{sid}", json={"urls": [f"{bad_host}/ok.png?{secret}"]})
    assert resp.status_code == 200, resp.text
    log = lenient.server.log()
    assert "/ok.png?…" in log  # the fetch is logged...
    assert "do-not-log-me" not in log  # ...without its signature
