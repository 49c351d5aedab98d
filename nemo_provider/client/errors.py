"""Exceptions of the Nemo client (one class per error code of the contract, all under `NemoError`) and
the rules about them: may a request be repeated (`may_repeat`), did the service act (`refused_before_accept`),
may another poll succeed (`is_transient`), is a render missing (`is_missing_render`).

Every message is written for the person running the pipeline: it says what happened and what to do
next, and never holds a token. `_error_map` builds them from the service's codes.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from nemo_provider.client.constants import ACCEPTED_UPLOAD_EXTENSIONS, MAX_UPLOAD_BYTES

if TYPE_CHECKING:
    from nemo_provider.client.models import MessageResult


class NemoError(Exception):
    """Base of every error the client raises; `code` is the envelope code, if the server sent one."""

    def __init__(self, message: str, code: int | str | None = None, http_status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, code={self.code!r}, http_status={self.http_status!r})"
        )


class NemoAuthError(NemoError):
    """1001: the token is invalid or expired."""


class NemoSessionNotFoundError(NemoError):
    """1002: the session does not exist (expired, or another user's)."""

    def __init__(
        self,
        message: str,
        code: int | str | None = 1002,
        http_status: int | None = None,
        session_id: str | None = None,
    ) -> None:
        super().__init__(message, code, http_status)
        self.session_id = session_id


class NemoInsufficientCreditsError(NemoError):
    """2001: out of credits. `available` is the balance when known; `register_url` for anonymous users."""

    def __init__(
        self,
        message: str,
        code: int | str | None = 2001,
        http_status: int | None = None,
        available: float | None = None,
        register_url: str | None = None,
    ) -> None:
        super().__init__(message, code, http_status)
        self.available = available
        self.register_url = register_url


class NemoUnsupportedFileTypeError(NemoError):
    """4001: the file's type is not one the service accepts."""

    def __init__(
        self,
        message: str,
        code: int | str | None = 4001,
        http_status: int | None = None,
        filename: str | None = None,
    ) -> None:
        super().__init__(message, code, http_status)
        self.filename = filename
        self.accepted = ACCEPTED_UPLOAD_EXTENSIONS


class NemoFileTooLargeError(NemoError):
    """4002: the file is over the per-file limit."""

    def __init__(
        self,
        message: str,
        code: int | str | None = 4002,
        http_status: int | None = None,
        size: int | None = None,
        limit: int = MAX_UPLOAD_BYTES,
        filename: str | None = None,
    ) -> None:
        super().__init__(message, code, http_status)
        self.size = size
        self.limit = limit
        self.filename = filename


class NemoMissingClientIdError(NemoError):
    """400: the service wanted an `X-Client-Id` header."""


class NemoPlanRestrictedError(NemoError):
    """402: export blocked by the plan (not by the credit balance)."""


class NemoRateLimitError(NemoError):
    """429: too many requests; `retry_after` in seconds when the server said."""

    def __init__(
        self,
        message: str,
        code: int | str | None = 429,
        http_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, code, http_status)
        self.retry_after = retry_after


class NemoInsufficientStorageError(NemoError):
    """507: the server's disk is under its free-space floor, so it refused the upload or render before
    storing or charging anything.

    Not a 5xx to ride out: the server's operator must free space (or lower the floor), which takes far
    longer than a backoff, so the client never repeats it and pollers do not count it as transient. It
    was refused before accept, so a later task retry sends the request again safely. `limit` is the
    floor and `free` what the disk had, in bytes, when the server said; `switch` the server's setting;
    `detail` the server's own (scrubbed) text, kept apart because it restates the message.
    """

    def __init__(
        self,
        message: str,
        code: int | str | None = 507,
        http_status: int | None = None,
        limit: int | None = None,
        free: int | None = None,
        switch: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message, code, http_status)
        self.limit = limit
        self.free = free
        self.switch = switch
        self.detail = detail


class NemoAPIError(NemoError):
    """Any other error code or HTTP status."""


class NemoStorageQuotaError(NemoAPIError):
    """422 with the quota's data: the account keeps as much as its storage quota allows (uploads,
    exports, render drafts), so the service refused the upload or render before storing or charging.

    The user's to fix (delete old uploads or renders, or get a larger quota), so no backoff or repeat
    helps and pollers do not count it as transient; refused before accept, so a later task retry sends
    the request again safely. A `NemoAPIError` (what it was before it had a name), so existing handlers
    still catch it. `limit` is the quota and `needed` the bytes the request would have brought it to,
    when the server said; `switch` the server's setting; `detail` the server's own (scrubbed) text.
    """

    def __init__(
        self,
        message: str,
        code: int | str | None = 422,
        http_status: int | None = None,
        limit: int | None = None,
        needed: int | None = None,
        switch: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message, code, http_status)
        self.limit = limit
        self.needed = needed
        self.switch = switch
        self.detail = detail


class NemoServerError(NemoError):
    """5xx: the service failed."""


class NemoConnectionError(NemoError):
    """The service could not be reached (DNS, refused connection, timeout)."""


class NemoStreamError(NemoError):
    """The `/run_sse` stream broke, was unreadable or ran past its ceiling.

    `partial` holds what arrived before the break, with the timeline read afterwards, because the
    message is never re-sent (a repeat is charged twice) and the caller must decide from that.
    """

    def __init__(
        self,
        message: str,
        code: int | str | None = None,
        http_status: int | None = None,
        partial: MessageResult | None = None,
    ) -> None:
        super().__init__(message, code, http_status)
        self.partial = partial


class NemoRenderError(NemoError):
    """A render ended `failed` or `cancelled`."""

    def __init__(
        self,
        message: str,
        code: int | str | None = None,
        http_status: int | None = None,
        render_id: str | None = None,
        status: str | None = None,
    ) -> None:
        super().__init__(message, code, http_status)
        self.render_id = render_id
        self.status = status


class NemoDuplicateRenderIdError(NemoError):
    """The render id was already used (the client retries once with a new one)."""


def is_transient(err: BaseException) -> bool:
    """Whether another poll may succeed: network trouble, the server's 5xx, rate limiting, a broken stream.

    The one classification for every poller (the export operator's loop, the trigger), so a sync and
    an async wait can never disagree about which errors to ride out. httpx's own transport errors count
    too (when httpx is loaded at all), for callers that reach httpx directly.
    """
    if isinstance(err, NemoConnectionError | NemoServerError | NemoRateLimitError | NemoStreamError):
        return True
    if isinstance(err, TimeoutError):
        return True
    httpx = sys.modules.get("httpx")
    return httpx is not None and isinstance(err, httpx.TransportError)


def is_missing_render(err: BaseException) -> bool:
    """Whether a render lookup failed because the service has no such render (HTTP 404).

    The one rule for "start it (again) or wait for it": a resumed export and a restarted trigger both
    ask this; any other failure (a 5xx, a timeout) means the render may well exist.
    """
    return isinstance(err, NemoError) and err.http_status == 404


def refused_before_accept(err: BaseException) -> bool:
    """Whether the service certainly did not act on the request that raised ``err``.

    The one answer to "may this be sent again" for requests that are not idempotent (a chat message,
    an upload): the service refused them before doing anything (bad token, gone session, no credits,
    missing client id, plan limit, rate limit, a full server disk or storage quota), so repeating cannot
    do the work twice. Anything else (a broken stream, a 5xx, a timeout) may have been acted on and must
    not be repeated blindly.
    """
    return isinstance(err, _REFUSED_BEFORE_ACCEPT)


def may_repeat(err: BaseException, *, idempotent: bool) -> bool:
    """Whether the request that raised ``err`` may be sent again as it is: the one rule the flows obey.

    Any request the service refused before acting on it (:func:`refused_before_accept`), a chat message
    included. An idempotent request (a read, the anonymous token, a render cancel) also after a failure
    that may pass (:func:`is_transient`: the network, the server's 5xx). Anything else may have been
    acted on (a message is charged twice, a render started twice), so it is never repeated automatically.

    "May" is not "will": the flows repeat only where they can remedy the refusal (a new anonymous token,
    a new client id, the Retry-After wait, a new session), and the runner's ``RetryPolicy`` says how
    often a transient failure is repeated and how long to wait first.
    """
    return refused_before_accept(err) or (idempotent and is_transient(err))


class TransientErrorBudget:
    """How many transient poll errors in a row a poller rides out before it gives up.

    One rule for every poller (the export operator's loop, the sensor, the trigger), so a flaky network
    fails a task after the same number of polls whichever mode waits for the render.
    """

    __slots__ = ("count", "limit")  # one per waiting trigger, for its whole deferral

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0

    def tolerate(self, err: BaseException) -> bool:
        """Count ``err``; True when the poller should poll again, False when it should fail."""
        if not is_transient(err):
            return False
        self.count += 1
        return self.count <= self.limit

    def reset(self) -> None:
        """A poll succeeded: the next error starts a new run."""
        self.count = 0


#: Errors the service raises before it acts on a request (see :func:`refused_before_accept`).
_REFUSED_BEFORE_ACCEPT: tuple[type[NemoError], ...] = (
    NemoAuthError,
    NemoSessionNotFoundError,
    NemoInsufficientCreditsError,
    NemoMissingClientIdError,
    NemoPlanRestrictedError,
    NemoRateLimitError,
    NemoInsufficientStorageError,
    NemoStorageQuotaError,
)
