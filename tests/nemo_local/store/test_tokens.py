"""Tokens are stored only as hashes, yet a returning client id gets the same token back."""

from __future__ import annotations

from pathlib import Path

from nemo_local.store import Store


def test_tokens_hashed_and_rederived(tmp_path: Path) -> None:
    store = Store(tmp_path)
    first = store.tokens.anonymous("client-1", "127.0.0.1", 3600, 100)
    again = store.tokens.anonymous("client-1", "127.0.0.1", 3600, 100)
    named = store.tokens.create_named("ci", 5, 3600)
    store.close()
    raw = (tmp_path / "nemo_local.sqlite3").read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("nemo_local.sqlite3-*")
    )
    assert first.token.encode() not in raw and named.token.encode() not in raw
    assert again.token == first.token and again.created is False and first.created is True
    reopened = Store(tmp_path)
    assert reopened.tokens.anonymous("client-1", "10.0.0.1", 3600, 100).token == first.token
    info = reopened.tokens.lookup(named.token)
    assert info is not None and info.kind == "named" and not info.expired
    assert reopened.credits.balance(first.user_id).available == 100


def test_expire_all(tmp_path: Path) -> None:
    store = Store(tmp_path)
    issued = store.tokens.anonymous("c", "ip", 3600, 100)
    assert store.tokens.expire_all() == 1
    info = store.tokens.lookup(issued.token)
    assert info is not None and info.expired
    assert store.tokens.anonymous("c", "ip", 3600, 100).token != issued.token
