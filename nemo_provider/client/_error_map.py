"""Envelope code or HTTP status -> the named exception, with a message that says what to do next.

No message may hold a token: server-provided text passes through `scrub()` before it is used.
The classes, and the rules about them (may this be repeated, polled again), are in `errors`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from nemo_provider.client.constants import (
    ACCEPTED_UPLOAD_EXTENSIONS,
    MAX_UPLOAD_BYTES,
    STORAGE_QUOTA_CODE,
    STORAGE_QUOTA_FIELD,
)
from nemo_provider.client.errors import (
    NemoAPIError,
    NemoAuthError,
    NemoDuplicateRenderIdError,
    NemoError,
    NemoFileTooLargeError,
    NemoInsufficientCreditsError,
    NemoInsufficientStorageError,
    NemoMissingClientIdError,
    NemoPlanRestrictedError,
    NemoRateLimitError,
    NemoServerError,
    NemoSessionNotFoundError,
    NemoStorageQuotaError,
    NemoUnsupportedFileTypeError,
)

_TOKEN_PATTERNS = (
    re.compile(r"nmv_[A-Za-z0-9_\-.]+"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9_\-.~+/=]+"),
)


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Remove anything that looks like a token, because servers sometimes echo credentials back."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    text = _TOKEN_PATTERNS[0].sub("nmv_***", text)
    return _TOKEN_PATTERNS[1].sub(r"\1***", text)


def register_url(base_url: str, user_id: str | None) -> str:
    """The registration page that binds an anonymous user's work to a new account.

    The API lives on a sub-domain (`mega-api-prod.nemovideo.ai`) while the web app lives on the
    registrable domain (`nemovideo.ai`); a local or IP base URL keeps its own origin.
    """
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    labels = host.split(".")
    is_ip = host.replace(".", "").isdigit() or ":" in host
    if len(labels) >= 3 and not is_ip:
        origin = "https://" + ".".join(labels[-2:])
    else:
        origin = f"{parts.scheme or 'https'}://{parts.netloc or host}"
    return f"{origin}/register" + (f"?bind={user_id}" if user_id else "")


def _mb(size: int | float) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


@dataclass(frozen=True)
class ErrorContext:
    """What the message builder may know about the caller, so messages can name the fix."""

    base_url: str
    token_is_anonymous: bool = False
    token_source: str = "the configured token"  # noqa: S105 - a label, not a secret
    user_id: str | None = None
    session_id: str | None = None
    secrets: tuple[str, ...] = ()


def insufficient_credits(
    ctx: ErrorContext, available: float | None, http_status: int | None, detail: str = ""
) -> NemoInsufficientCreditsError:
    """2001, with the balance and (for anonymous users) the registration link."""
    balance = f"{available:g} credits available" if available is not None else "balance unknown"
    if ctx.token_is_anonymous:
        url = register_url(ctx.base_url, ctx.user_id)
        advice = f"Register to keep your work and get more credits: {url}"
    else:
        url = None
        advice = "Top up the Nemo account, or wait for running work to finish (frozen credits are released)."
    extra = f" Server said: {detail}." if detail else ""
    return NemoInsufficientCreditsError(
        f"Out of Nemo credits (code 2001): {balance}.{extra} {advice}",
        http_status=http_status,
        available=available,
        register_url=url,
    )


def unsupported_file_type(filename: str, http_status: int | None = None) -> NemoUnsupportedFileTypeError:
    """4001, listing the accepted formats."""
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else "(none)"
    return NemoUnsupportedFileTypeError(
        f"Unsupported file type '.{ext}' for {filename} (code 4001). "
        f"Accepted formats: {', '.join(ACCEPTED_UPLOAD_EXTENSIONS)}. Convert the file to one of them.",
        http_status=http_status,
        filename=filename,
    )


def file_too_large(
    filename: str, size: int | None, http_status: int | None = None, limit: int = MAX_UPLOAD_BYTES
) -> NemoFileTooLargeError:
    """4002, with the size and the limit and how to get under it."""
    what = f"{filename} is {_mb(size)}" if size is not None else f"{filename} is too large"
    return NemoFileTooLargeError(
        f"{what}; the limit is {_mb(limit)} per file (code 4002). Trim it to a shorter clip or compress it "
        "(lower bitrate or resolution) and upload again.",
        http_status=http_status,
        size=size,
        limit=limit,
        filename=filename,
    )


def _byte_count(data: Any, key: str) -> int | None:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _limit_data(data: Any) -> tuple[int | None, int | None, str | None]:
    """(limit, value, switch) of a limit's refusal data (nemo_local's ``LimitExceeded.data``), each
    ``None`` where missing or of the wrong kind."""
    switch = data.get("switch") if isinstance(data, dict) else None
    return _byte_count(data, "limit"), _byte_count(data, "value"), switch if isinstance(switch, str) else None


def insufficient_storage(
    data: Any, http_status: int | None, detail: str = ""
) -> NemoInsufficientStorageError:
    """507, naming the server's free-space floor (and what it had free) from the envelope's data.

    The server's own text says the same again (nemo_local's names the floor, the free bytes and the
    switch), so it is kept in ``.detail`` instead of being quoted into a message that would say it twice.
    """
    limit, free, switch = _limit_data(data)
    floor = f"it keeps at least {_mb(limit)} free" if limit is not None else "it keeps a free-space floor"
    had = f" and has only {_mb(free)}" if free is not None else ""
    setting = f" (or lower {switch})" if switch else ""
    return NemoInsufficientStorageError(
        f"The Nemo server's disk is nearly full (code 507): {floor}{had}, so it refused this request "
        f"before storing or charging anything. Ask its operator to free disk space{setting}, then retry "
        "the task later (minutes, not seconds).",
        http_status=http_status,
        limit=limit,
        free=free,
        switch=switch,
        detail=detail or None,
    )


def is_storage_quota(key: int, data: Any, lowered: str) -> bool:
    """Whether a refusal is the per-user storage quota's: its code (nemo_local's 4004), data naming the
    quota's field (whatever the code, a 422 before the code existed), or a 422 whose text says so."""
    if key == STORAGE_QUOTA_CODE:
        return True
    if isinstance(data, dict) and data.get("field") == STORAGE_QUOTA_FIELD and not 500 <= key <= 599:
        return True
    return key == 422 and "storage" in lowered and ("quota" in lowered or "full" in lowered)


def storage_quota(
    code: int | None, data: Any, http_status: int | None, detail: str = ""
) -> NemoStorageQuotaError:
    """The storage quota's refusal, naming the quota (and what the request needed) from the data.

    The server's text is kept in ``.detail``: nemo_local's restates the numbers and names its switch.
    """
    limit, needed, switch = _limit_data(data)
    quota = f"it may keep {_mb(limit)}" if limit is not None else "it is at its quota"
    past = f" and this request would take it to {_mb(needed)}" if needed is not None else ""
    setting = f" (the server's {switch})" if switch else ""
    label = f"code {code}" if code is not None else f"HTTP {http_status}"
    return NemoStorageQuotaError(
        f"The Nemo account's storage is full ({label}): {quota} of uploads and exports{past}, so the "
        "service refused this request before storing or charging anything. Delete old uploads or renders "
        f"from the account, or ask for a larger storage quota{setting}, then retry the task.",
        code=code if code is not None else http_status,
        http_status=http_status,
        limit=limit,
        needed=needed,
        switch=switch,
        detail=detail or None,
    )


def error_for(
    code: int | None,
    http_status: int,
    server_message: str,
    ctx: ErrorContext,
    *,
    data: Any = None,
    retry_after: float | None = None,
    session_bound: bool = False,
) -> NemoError:
    """Map an envelope code (preferred) or an HTTP status (fallback) to the matching exception."""
    detail = scrub(server_message, ctx.secrets).strip()
    said = f" Server said: {detail}." if detail else ""
    key = code if code is not None else http_status
    lowered = detail.lower()
    if key in (1001, 401):
        if ctx.token_is_anonymous:
            return NemoAuthError(
                "The anonymous Nemo token was rejected (code 1001) even after acquiring a new one."
                + said
                + " Wait a little and retry, or configure a registered token.",
                code=1001,
                http_status=http_status,
            )
        return NemoAuthError(
            f"The configured Nemo token ({ctx.token_source}) is invalid or expired (code 1001).{said} "
            f"Put a valid token there, or leave it empty to let the provider use an anonymous token.",
            code=1001,
            http_status=http_status,
        )
    if key == 1002 or (code is None and http_status == 404 and session_bound):
        sid = ctx.session_id or "?"
        return NemoSessionNotFoundError(
            f"Nemo session {sid} was not found (code 1002): it expired or belongs to another user.{said} "
            "Create a new session and use its id.",
            http_status=http_status,
            session_id=ctx.session_id,
        )
    if key in (2001, 403):
        available = None
        if isinstance(data, dict):
            raw = data.get("available", data.get("balance"))
            if isinstance(raw, int | float) and not isinstance(raw, bool):
                available = float(raw)
        return insufficient_credits(ctx, available, http_status, detail)
    if key in (4001, 415):
        name = str(data.get("filename")) if isinstance(data, dict) and data.get("filename") else "the file"
        return unsupported_file_type(name, http_status)
    if key in (4002, 413):
        return file_too_large(
            str(data.get("filename")) if isinstance(data, dict) and data.get("filename") else "The file",
            _byte_count(data, "size"),
            http_status,
            _byte_count(data, "limit") or MAX_UPLOAD_BYTES,  # a server's own limit, when it says
        )
    if key == 400 and (code == 400 or "client" in lowered):
        return NemoMissingClientIdError(
            "The Nemo API asked for an X-Client-Id header (400) even after the provider generated one."
            + said
            + " Pass a stable client_id (a UUID) in the connection extra.",
            code=400,
            http_status=http_status,
        )
    if key == 402:
        return NemoPlanRestrictedError(
            "Export is blocked by the Nemo plan (402). This is a plan restriction, not a lack of credits: "
            "buying credits will not help. Upgrade the plan (or register the anonymous user) and export again."
            + said,
            code=402,
            http_status=http_status,
        )
    if key == 429:
        return NemoRateLimitError(
            "Rate limited by the Nemo API (429)." + said + " Wait a few minutes and run fewer tasks at once.",
            http_status=http_status,
            retry_after=retry_after,
        )
    if is_storage_quota(key, data, lowered):  # before the generic 422: the user's fix, named
        return storage_quota(code, data, http_status, detail)
    if key == 507:  # before the 5xx rule: the server's own condition, not a failure a backoff rides out
        return insufficient_storage(data, http_status, detail)
    if "duplicate" in lowered or "already exists" in lowered or (code is None and http_status == 409):
        return NemoDuplicateRenderIdError(
            "The render id is already in use." + said, code=code, http_status=http_status
        )
    if (code is None and http_status >= 500) or (code is not None and 500 <= code <= 599):
        return NemoServerError(
            f"The Nemo API failed with {f'code {code}' if code is not None else f'HTTP {http_status}'}.{said} "
            "This is a server-side problem; retry later.",
            code=code,
            http_status=http_status,
        )
    label = f"code {code}" if code is not None else f"HTTP {http_status}"
    return NemoAPIError(
        f"The Nemo API answered with an error ({label}).{said or ' No message.'}",
        code=code,
        http_status=http_status,
    )
