"""The one retry policy: how often a transient failure is repeated, and how long to wait before each.

Which requests may be repeated at all is not decided here but by ``errors.may_repeat`` (asked by the
flow in ``_call``); a flow yields ``Backoff`` only for those, and the drive loop answers it from the
runner's policy. The clients' ``max_retries`` / ``retry_wait_cap`` arguments build this policy; the
aiohttp poller uses ``NO_REPEATS``, because a poller polls again on its own schedule and counts
transient errors itself (``errors.TransientErrorBudget``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: waits of ``first_wait``, twice that, four times ..., each at most ``wait_cap``.

    ``max_retries`` repeats after the first attempt, so a request is sent at most ``max_retries + 1``
    times (the clients' default: 4 sends, waiting 0.5 s, 1 s and 2 s between them).
    """

    max_retries: int = 3
    wait_cap: float = 30.0
    first_wait: float = 0.5

    def delay(self, attempt: int) -> float | None:
        """The wait before repeating a request whose attempt number ``attempt`` (1-based) failed.

        None when no repeat is left: the flow then raises the failure.
        """
        if attempt < 1 or attempt > self.max_retries:
            return None
        return max(0.0, min(self.wait_cap, self.first_wait * 2.0 ** (attempt - 1)))


#: For a caller that repeats on its own schedule (a render poller): the failure is raised at once.
NO_REPEATS = RetryPolicy(max_retries=0)
