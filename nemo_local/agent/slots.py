"""Per-user concurrency of agent work (generations and edits): a stranger sending messages in parallel
gets 429 with Retry-After once `generations_per_user` of theirs are at work, before anything is held or
charged, so one user cannot occupy the composer pool that every other user shares."""

from __future__ import annotations

import threading
from collections import Counter

from nemo_local.limits import Busy, Limits


class UserSlots:
    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._lock = threading.Lock()
        self._busy: Counter[str] = Counter()

    def acquire(self, user_id: str) -> None:
        """Take one of the user's slots, or raise Busy (-> 429) when all are taken."""
        with self._lock:
            running = self._busy[user_id]
            if running >= self._limits.generations_per_user:
                raise Busy("generations_per_user", running, self._limits, "messages at work")
            self._busy[user_id] = running + 1

    def release(self, user_id: str) -> None:
        with self._lock:
            self._busy[user_id] -= 1
            if self._busy[user_id] <= 0:
                del self._busy[user_id]

    def running(self, user_id: str) -> int:
        with self._lock:
            return self._busy[user_id]
