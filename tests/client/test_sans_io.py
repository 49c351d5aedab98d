"""The sans-IO core: the envelope parser (_parse), header rules and ids (_core), flows driven by hand."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import pytest

from nemo_provider.client import _call, _core
from nemo_provider.client._core import ClientCore
from nemo_provider.client._ops import RawResponse, RequestSpec, Send, Sleep
from nemo_provider.client._parse import parse_response
from nemo_provider.client.errors import (
    NemoAPIError,
    NemoAuthError,
    NemoInsufficientCreditsError,
    NemoRateLimitError,
)
from tests._helpers import fake_token

BASE = "https://mega-api-prod.nemovideo.ai"
SPEC = RequestSpec(name="thing", method="GET", path="/x")


def raw(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> RawResponse:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return RawResponse(status, headers or {}, data)


def parse(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    return parse_response(raw(body, status, headers), SPEC, ClientCore(BASE, "tok", None).error_context())


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"code": 0, "message": "ok", "data": {"a": 1}}, {"a": 1}),
        ({"code": "0", "data": [1]}, [1]),
        ({"code": 0, "a": 2}, {"a": 2}),
        ({"success": True, "data": {"b": 1}}, {"b": 1}),
        ({"success": True, "id": "r"}, {"id": "r"}),
        ({"taskId": "r", "status": "pending"}, {"taskId": "r", "status": "pending"}),
        (b"", {}),
    ],
)
def test_success_in_every_envelope(body: Any, expected: Any) -> None:
    assert parse(body) == expected


def test_failed_render_in_success_false_is_a_status_not_an_error() -> None:
    assert parse({"success": False, "data": {"id": "r", "status": "failed"}}) == {
        "id": "r",
        "status": "failed",
    }
    with pytest.raises(NemoAPIError, match="it broke"):
        parse({"success": False, "error": "it broke"})


def test_code_wins_over_status_and_string_codes_count() -> None:
    with pytest.raises(NemoAuthError):
        parse({"code": "1001", "message": "expired"}, status=200)
    with pytest.raises(NemoInsufficientCreditsError):
        parse({"code": 2001}, status=500)


def test_non_json_success_body_is_an_error_naming_the_host_problem() -> None:
    with pytest.raises(NemoAPIError, match="not JSON"):
        parse(b"<html>login</html>")


def test_retry_after_seconds_and_http_date() -> None:
    with pytest.raises(NemoRateLimitError) as info:
        parse({}, 429, {"Retry-After": "12"})
    assert info.value.retry_after == 12
    later = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=60), usegmt=True)
    with pytest.raises(NemoRateLimitError) as info2:
        parse({}, 429, {"retry-after": later})
    assert info2.value.retry_after is not None and 50 < info2.value.retry_after <= 60


def test_token_and_attribution_only_for_the_api_origin() -> None:
    token = fake_token("x")
    core = ClientCore(BASE, token, "cid", platform="airflow")
    own = core.headers_for(RequestSpec(name="a", method="GET", path="/api/x"))
    assert own["Authorization"] == f"Bearer {token}" and own["X-Client-Id"] == "cid"
    for foreign_url in (
        "https://cdn.nemovideo.ai/f.mp4",
        "http://mega-api-prod.nemovideo.ai/x",
        f"{BASE}:8443/x",
    ):
        foreign = core.headers_for(RequestSpec(name="d", method="GET", path=foreign_url))
        assert "Authorization" not in foreign and "X-Skill-Source" not in foreign
    assert core.headers_for(RequestSpec(name="d", method="GET", path=f"{BASE}:443/x"))["Authorization"]
    assert token not in repr(core)


def test_render_ids_strictly_increase() -> None:
    core = ClientCore(BASE, "t", None)
    ids = [core.new_render_id() for _ in range(50)]
    stamps = [int(i.removeprefix("render_")) for i in ids]
    assert stamps == sorted(stamps) and len(set(stamps)) == 50


def test_planners_at_the_same_microsecond_get_different_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mapped exports plan their ids in separate processes at the same moment (no shared counter): the
    random digits tell them apart (20 draws of 1000 share one in ~2 % of runs; 15 distinct is certain)."""
    monkeypatch.setattr(_core.time, "time_ns", lambda: 1_796_000_000_123_456_789)
    ids = [_core.new_render_id() for _ in range(20)]
    assert all(i.startswith("render_1796000000123456") and i.removeprefix("render_").isdigit() for i in ids)
    assert len(set(ids)) >= 15


def test_a_flow_driven_by_hand_shows_the_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    """credits() with no token: acquire -> 429 -> sleep -> repeat -> 1001 -> re-acquire -> repeat."""
    monkeypatch.delenv("NEMO_TOKEN", raising=False)
    core = ClientCore(BASE, None, "cid")
    flow = _call.credits(core)
    op = next(flow)
    assert isinstance(op, Send) and op.spec.path == "/api/auth/anonymous-token" and not op.spec.authenticated
    first, second = fake_token("1"), fake_token("2")
    op = flow.send(raw({"code": 0, "data": {"token": first, "user_id": "u"}}))
    assert isinstance(op, Send) and op.spec.path == "/api/credits/balance/simple"
    op = flow.send(raw({}, 429))
    assert op == Sleep(30.0) and op.why == "rate limit"
    op = flow.send(None)
    assert isinstance(op, Send) and op.spec.path == "/api/credits/balance/simple"
    op = flow.send(raw({"code": 1001}))
    assert isinstance(op, Send) and op.spec.path == "/api/auth/anonymous-token"
    op = flow.send(raw({"code": 0, "data": {"token": second, "user_id": "u"}}))
    assert core.token == second
    with pytest.raises(StopIteration) as done:
        flow.send(raw({"code": 0, "data": {"available": 5, "frozen": 0, "total": 5}}))
    assert done.value.value.available == 5


def test_base_url_comes_from_argument_then_nemo_api_url_then_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nemo_provider.client.constants import DEFAULT_BASE_URL

    monkeypatch.delenv("NEMO_API_URL", raising=False)
    assert ClientCore(None, None, None).base_url == DEFAULT_BASE_URL
    monkeypatch.setenv("NEMO_API_URL", "http://127.0.0.1:8765/")
    assert ClientCore(None, None, None).base_url == "http://127.0.0.1:8765"
    assert ClientCore("https://nemo.example/", None, None).base_url == "https://nemo.example"
