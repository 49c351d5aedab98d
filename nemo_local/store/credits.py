"""The credit ledger: grants and spends are ledger rows; running work holds (freezes) credits until it
either spends them or releases them, so `available` never counts money that is already promised."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from nemo_local.store.db import Database, now


@dataclass(frozen=True)
class Balance:
    available: int
    frozen: int

    @property
    def total(self) -> int:
        return self.available + self.frozen


class InsufficientCredits(Exception):
    """Raised when a hold is larger than what the user has available."""

    def __init__(self, available: int, needed: int) -> None:
        super().__init__(f"needs {needed} credits, {available} available")
        self.available = available
        self.needed = needed


class CreditLedger:
    def __init__(self, db: Database) -> None:
        self._db = db

    @staticmethod
    def _balance(conn: object, user_id: str) -> Balance:
        c = conn  # sqlite3.Connection; typed loosely so the helper serves both tx and plain reads
        granted = c.execute(  # type: ignore[attr-defined]
            "SELECT COALESCE(SUM(delta), 0) FROM credit_ledger WHERE user_id=?", (user_id,)
        ).fetchone()[0]
        frozen = c.execute(  # type: ignore[attr-defined]
            "SELECT COALESCE(SUM(amount), 0) FROM credit_holds WHERE user_id=? AND status='held'", (user_id,)
        ).fetchone()[0]
        return Balance(available=int(granted) - int(frozen), frozen=int(frozen))

    def balance(self, user_id: str) -> Balance:
        with self._db.tx() as conn:
            return self._balance(conn, user_id)

    def freeze(self, user_id: str, amount: int, reason: str) -> str:
        """Hold `amount` credits for running work; raises InsufficientCredits when short."""
        with self._db.tx() as conn:
            bal = self._balance(conn, user_id)
            if bal.available < amount:
                raise InsufficientCredits(bal.available, amount)
            hold_id = "hold_" + secrets.token_hex(8)
            conn.execute(
                "INSERT INTO credit_holds VALUES (?, ?, ?, ?, 'held', ?, NULL)",
                (hold_id, user_id, amount, reason, now()),
            )
            return hold_id

    def spend(self, hold_id: str) -> None:
        """The work succeeded: the held credits are spent for good."""
        with self._db.tx() as conn:
            row = conn.execute(
                "SELECT user_id, amount, reason FROM credit_holds WHERE id=? AND status='held'", (hold_id,)
            ).fetchone()
            if row is None:
                return
            conn.execute("UPDATE credit_holds SET status='spent', closed_at=? WHERE id=?", (now(), hold_id))
            conn.execute(
                "INSERT INTO credit_ledger (user_id, delta, reason, ref, created_at) VALUES (?, ?, ?, ?, ?)",
                (row["user_id"], -int(row["amount"]), row["reason"], hold_id, now()),
            )

    def release(self, hold_id: str) -> None:
        """The work failed or never ran: the held credits become available again."""
        self._db.run(
            "UPDATE credit_holds SET status='released', closed_at=? WHERE id=? AND status='held'",
            (now(), hold_id),
        )

    def release_all_held(self) -> int:
        """At start-up no work is running, so any hold left by a previous process is released."""
        return self._db.run(
            "UPDATE credit_holds SET status='released', closed_at=? WHERE status='held'", (now(),)
        )
