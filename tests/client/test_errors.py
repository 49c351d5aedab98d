"""Error classification and messages the user can act on."""

from __future__ import annotations

import pytest

from nemo_provider.client import _error_map as m
from nemo_provider.client import errors as e
from nemo_provider.client.constants import ACCEPTED_UPLOAD_EXTENSIONS
from tests._helpers import fake_token

CTX = m.ErrorContext(base_url="https://mega-api-prod.nemovideo.ai", secrets=(fake_token("ctx"),))
ANON = m.ErrorContext(
    base_url="https://mega-api-prod.nemovideo.ai", token_is_anonymous=True, user_id="user-42"
)

TABLE = [
    (1001, 401, e.NemoAuthError),
    (1002, 404, e.NemoSessionNotFoundError),
    (2001, 403, e.NemoInsufficientCreditsError),
    (4001, 415, e.NemoUnsupportedFileTypeError),
    (4002, 413, e.NemoFileTooLargeError),
    (400, 400, e.NemoMissingClientIdError),
    (402, 402, e.NemoPlanRestrictedError),
    (429, 429, e.NemoRateLimitError),
]


@pytest.mark.parametrize(("code", "status", "cls"), TABLE)
def test_envelope_code_wins_over_http_status(code: int, status: int, cls: type[e.NemoError]) -> None:
    err = m.error_for(code, 200, "", CTX, session_bound=True)
    assert type(err) is cls
    assert err.http_status == 200


@pytest.mark.parametrize(("code", "status", "cls"), TABLE)
def test_http_status_used_without_code(code: int, status: int, cls: type[e.NemoError]) -> None:
    err = m.error_for(None, status, "missing X-Client-Id" if status == 400 else "", CTX, session_bound=True)
    assert type(err) is cls
    assert err.http_status == status


def test_other_statuses() -> None:
    assert type(m.error_for(None, 503, "", CTX)) is e.NemoServerError
    in_envelope = m.error_for(503, 503, "busy", CTX)
    assert (
        type(in_envelope) is e.NemoServerError and in_envelope.code == 503 and "code 503" in str(in_envelope)
    )
    assert type(m.error_for(None, 404, "", CTX, session_bound=False)) is e.NemoAPIError
    assert type(m.error_for(None, 400, "bad field", CTX)) is e.NemoAPIError
    assert type(m.error_for(None, 409, "", CTX)) is e.NemoDuplicateRenderIdError
    assert type(m.error_for(3001, 400, "render id already exists", CTX)) is e.NemoDuplicateRenderIdError
    other = m.error_for(9999, 200, "odd", CTX)
    assert type(other) is e.NemoAPIError and other.code == 9999 and "odd" in str(other)


MIB = 1024 * 1024
DISK = {"field": "free disk space", "limit": 500 * MIB, "value": 12 * MIB, "switch": "--min-free-disk-mb"}


NEMO_LOCAL_507 = (
    "The server's disk is nearly full (12 MB free, it keeps at least 500 MB free): this upload was refused, "
    "nothing was stored or charged. Retry once the operator has freed space; the server's operator can "
    "raise it with --min-free-disk-mb"
)


@pytest.mark.parametrize(("code", "status"), [(507, 507), (None, 507), (507, 200)])
def test_507_is_a_full_server_disk_not_a_server_failure(code: int | None, status: int) -> None:
    err = m.error_for(code, status, NEMO_LOCAL_507, CTX, data=DISK)
    assert type(err) is e.NemoInsufficientStorageError and not isinstance(err, e.NemoServerError)
    assert err.code == 507 and err.http_status == status
    assert (err.limit, err.free, err.switch) == (500 * MIB, 12 * MIB, "--min-free-disk-mb")
    # what happened and what to do, each once; the server's own text (which says it again) in .detail
    assert str(err) == (
        "The Nemo server's disk is nearly full (code 507): it keeps at least 500.0 MB free and has only "
        "12.0 MB, so it refused this request before storing or charging anything. Ask its operator to free "
        "disk space (or lower --min-free-disk-mb), then retry the task later (minutes, not seconds)."
    )
    assert err.detail == NEMO_LOCAL_507


def test_507_without_data_still_says_what_to_do() -> None:
    err = m.error_for(None, 507, "", CTX, data={"limit": "lots", "value": True})
    assert isinstance(err, e.NemoInsufficientStorageError)
    assert err.limit is None and err.free is None and err.switch is None and err.detail is None
    assert str(err) == (
        "The Nemo server's disk is nearly full (code 507): it keeps a free-space floor, so it refused this "
        "request before storing or charging anything. Ask its operator to free disk space, then retry the "
        "task later (minutes, not seconds)."
    )


def test_507_detail_is_scrubbed_of_tokens() -> None:
    token = fake_token("ctx")
    err = m.error_for(507, 507, f"disk full for {token}", CTX, data=DISK)
    assert isinstance(err, e.NemoInsufficientStorageError)
    assert err.detail is not None and token not in err.detail and token not in str(err)


def test_insufficient_credits_anonymous_has_balance_and_register_link() -> None:
    err = m.error_for(2001, 200, "no credits", ANON, data={"available": 3})
    assert isinstance(err, e.NemoInsufficientCreditsError)
    assert err.available == 3
    assert err.register_url == "https://nemovideo.ai/register?bind=user-42"
    assert "3 credits available" in str(err) and err.register_url in str(err)


def test_insufficient_credits_registered_user_has_no_link() -> None:
    err = m.insufficient_credits(CTX, 0.0, 403)
    assert err.register_url is None and "register" not in str(err).lower()
    assert "0 credits available" in str(err)


def test_register_url_for_local_servers_keeps_origin() -> None:
    assert m.register_url("http://127.0.0.1:8123", "u") == "http://127.0.0.1:8123/register?bind=u"
    assert m.register_url("http://localhost:9", None) == "http://localhost:9/register"


def test_file_errors_say_what_to_do() -> None:
    err = m.unsupported_file_type("notes.txt")
    assert all(ext in str(err) for ext in ACCEPTED_UPLOAD_EXTENSIONS) and ".txt" in str(err)
    big = m.file_too_large("big.mp4", 300 * 1024 * 1024)
    assert "300.0 MB" in str(big) and "200.0 MB" in str(big) and "compress" in str(big)
    assert big.size == 300 * 1024 * 1024 and big.limit == 200 * 1024 * 1024


def test_plan_error_says_not_credits() -> None:
    msg = str(m.error_for(None, 402, "", CTX))
    assert "plan" in msg and "not a lack of credits" in msg


def test_configured_token_error_names_the_source() -> None:
    ctx = m.ErrorContext(base_url="https://x.y", token_source="connection 'nemo_default'")
    msg = str(m.error_for(1001, 401, "", ctx))
    assert "connection 'nemo_default'" in msg and "invalid or expired" in msg


def test_server_text_is_scrubbed_of_tokens() -> None:
    ctx = m.ErrorContext(base_url="https://x.y", secrets=("plainsecret42",))
    shaped = fake_token("echoed")  # not among ctx.secrets: scrubbed by its shape alone
    err = m.error_for(None, 500, f"token {shaped} and Bearer xyz.987 rejected; plainsecret42", ctx)
    text = str(err) + repr(err)
    assert "echoed" not in text and "xyz.987" not in text and "plainsecret42" not in text
    assert m.scrub("plain text") == "plain text"


@pytest.mark.parametrize(
    ("err", "expected"),
    [
        (e.NemoConnectionError("down"), True),
        (e.NemoServerError("503", code=503, http_status=503), True),
        (e.NemoRateLimitError("slow down", code=429, http_status=429), True),
        (e.NemoStreamError("cut"), True),
        (TimeoutError(), True),
        (e.NemoAuthError("bad token", code=1001), False),
        (e.NemoRenderError("failed"), False),
        (
            e.NemoInsufficientStorageError("disk full", http_status=507),
            False,
        ),  # an operator's fix, not a poll's
        (ValueError("bug"), False),
    ],
)
def test_is_transient_is_true_only_for_errors_another_poll_may_clear(
    err: BaseException, expected: bool
) -> None:
    assert e.is_transient(err) is expected


def test_httpx_transport_errors_are_transient() -> None:
    import httpx

    assert e.is_transient(httpx.ConnectError("refused"))


def test_transient_error_budget_rides_out_a_run_then_gives_up() -> None:
    from nemo_provider.client.errors import (
        NemoAuthError,
        NemoConnectionError,
        NemoServerError,
        TransientErrorBudget,
    )

    budget = TransientErrorBudget(2)
    assert budget.tolerate(NemoConnectionError("refused"))
    assert budget.tolerate(NemoServerError("bad gateway", http_status=502))
    assert not budget.tolerate(NemoConnectionError("refused")), "a third error in a row is too many"
    budget.reset()
    assert budget.tolerate(NemoConnectionError("refused")), "a success starts a new run"
    assert not TransientErrorBudget(5).tolerate(NemoAuthError("token invalid", code=1001))


@pytest.mark.parametrize(
    ("err", "refused"),
    [
        (e.NemoAuthError("bad token"), True),
        (e.NemoSessionNotFoundError("gone"), True),
        (e.NemoInsufficientCreditsError("no credits"), True),
        (e.NemoRateLimitError("slow down"), True),
        (e.NemoInsufficientStorageError("disk full"), True),  # nothing was stored or charged
        (e.NemoStreamError("cut"), False),  # the message may have been taken before the stream broke
        (e.NemoServerError("500"), False),
        (e.NemoConnectionError("reset"), False),
        (TimeoutError(), False),
    ],
)
def test_refused_before_accept_only_for_errors_raised_before_the_service_acts(
    err: Exception, refused: bool
) -> None:
    assert e.refused_before_accept(err) is refused


def test_is_missing_render_only_for_a_404() -> None:
    assert e.is_missing_render(e.NemoAPIError("Render not found", code=404, http_status=404))
    assert not e.is_missing_render(e.NemoAuthError("bad token", http_status=401))
    assert not e.is_missing_render(e.NemoServerError("oops", http_status=500))
    assert not e.is_missing_render(TimeoutError())


@pytest.mark.parametrize(
    ("err", "idempotent", "may"),
    [
        (e.NemoAuthError("bad token"), False, True),  # refused before acting: any call, a message too
        (e.NemoRateLimitError("slow down"), False, True),
        (e.NemoSessionNotFoundError("gone"), False, True),
        (e.NemoInsufficientStorageError("disk full"), False, True),  # safe, but no remedy: not repeated
        (e.NemoConnectionError("reset"), True, True),  # may pass, and repeating a read is harmless
        (e.NemoServerError("502", http_status=502), True, True),
        (e.NemoConnectionError("reset"), False, False),  # a message or render may have been taken
        (e.NemoServerError("500", http_status=500), False, False),
        (e.NemoStreamError("cut"), False, False),  # the message may have been taken before it broke
        (TimeoutError(), True, True),
        (e.NemoAPIError("bad field", http_status=400), True, False),  # the same request fails the same way
        (e.NemoRenderError("failed", status="failed"), True, False),
    ],
)
def test_may_repeat_is_refusal_or_a_transient_failure_of_an_idempotent_call(
    err: Exception, idempotent: bool, may: bool
) -> None:
    assert e.may_repeat(err, idempotent=idempotent) is may
