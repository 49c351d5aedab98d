"""The one response parser: an envelope (any of the service's three forms) -> payload or `NemoError`."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from nemo_provider.client._error_map import ErrorContext, error_for, scrub
from nemo_provider.client._ops import RawResponse, RequestSpec
from nemo_provider.client.errors import NemoAPIError, NemoError, NemoServerError


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = None
    for key, val in headers.items():
        if key.lower() == "retry-after":
            value = val.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _as_code(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _message_of(body: dict[str, Any]) -> str:
    for key in ("message", "msg", "error", "detail", "error_message", "errorMessage"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, dict) and isinstance(value.get("message"), str):
            return str(value["message"])
        if isinstance(value, list) and value:
            return json.dumps(value)[:300]
    return ""


def parse_response(raw: RawResponse, spec: RequestSpec, ctx: ErrorContext) -> Any:
    """Return the payload of a successful response or raise the matching `NemoError`.

    Envelope forms: `{"code": 0, "message", "data"}`, `{"success": true, "data"}` and bare objects.
    A JSON body with a `code` is classified by that code whatever the HTTP status (the service may
    answer 200 with an error code); otherwise the HTTP status decides.
    """
    ok_status = 200 <= raw.status < 300
    if ok_status and (spec.raw_body or raw.handle is not None):
        return raw
    if spec.foreign:
        host = urlsplit(spec.path).hostname or "?"
        # A CDN's 5xx may pass (a NemoServerError is backed off like the API's); anything else will not.
        kind = NemoServerError if raw.status >= 500 else NemoAPIError
        raise kind(
            f"Fetching the file from {host} failed with HTTP {raw.status} (the link may have expired). "
            "Download by render id to use the API's own download route.",
            http_status=raw.status,
        )
    text = raw.body.decode("utf-8", errors="replace")
    try:
        body: Any = json.loads(text) if text.strip() else None
    except ValueError:
        body = None
    retry_after = _retry_after(raw.headers)

    def fail(code: int | None, message: str, data: Any = None) -> NemoError:
        return error_for(
            code,
            raw.status,
            message,
            ctx,
            data=data,
            retry_after=retry_after,
            session_bound=spec.session_bound,
        )

    if isinstance(body, dict):
        code = _as_code(body.get("code")) if "code" in body else None
        if "code" in body and code is not None:
            if code == 0 and ok_status:
                return body.get("data", {k: v for k, v in body.items() if k not in ("code", "message")})
            if code != 0:
                raise fail(code, _message_of(body), body.get("data"))
        if isinstance(body.get("success"), bool):
            data = body.get("data")
            if body["success"] and ok_status:
                return data if data is not None else {k: v for k, v in body.items() if k != "success"}
            if not body["success"] and isinstance(data, dict) and "status" in data and ok_status:
                return data  # a render that failed is a status to report, not a transport error
            raise fail(None, _message_of(body) or "request failed", data)
        if ok_status:
            return body
        raise fail(None, _message_of(body), body)
    if ok_status:
        if body is None and not text.strip():
            return {}
        if body is not None:
            return body
        raise NemoAPIError(
            f"The Nemo API answered {spec.name} with a body that is not JSON: "
            f"{scrub(text[:200], ctx.secrets)!r}. Check the connection host (is it the API?).",
            http_status=raw.status,
        )
    raise fail(None, text[:300] if body is None else json.dumps(body)[:300])
