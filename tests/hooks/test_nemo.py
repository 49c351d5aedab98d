from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from airflow.sdk import Connection
from airflow.sdk._shared.secrets_masker import redact

from nemo_provider.hooks import _pool
from nemo_provider.hooks.nemo import DEFAULT_BASE_URL, NemoHook, settings_from_connection
from tests._helpers import fake_token

ANON_SHARED = fake_token("shared")


def conn(**kw: Any) -> Connection:
    kw.setdefault("conn_id", "nemo_test")
    kw.setdefault("conn_type", "nemo")
    return Connection(**kw)


def test_hook_identity() -> None:
    assert NemoHook.conn_type == "nemo"
    assert NemoHook.default_conn_name == "nemo_default"
    assert NemoHook.hook_name == "Nemo"
    assert NemoHook().nemo_conn_id == "nemo_default"


def test_ui_field_behaviour_relabels_and_hides() -> None:
    behaviour = NemoHook.get_ui_field_behaviour()
    assert {"schema", "port", "login"} <= set(behaviour["hidden_fields"])
    assert behaviour["relabeling"]["password"] == "API token"
    assert set(json.loads(behaviour["placeholders"]["extra"])) == {
        "client_id",
        "language",
        "timeout",
        "platform",
    }


def test_empty_connection_means_production_and_anonymous() -> None:
    s = settings_from_connection(conn())
    assert s.base_url == DEFAULT_BASE_URL
    assert s.token is None
    assert (s.language, s.timeout, s.platform) == ("en", 30.0, "airflow")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"host": "http://127.0.0.1:8123/"}, "http://127.0.0.1:8123"),
        ({"host": "127.0.0.1", "port": 8123, "schema": "http"}, "http://127.0.0.1:8123"),
        ({"host": "http://127.0.0.1", "port": 8123}, "http://127.0.0.1:8123"),
        ({"host": "api.example.com"}, "https://api.example.com"),
    ],
)
def test_base_url_forms(fields: dict[str, Any], expected: str) -> None:
    assert settings_from_connection(conn(**fields)).base_url == expected


def test_extras_are_read() -> None:
    extra = json.dumps({"client_id": "cid-1", "language": "zh", "timeout": "12", "platform": "ci"})
    s = settings_from_connection(conn(extra=extra))
    assert (s.client_id, s.language, s.timeout, s.platform) == ("cid-1", "zh", 12.0, "ci")


def test_a_guessable_anonymous_identity_is_warned_about_once(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nemo_provider.hooks import nemo as hook_module

    monkeypatch.delenv("NEMO_TOKEN", raising=False)
    monkeypatch.setattr(hook_module, "_WARNED_GUESSABLE", set())
    with caplog.at_level("WARNING", logger="nemo_provider.hooks.nemo"):
        settings_from_connection(conn(conn_id="guessable", host="http://h:1"))
        settings_from_connection(conn(conn_id="guessable", host="http://h:1"))
        settings_from_connection(conn(conn_id="own_id", extra=json.dumps({"client_id": "c-1"})))
        settings_from_connection(conn(conn_id="with_token", password="tok-not-real"))
    warned = [r.getMessage() for r in caplog.records if "client_id" in r.getMessage()]
    assert len(warned) == 1
    assert "'guessable'" in warned[0] and "random UUID" in warned[0]


def test_default_client_id_is_stable_per_connection() -> None:
    a = settings_from_connection(conn(host="http://h:1")).client_id
    assert a == settings_from_connection(conn(host="http://h:1")).client_id
    assert a != settings_from_connection(conn(host="http://h:2")).client_id
    assert a != settings_from_connection(conn(conn_id="other", host="http://h:1")).client_id


def test_token_is_masked_and_never_in_repr() -> None:
    token = fake_token("masked")
    s = settings_from_connection(conn(password=token))
    assert s.token == token
    assert token not in repr(s)
    assert token not in redact(f"calling with {token}")


def test_bad_extra_json_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="not valid JSON"):
        settings_from_connection(conn(extra="{nope"))


def test_async_settings_use_the_async_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside the triggerer's loop a sync connection lookup is a bug: the async path must not make one."""

    def sync_lookup(cls: type, conn_id: str) -> Connection:
        raise AssertionError("sync get_connection called from the async path")

    token = fake_token("async")

    async def async_lookup(cls: type, conn_id: str) -> Connection:
        return conn(conn_id=conn_id, host="http://127.0.0.1:9", password=token)

    monkeypatch.setattr(NemoHook, "get_connection", classmethod(sync_lookup))
    monkeypatch.setattr(NemoHook, "aget_connection", classmethod(async_lookup))
    s = asyncio.run(NemoHook("nemo_async").aget_settings())
    assert s.base_url == "http://127.0.0.1:9" and s.token == token


def test_env_connection_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_NEMO_ENV",
        json.dumps({"conn_type": "nemo", "host": "http://127.0.0.1:7", "password": ""}),
    )
    s = NemoHook("nemo_env").get_settings()
    assert s.base_url == "http://127.0.0.1:7" and s.token is None


def test_shared_pool_is_one_session_per_base_url_and_loop() -> None:
    async def grab() -> tuple[Any, Any, Any, int]:
        a = _pool.shared_session("http://one")
        b = _pool.shared_session("http://one")
        c = _pool.shared_session("http://two")
        n = _pool.shared_session_count()
        await _pool.aclose_shared_sessions()
        return a, b, c, n

    a, b, c, n = asyncio.run(grab())
    assert a is b and a is not c and n == 2
    assert a.closed and c.closed
    d, *_ = asyncio.run(grab())
    assert d is not a, "a new event loop gets its own session (aiohttp sessions are loop-bound)"


def test_pooled_clients_log_through_one_logger_not_one_per_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    """A trigger keeps its client for the whole deferral: the hook's logger must not be kept per trigger."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_NEMO_LOGS",
        json.dumps({"conn_type": "nemo", "host": "http://127.0.0.1:9", "password": fake_token("logs")}),
    )

    async def main() -> tuple[list[Any], Any]:
        pooled = [await NemoHook("nemo_logs").get_async_client(shared=True) for _ in range(3)]
        own_hook = NemoHook("nemo_logs")
        unpooled = await own_hook.get_async_client()
        await unpooled.aclose()
        await _pool.aclose_shared_sessions()
        return pooled, (unpooled, own_hook)

    pooled, (unpooled, own_hook) = asyncio.run(main())
    logs = {id(c._log) for c in pooled}
    assert len(logs) == 1, "three pooled clients, one logger"
    assert unpooled._log is own_hook.log, "a client of its own logs through its own hook, as before"
    # the same name (structlog's lazy proxy keeps it): the lines land where the hook's own would
    assert pooled[0]._log._logger_factory_args == own_hook.log._logger_factory_args


class _FakeCreditsClient:
    token_is_anonymous = True

    def __enter__(self) -> _FakeCreditsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def credits(self) -> Any:
        from nemo_provider.client.models import Credits

        return Credits(available=90, frozen=10, total=100)


def test_test_connection_reports_the_balance(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(NemoHook, "get_client", lambda self, **kw: _FakeCreditsClient())
    ok, message = NemoHook().test_connection()
    assert ok
    assert "90" in message and "anonymous" in message


def test_test_connection_reports_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: NemoHook, **kw: Any) -> Any:
        raise RuntimeError("connection refused")

    monkeypatch.setattr(NemoHook, "get_client", broken)
    ok, message = NemoHook().test_connection()
    assert not ok and "connection refused" in message


def test_triggers_share_one_anonymous_token_request(monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        assert request.url.path == "/api/auth/anonymous-token"
        data = {"token": ANON_SHARED, "user_id": "u-1", "expires_at": None, "credits": 100}
        return httpx.Response(200, json={"code": 0, "data": data})

    monkeypatch.setenv(
        "AIRFLOW_CONN_NEMO_POOL", json.dumps({"conn_type": "nemo", "host": "http://127.0.0.1:9"})
    )

    async def main() -> list[Any]:
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        clients = [
            await NemoHook("nemo_pool").get_async_client(http_client=http, shared=True) for _ in range(5)
        ]
        await http.aclose()
        return clients

    clients = asyncio.run(main())
    assert calls == ["/api/auth/anonymous-token"], "five triggers, one token request"
    assert {c.token for c in clients} == {ANON_SHARED}
    assert all(c.token_is_anonymous for c in clients)
    assert ANON_SHARED not in redact(f"token {ANON_SHARED}")


def test_shared_pools_close_when_their_loop_shuts_down_and_free_the_loop() -> None:
    """asyncio.run (like the triggerer's and pytest's loops) cancels pending tasks before closing the loop;
    the pool's parked closer must then close the aiohttp session (or aiohttp warns at exit), and nothing
    the pool keeps may hold the ended loop alive."""
    import gc
    import weakref

    loops: list[weakref.ref[asyncio.AbstractEventLoop]] = []

    async def use_pool() -> Any:
        loops.append(weakref.ref(asyncio.get_running_loop()))
        session = _pool.shared_session("http://one")
        await _pool.shared_anonymous_token("http://one", "cid", _an_anonymous_token)
        return session

    session = asyncio.run(use_pool())
    assert session.closed
    del session  # a session references its loop; the test's own reference must go first
    gc.collect()
    assert loops[0]() is None, "the ended loop is still referenced"


async def _an_anonymous_token() -> str:
    return fake_token("not-real")
