"""Users and bearer tokens. Only token hashes are stored; anonymous tokens are re-derivable by HMAC so the
same client id gets its token back without the plaintext ever touching the disk."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from nemo_local.store.db import Database, now

TOKEN_PREFIX = "nmv_usr_"  # noqa: S105 (a public prefix, not a secret)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    user_id: str
    kind: str
    issued_at: float
    expires_at: float

    @property
    def expired(self) -> bool:
        return now() >= self.expires_at


@dataclass(frozen=True)
class IssuedToken:
    token: str
    user_id: str
    expires_at: float
    created: bool


class TokenStore:
    """Issues, finds and expires tokens."""

    def __init__(self, db: Database, secret: bytes) -> None:
        self._db = db
        self._secret = secret

    def _derive(self, client_id: str, issued_at: float) -> str:
        mac = hmac.new(self._secret, f"{client_id}:{issued_at!r}".encode(), hashlib.sha256).hexdigest()
        return TOKEN_PREFIX + mac[:40]

    def anonymous(self, client_id: str, ip: str, ttl_s: float, credits: int) -> IssuedToken:
        """The client's live token if it has one, else a new user with a fresh token and starting credits."""
        t = now()
        with self._db.tx() as conn:
            row = conn.execute(
                "SELECT user_id, issued_at, expires_at FROM tokens WHERE client_id=? AND kind='anonymous'"
                " AND expires_at>? ORDER BY issued_at DESC LIMIT 1",
                (client_id, t),
            ).fetchone()
            if row is not None:
                token = self._derive(client_id, row["issued_at"])
                return IssuedToken(token, row["user_id"], row["expires_at"], created=False)
            user_id = "usr_" + secrets.token_hex(8)
            token = self._derive(client_id, t)
            conn.execute("INSERT INTO users VALUES (?, 'anonymous', NULL, ?)", (user_id, t))
            conn.execute(
                "INSERT INTO tokens VALUES (?, ?, 'anonymous', ?, ?, NULL, ?, ?)",
                (hash_token(token), user_id, client_id, ip, t, t + ttl_s),
            )
            conn.execute(
                "INSERT INTO credit_ledger (user_id, delta, reason, ref, created_at) VALUES (?, ?, 'grant', ?, ?)",
                (user_id, credits, "anonymous-token", t),
            )
            return IssuedToken(token, user_id, t + ttl_s, created=True)

    def count_new_by_ip(self, ip: str, since: float) -> int:
        row = self._db.one("SELECT COUNT(*) AS n FROM tokens WHERE ip=? AND issued_at>=?", (ip, since))
        return int(row["n"]) if row else 0

    def create_named(self, name: str, credits: int, ttl_s: float) -> IssuedToken:
        """A token for a user who wants a fixed one (`nemo-local token create`); shown once, stored hashed."""
        t = now()
        user_id = "usr_" + secrets.token_hex(8)
        token = TOKEN_PREFIX + secrets.token_urlsafe(30)
        with self._db.tx() as conn:
            conn.execute("INSERT INTO users VALUES (?, 'named', ?, ?)", (user_id, name, t))
            conn.execute(
                "INSERT INTO tokens VALUES (?, ?, 'named', NULL, NULL, ?, ?, ?)",
                (hash_token(token), user_id, name, t, t + ttl_s),
            )
            conn.execute(
                "INSERT INTO credit_ledger (user_id, delta, reason, ref, created_at) VALUES (?, ?, 'grant', ?, ?)",
                (user_id, credits, "token-create", t),
            )
        return IssuedToken(token, user_id, t + ttl_s, created=True)

    def lookup(self, token: str) -> TokenInfo | None:
        row = self._db.one(
            "SELECT user_id, kind, issued_at, expires_at FROM tokens WHERE token_hash=?", (hash_token(token),)
        )
        if row is None:
            return None
        return TokenInfo(row["user_id"], row["kind"], row["issued_at"], row["expires_at"])

    def expire_all(self) -> int:
        """Fault injection: every token issued so far is expired from now on."""
        return self._db.run("UPDATE tokens SET expires_at=? WHERE expires_at>?", (now(), now()))
