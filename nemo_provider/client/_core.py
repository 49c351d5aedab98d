"""The state one client's flows share (token, client id, user id) and the ids this provider plans.

No I/O: headers and URLs are derived here, so the rule "the token goes only to the API's own origin"
is written once, for every runner.
"""

from __future__ import annotations

import os
import secrets
import time
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

from pydantic import SecretStr

import nemo_provider
from nemo_provider.client._error_map import ErrorContext, scrub
from nemo_provider.client._ops import RequestSpec
from nemo_provider.client.constants import DEFAULT_BASE_URL, SKILL_SOURCE
from nemo_provider.client.errors import NemoConnectionError
from nemo_provider.client.models import AnonymousToken


def _render_id_stamp() -> int:
    """Microseconds plus 3 random digits: two processes planning a render at the same moment (mapped
    exports) never share an id, and a trigger finding "its" id never waits for another task's render."""
    return time.time_ns() // 1000 * 1000 + secrets.randbelow(1000)


def new_render_id() -> str:
    """`render_<digits>`, like the service's own ids: the one scheme for every id this provider plans."""
    return f"render_{_render_id_stamp()}"


class ClientCore:
    """Token, client id and user id of one client, plus the headers and URLs derived from them."""

    # Slotted: one per client, and a triggerer keeps a client per deferred task for the whole deferral.
    __slots__ = (
        "_last_render_ms",
        "_token",
        "base_url",
        "client_id",
        "clock",
        "language",
        "platform",
        "token_is_anonymous",
        "token_source",
        "user_id",
    )

    def __init__(
        self,
        base_url: str | None,
        token: str | None,
        client_id: str | None,
        *,
        language: str = "en",
        platform: str = "airflow",
        token_source: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # As the vendor's own skills do: an explicit URL, else NEMO_API_URL, else production.
        self.base_url = (base_url or os.environ.get("NEMO_API_URL") or DEFAULT_BASE_URL).rstrip("/")
        given = token or None
        chosen = given or os.environ.get("NEMO_TOKEN") or None
        self._token: SecretStr | None = SecretStr(chosen) if chosen else None
        self.token_is_anonymous = False
        if token_source is not None:
            self.token_source = token_source
        elif given:
            self.token_source = "the token given to the client"  # noqa: S105 - a label
        else:
            self.token_source = "the NEMO_TOKEN environment variable"  # noqa: S105 - a label
        self.client_id = client_id or None
        self.language = language
        self.platform = platform
        self.user_id: str | None = None
        self.clock = clock
        self._last_render_ms = 0

    # -- token ------------------------------------------------------------------------------------
    @property
    def token(self) -> str | None:
        return self._token.get_secret_value() if self._token is not None else None

    def set_anonymous_token(self, token: AnonymousToken) -> None:
        self._token = token.token
        self.token_is_anonymous = True
        if token.user_id:
            self.user_id = token.user_id

    def drop_token(self) -> None:
        self._token = None

    def ensure_client_id(self) -> str:
        if not self.client_id:
            self.client_id = str(uuid.uuid4())
        return self.client_id

    # -- requests ---------------------------------------------------------------------------------
    @property
    def origin(self) -> tuple[str, str, int | None]:
        return origin_of(self.base_url)

    def url_for(self, spec: RequestSpec) -> str:
        if spec.path.startswith(("http://", "https://")):
            return spec.path
        return self.base_url + spec.path

    def is_own_origin(self, url: str) -> bool:
        return origin_of(url) == self.origin

    def headers_for(self, spec: RequestSpec) -> dict[str, str]:
        """Attribution, client id and bearer token go only to the API's own origin, never to a CDN."""
        url = self.url_for(spec)
        headers: dict[str, str] = {}
        if self.is_own_origin(url):
            headers["X-Skill-Source"] = SKILL_SOURCE
            headers["X-Skill-Version"] = nemo_provider.__version__
            headers["X-Skill-Platform"] = self.platform
            if self.client_id:
                headers["X-Client-Id"] = self.client_id
            if spec.authenticated and self._token is not None:
                headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        headers.update(spec.headers)
        return headers

    def error_context(self, session_id: str | None = None) -> ErrorContext:
        return ErrorContext(
            base_url=self.base_url,
            token_is_anonymous=self.token_is_anonymous,
            token_source=self.token_source,
            user_id=self.user_id,
            session_id=session_id,
            secrets=tuple(s for s in (self.token,) if s),
        )

    def new_render_id(self) -> str:
        """A :func:`new_render_id`, strictly increasing within this client so a retry gets a new id."""
        self._last_render_ms = max(_render_id_stamp(), self._last_render_ms + 1)
        return f"render_{self._last_render_ms}"

    def __repr__(self) -> str:
        kind = "anonymous" if self.token_is_anonymous else ("configured" if self._token else "none")
        return f"ClientCore(base_url={self.base_url!r}, token=<{kind}>)"


def origin_of(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = (parts.scheme or "").lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def connection_error(
    core: ClientCore, spec: RequestSpec, exc: BaseException, *, retried: bool = True
) -> NemoConnectionError:
    """A network failure, worded by whether the request may have reached the server.

    ``retried``: whether the runner's policy repeats idempotent requests at all (a poller's does not).
    """
    where = origin_of(core.url_for(spec))
    host = f"{where[0]}://{where[1]}" + (f":{where[2]}" if where[2] not in (80, 443) else "")
    detail = scrub(str(exc) or type(exc).__name__, core.error_context().secrets)
    if spec.idempotent:
        again = "It was retried with backoff. " if retried else ""
        advice = f"{again}Check the connection host and the network."
    else:
        advice = (
            "It was not repeated automatically, because repeating it is not safe; it may or may not have "
            "reached the service. Check the connection host and the network."
        )
    return NemoConnectionError(
        f"Could not complete {spec.name} with the Nemo API at {host}: {detail}. {advice}"
    )
