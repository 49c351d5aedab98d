"""NemoClient's recoveries against a scripted API: the error table both ways, then every repeat rule.

What is repeated and why is ``_call`` (the rule: ``errors.may_repeat``; the waits: ``_retry``); these
tests hold the sync client to it end to end over httpx.MockTransport.
"""

from __future__ import annotations

import json

import httpx
import pytest

from nemo_provider.client import (
    NemoAPIError,
    NemoAuthError,
    NemoClient,
    NemoConnectionError,
    NemoError,
    NemoFileTooLargeError,
    NemoInsufficientCreditsError,
    NemoInsufficientStorageError,
    NemoMissingClientIdError,
    NemoPlanRestrictedError,
    NemoRateLimitError,
    NemoServerError,
    NemoSessionNotFoundError,
    NemoUnsupportedFileTypeError,
)
from tests._helpers import fake_token

from .conftest import Sleeps
from .fake_api import FakeNemo
from .test_sync import DRAFT, SID, make

# -- error table, as HTTP status and as HTTP 200 + envelope code ------------------------------------------
TABLE = [
    (1001, 401, NemoAuthError),
    (1002, 404, NemoSessionNotFoundError),
    (2001, 403, NemoInsufficientCreditsError),
    (4001, 415, NemoUnsupportedFileTypeError),
    (4002, 413, NemoFileTooLargeError),
    (400, 400, NemoMissingClientIdError),
    (402, 402, NemoPlanRestrictedError),
    (429, 429, NemoRateLimitError),
    (7777, 418, NemoAPIError),
]


@pytest.mark.parametrize("mode", ["status", "envelope"])
@pytest.mark.parametrize(("code", "status", "cls"), TABLE)
def test_every_error_code_both_ways(
    fake: FakeNemo, code: int, status: int, cls: type[NemoError], mode: str
) -> None:
    message = "missing X-Client-Id header" if code == 400 else "nope"
    fake.script(
        f"GET /api/state/nemo_agent/me/{SID}/latest", fake.error(code, status, message, mode), times=3
    )
    with make(fake, token=fake_token("configured")) as c, pytest.raises(cls) as info:
        c.state(SID)
    assert type(info.value) is cls
    assert info.value.http_status == (200 if mode == "envelope" else status)
    assert fake.tokens_issued == 0 and fake.sessions_created == 0


def test_insufficient_credits_reports_balance_and_register_link(client: NemoClient, fake: FakeNemo) -> None:
    fake.script(
        f"GET /api/state/nemo_agent/me/{SID}/latest", fake.error(2001, 403, "out of credits", "envelope")
    )
    with pytest.raises(NemoInsufficientCreditsError) as info:
        client.state(SID)
    assert info.value.available == 90  # looked up with credits()
    assert info.value.register_url == "https://nemovideo.ai/register?bind=user-7"
    assert "90 credits available" in str(info.value)


# -- recovery paths -------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["status", "envelope"])
def test_1001_with_anonymous_token_acquires_again_and_repeats(
    client: NemoClient, fake: FakeNemo, mode: str
) -> None:
    fake.script("GET /api/credits/balance/simple", fake.error(1001, 401, "expired", mode))
    assert client.credits().available == 90
    assert fake.tokens_issued == 2
    auths = [r.headers["Authorization"] for r in fake.requests_to("GET", "/api/credits")]
    assert auths == [f"Bearer {fake.anon_token(1)}", f"Bearer {fake.anon_token(2)}"]


def test_1001_twice_with_anonymous_token_fails(client: NemoClient, fake: FakeNemo) -> None:
    fake.script("GET /api/credits/balance/simple", fake.error(1001, 401), times=2)
    with pytest.raises(NemoAuthError, match="anonymous"):
        client.credits()
    assert fake.tokens_issued == 2


def test_1001_with_configured_token_names_it_and_does_not_go_anonymous(fake: FakeNemo) -> None:
    fake.script("GET /api/credits/balance/simple", fake.error(1001, 401))
    with (
        make(fake, token=fake_token("mine"), token_source="connection 'nemo_default'") as c,
        pytest.raises(NemoAuthError) as info,
    ):
        c.credits()
    assert "connection 'nemo_default'" in str(info.value) and "invalid or expired" in str(info.value)
    assert fake.tokens_issued == 0 and len(fake.requests) == 1


def test_1002_recreates_the_session_for_render_create(client: NemoClient, fake: FakeNemo) -> None:
    fake.script("POST /api/render/proxy/lambda", fake.error(1002, 404, "session gone", "status"))
    client.create_render(SID, DRAFT)
    bodies = [
        json.loads(b)
        for r, b in zip(fake.requests, fake.bodies, strict=True)
        if r.url.path.endswith("lambda")
    ]
    assert [b["sessionId"] for b in bodies] == [SID, "7000000000000000001"]
    assert fake.sessions_created == 1


def test_1002_never_recreates_for_state_or_render_poll(client: NemoClient, fake: FakeNemo) -> None:
    fake.script(f"GET /api/state/nemo_agent/me/{SID}/latest", fake.error(1002, 404, "", "envelope"))
    with pytest.raises(NemoSessionNotFoundError, match=SID):
        client.state(SID)
    fake.script("GET /api/render/proxy/lambda/render_9", fake.error(1002, 404, "", "envelope"))
    with pytest.raises(NemoSessionNotFoundError):
        client.render_status("render_9")
    assert fake.sessions_created == 0


@pytest.mark.parametrize("mode", ["status", "envelope"])
def test_missing_client_id_generates_one_and_repeats(
    fake: FakeNemo, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NEMO_TOKEN", raising=False)
    fake.script("POST /api/auth/anonymous-token", fake.error(400, 400, "X-Client-Id required", mode))
    with make(fake, client_id="given") as c:
        c.credits()
        ids = [r.headers.get("X-Client-Id") for r in fake.requests_to("POST", "/api/auth")]
        assert ids[0] == "given" and ids[1] != "given" and len(ids[1] or "") == 36
        assert c.client_id == ids[1]


@pytest.mark.parametrize(("headers", "expected"), [({"Retry-After": "7"}, 7.0), ({}, 30.0)])
def test_429_waits_retry_after_then_repeats_once(
    client: NemoClient, fake: FakeNemo, sleeps: Sleeps, headers: dict[str, str], expected: float
) -> None:
    fake.script(
        "GET /api/credits/balance/simple", httpx.Response(429, headers=headers, json={"detail": "slow down"})
    )
    assert client.credits().total == 100
    assert sleeps == [expected]
    fake.script("GET /api/credits/balance/simple", httpx.Response(429, headers=headers), times=2)
    with pytest.raises(NemoRateLimitError) as info:
        client.credits()
    assert info.value.retry_after == (expected if headers else None)


def test_5xx_on_idempotent_call_backs_off_then_succeeds(
    client: NemoClient, fake: FakeNemo, sleeps: Sleeps
) -> None:
    client.credits()  # token first
    sleeps.clear()
    fake.script("GET /api/credits/balance/simple", httpx.Response(503), httpx.Response(502))
    assert client.credits().available == 90
    assert len(sleeps) == 2 and sleeps[0] <= sleeps[1] <= 30.0


@pytest.mark.parametrize("http_status", [503, 200])
def test_5xx_envelope_code_is_retried_too(fake: FakeNemo, sleeps: Sleeps, http_status: int) -> None:
    fake.script(
        "GET /api/credits/balance/simple", httpx.Response(http_status, json={"code": 503, "message": "busy"})
    )
    with make(fake, sleeps, token="t0ken-abc") as c:
        assert c.credits().available == 90
    assert len(sleeps) == 1 and len(fake.requests) == 2


def test_5xx_persisting_raises_after_max_retries(fake: FakeNemo, sleeps: Sleeps) -> None:
    fake.script("GET /api/credits/balance/simple", httpx.Response(500, json={"detail": "boom"}), times=5)
    with (
        make(fake, sleeps, token="t0ken-abc", max_retries=2) as c,
        pytest.raises(NemoServerError, match="boom"),
    ):
        c.credits()
    assert len(fake.requests) == 3 and len(sleeps) == 2


@pytest.mark.parametrize("envelope", [True, False])
def test_507_a_full_server_disk_is_not_backed_off_like_a_5xx(
    fake: FakeNemo, sleeps: Sleeps, envelope: bool
) -> None:
    """Even on a call the 5xx policy repeats (a read): the server's operator must free space first."""
    mib = 1024 * 1024
    data = {"field": "free disk space", "limit": 500 * mib, "value": 3 * mib, "switch": "--min-free-disk-mb"}
    body = {"code": 507, "message": "disk nearly full", "data": data} if envelope else {"detail": "full"}
    fake.script("GET /api/credits/balance/simple", httpx.Response(507, json=body), times=4)
    with make(fake, sleeps, token="t0ken-abc") as c, pytest.raises(NemoInsufficientStorageError) as info:
        c.credits()
    assert len(fake.requests) == 1 and sleeps == []
    assert info.value.code == 507 and info.value.http_status == 507
    assert ("500.0 MB" in str(info.value)) is envelope and "free disk space" in str(info.value)


def test_5xx_on_session_create_is_not_repeated(fake: FakeNemo, sleeps: Sleeps) -> None:
    fake.script("POST /api/tasks/me/with-session/nemo_agent", httpx.Response(500), times=3)
    with make(fake, sleeps, token="t0ken-abc") as c, pytest.raises(NemoServerError):
        c.create_session()
    assert len(fake.requests) == 1 and sleeps == []


def _refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def test_network_error_retried_for_reads_not_for_render_create(fake: FakeNemo, sleeps: Sleeps) -> None:
    fake.script("GET /api/credits/balance/simple", _refuse, times=2)
    with make(fake, sleeps, token="t0ken-abc") as c:
        assert c.credits().available == 90
        assert len(sleeps) == 2
        fake.script("POST /api/render/proxy/lambda", _refuse)
        with pytest.raises(NemoConnectionError, match="not repeated"):
            c.create_render(SID, DRAFT)
    assert len(fake.requests_to("POST", "/api/render")) == 1


def test_network_error_on_run_sse_is_not_repeated(fake: FakeNemo, sleeps: Sleeps) -> None:
    fake.script("POST /run_sse", _refuse, times=3)
    with make(fake, sleeps, token="t0ken-abc") as c, pytest.raises(NemoConnectionError):
        c.send_message(SID, "hello")
    assert len(fake.requests_to("POST", "/run_sse")) == 1 and sleeps == []
