"""Who a client is (base URL, token state, user): one definition for `NemoClient` and `AsyncNemoClient`.

Both runners keep their request state in a ``_core.ClientCore``; these read-only views and the token
adoption are the same for both, so they live here instead of being written twice.
"""

from __future__ import annotations

from nemo_provider.client._core import ClientCore
from nemo_provider.client.models import AnonymousToken


class ClientIdentity:
    """Read-only identity of a client; never shows the token in a repr."""

    __slots__ = ()  # so a runner may be slotted (the async client lives as long as its trigger)

    _core: ClientCore

    @property
    def base_url(self) -> str:
        return self._core.base_url

    @property
    def token(self) -> str | None:
        """The bearer token in use (for secret maskers). Never logged or shown in reprs."""
        return self._core.token

    @property
    def token_is_anonymous(self) -> bool:
        return self._core.token_is_anonymous

    @property
    def user_id(self) -> str | None:
        return self._core.user_id

    @property
    def client_id(self) -> str | None:
        return self._core.client_id

    def set_anonymous_token(self, token: AnonymousToken) -> None:
        """Adopt an anonymous token acquired elsewhere (e.g. once for many triggers of one process).

        The client then behaves as if it had acquired the token itself: it is marked anonymous, so a
        1001 refusal makes it acquire a fresh one instead of failing.
        """
        self._core.set_anonymous_token(token)

    def __repr__(self) -> str:
        kind = "anonymous" if self.token_is_anonymous else ("configured" if self._core.token else "none yet")
        return f"{type(self).__name__}(base_url={self.base_url!r}, token=<{kind}>)"
