"""Credits: frozen while work runs, then spent or released; never overdrawn."""

from __future__ import annotations

from pathlib import Path

import pytest

from nemo_local.store import InsufficientCredits, Store


def test_freeze_spend_release(tmp_path: Path) -> None:
    store = Store(tmp_path)
    user = store.tokens.anonymous("c", "ip", 3600, 25).user_id
    ledger = store.credits
    hold = ledger.freeze(user, 10, "generate")
    assert (ledger.balance(user).available, ledger.balance(user).frozen, ledger.balance(user).total) == (
        15,
        10,
        25,
    )
    ledger.spend(hold)
    ledger.spend(hold)  # idempotent: spending twice charges once
    assert (ledger.balance(user).available, ledger.balance(user).frozen) == (15, 0)
    hold2 = ledger.freeze(user, 10, "generate")
    ledger.release(hold2)
    assert ledger.balance(user).available == 15
    ledger.freeze(user, 10, "generate")
    with pytest.raises(InsufficientCredits) as err:
        ledger.freeze(user, 10, "generate")
    assert err.value.available == 5 and err.value.needed == 10


def test_holds_left_by_a_dead_process_are_released(tmp_path: Path) -> None:
    store = Store(tmp_path)
    user = store.tokens.anonymous("c", "ip", 3600, 100).user_id
    store.credits.freeze(user, 10, "generate")
    store.close()
    reopened = Store(tmp_path)
    assert reopened.credits.release_all_held() == 1
    assert reopened.credits.balance(user).available == 100
