"""One request plus the recoveries every endpoint shares, with no I/O.

``call(core, spec)`` sends ``spec`` and returns its payload. What it repeats, and why (the rule itself
is ``errors.may_repeat``; this is what the flow does with it):

* A network error or a 5xx: only idempotent calls (``spec.idempotent``: GETs, the anonymous token,
  whose client id returns the same token, and render cancel), as often as the runner's
  ``RetryPolicy`` allows: the flow yields ``Backoff`` and the drive loop waits and says yes or no.
  Never ``/run_sse`` (a repeated message is charged twice), never render create (the first may have
  started), never upload or session create.
* 1001 / 429 / 400-missing-client-id: the server refused the request before doing anything
  (``errors.refused_before_accept``), so one repeat is safe for every call, ``/run_sse`` included.
  Each is repeated once, after its remedy: a new anonymous token (only when the token was anonymous:
  a configured token is the user's to fix), the Retry-After wait, a new client id.
* 1002 is refused before any work too, but the remedy (a new session) changes what the call means;
  ``_flows.with_new_session`` applies it to the calls that do not depend on the old session.
* 2001 without a balance: the balance is read so the error can say how many credits are left.
"""

from __future__ import annotations

import uuid
from typing import Any

from nemo_provider.client._core import ClientCore
from nemo_provider.client._error_map import insufficient_credits
from nemo_provider.client._ops import Backoff, Flow, RequestSpec, Send, Sleep
from nemo_provider.client._parse import parse_response
from nemo_provider.client.constants import DEFAULT_RETRY_AFTER_S
from nemo_provider.client.errors import (
    NemoAuthError,
    NemoError,
    NemoInsufficientCreditsError,
    NemoMissingClientIdError,
    NemoRateLimitError,
    may_repeat,
    refused_before_accept,
)
from nemo_provider.client.models import AnonymousToken, Credits


def call(core: ClientCore, spec: RequestSpec) -> Flow[Any]:
    """Perform ``spec``: back off transient failures of idempotent calls, remedy refusals once."""
    remedied: set[type[NemoError]] = set()
    failures = 0  # transient failures in a row of this request
    while True:
        if spec.authenticated and core.token is None:
            yield from acquire_token(core)
        try:
            raw = yield Send(spec)
            return parse_response(raw, spec, core.error_context(spec.session_id))
        except NemoInsufficientCreditsError as err:
            if err.available is not None or spec.name == "credits":
                raise
            try:
                balance = yield from credits(core)
            except NemoError:
                raise err from None
            raise insufficient_credits(
                core.error_context(spec.session_id), balance.available, err.http_status
            ) from None
        except NemoError as err:
            if not may_repeat(err, idempotent=spec.idempotent):
                raise
            if not refused_before_accept(err):  # the network or a 5xx: the runner's policy decides
                failures += 1
                if (yield Backoff(spec.name, failures)):
                    continue
                raise err  # the policy's last word: the failure itself (its cause kept)
            if type(err) in remedied or not _remedy(core, spec, err):
                raise
            remedied.add(type(err))
            failures = 0
            if isinstance(err, NemoRateLimitError):
                wait = err.retry_after if err.retry_after is not None else DEFAULT_RETRY_AFTER_S
                yield Sleep(wait, why="rate limit")


def _remedy(core: ClientCore, spec: RequestSpec, err: NemoError) -> bool:
    """Fix what made the service refuse ``spec``; False when nothing here can fix it (repeat pointless)."""
    if isinstance(err, NemoAuthError):
        if not (spec.authenticated and core.token_is_anonymous):
            return False
        core.drop_token()  # call() acquires a new anonymous token before the repeat
        return True
    if isinstance(err, NemoMissingClientIdError):
        core.client_id = str(uuid.uuid4())  # sent as X-Client-Id by headers_for() on the repeat
        return True
    return isinstance(err, NemoRateLimitError)  # the wait is the remedy


# The two endpoints the recoveries themselves use (the other endpoints are in _flows).
def acquire_token(core: ClientCore) -> Flow[AnonymousToken]:
    core.ensure_client_id()  # sent as X-Client-Id by headers_for(), so a regenerated id is used on retry
    spec = RequestSpec(
        name="anonymous token",
        method="POST",
        path="/api/auth/anonymous-token",
        authenticated=False,
        idempotent=True,  # one token per client id: asking again returns the same one
    )
    data = yield from call(core, spec)
    token = AnonymousToken.model_validate(data)
    core.set_anonymous_token(token)
    return token


def credits(core: ClientCore) -> Flow[Credits]:
    spec = RequestSpec(name="credits", method="GET", path="/api/credits/balance/simple", idempotent=True)
    data = yield from call(core, spec)
    return Credits.model_validate(data)
