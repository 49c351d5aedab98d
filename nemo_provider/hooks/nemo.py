"""NemoHook: turns an Airflow connection into a configured Nemo API client.

The hook is imported by every DAG file that uses the provider, so this module imports nothing heavy at
top level: httpx, pydantic and the client are imported inside the methods that need them. The
``import nemo_provider.hooks.nemo`` cost is measured by ``bench/import_cost.py``.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from nemo_provider.client.constants import DEFAULT_BASE_URL
from nemo_provider.hooks._pool import shared_anonymous_token, shared_logger, shared_session

if TYPE_CHECKING:
    import httpx
    from airflow.sdk import Connection

    from nemo_provider.client import AsyncNemoClient, NemoClient

DEFAULT_TIMEOUT = 30.0
DEFAULT_LANGUAGE = "en"
DEFAULT_PLATFORM = "airflow"


@dataclass(frozen=True)
class NemoClientSettings:
    """What a connection says about how to reach Nemo; the one place connection fields are interpreted.

    ``token`` is deliberately excluded from ``repr`` so that logging a settings object never leaks it.
    """

    conn_id: str
    base_url: str
    token: str | None
    client_id: str
    language: str
    timeout: float
    platform: str

    def __repr__(self) -> str:
        return (
            f"NemoClientSettings(conn_id={self.conn_id!r}, base_url={self.base_url!r}, "
            f"token={'***' if self.token else None}, client_id={self.client_id!r}, "
            f"language={self.language!r}, timeout={self.timeout!r}, platform={self.platform!r})"
        )


def _base_url(conn: Connection) -> str:
    """Accept both ``host=https://api.example`` and ``schema=http, host=127.0.0.1, port=8000``."""
    host = (conn.host or "").strip()
    if not host:
        return DEFAULT_BASE_URL
    if "://" in host:
        base = host.rstrip("/")
        if conn.port and base.count(":") == 1:
            base = f"{base}:{conn.port}"
        return base
    scheme = (conn.schema or "https").strip() or "https"
    port = f":{conn.port}" if conn.port else ""
    return f"{scheme}://{host.rstrip('/')}{port}"


def _extras(conn: Connection) -> dict[str, Any]:
    extra = conn.extra
    if not extra:
        return {}
    if isinstance(extra, dict):
        return extra
    try:
        parsed = json.loads(extra)
    except ValueError as err:
        raise ValueError(f"Connection {conn.conn_id!r}: 'extra' is not valid JSON") from err
    return parsed if isinstance(parsed, dict) else {}


_WARNED_GUESSABLE: set[str] = set()


def _warn_guessable_client_id(conn_id: str) -> None:
    """Say once per process that the anonymous identity can be guessed by anyone who knows the URL.

    The service hands the same anonymous token to whoever presents the same client id, and the derived
    id is a hash of public facts (connection id and URL). A random ``client_id`` in the extra closes that.
    """
    if conn_id in _WARNED_GUESSABLE:
        return
    _WARNED_GUESSABLE.add(conn_id)
    logging.getLogger(__name__).warning(
        "Connection %r has neither a token nor a client_id: its anonymous account is tied to an id derived "
        "from the connection id and URL, which anyone who can reach the service could derive too. Set "
        "extra.client_id to a random UUID (python -c 'import uuid; print(uuid.uuid4())') or use a token.",
        conn_id,
    )


def settings_from_connection(conn: Connection) -> NemoClientSettings:
    """Read a connection into settings and register its token with the secret masker.

    Without a configured ``client_id`` the hook derives a stable one from the connection id and URL:
    every task of every run then acts as the same anonymous user, so a session created by one task
    is visible to the next (a random id per task would give each task a different anonymous user).
    """
    from airflow.sdk.log import mask_secret

    extras = _extras(conn)
    base_url = _base_url(conn)
    token = (conn.password or "").strip() or None
    if token:
        mask_secret(token)
    env_token = os.environ.get("NEMO_TOKEN")
    if env_token:  # the client falls back to it, so it must be masked too
        mask_secret(env_token)
    client_id = str(extras.get("client_id") or "").strip()
    if not client_id:
        client_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"airflow-provider-nemo:{conn.conn_id}:{base_url}"))
        if not token and not env_token:
            _warn_guessable_client_id(conn.conn_id)
    return NemoClientSettings(
        conn_id=conn.conn_id,
        base_url=base_url,
        token=token,
        client_id=client_id,
        language=str(extras.get("language") or DEFAULT_LANGUAGE),
        timeout=float(extras.get("timeout") or DEFAULT_TIMEOUT),
        platform=str(extras.get("platform") or DEFAULT_PLATFORM),
    )


class NemoHook(BaseHook):
    """Interact with the Nemo agent API through an Airflow connection of type ``nemo``.

    Connection fields: *Host* is the API base URL (empty means the production service), *Password* is
    the API token (empty means an anonymous token is acquired for the connection's client id), and
    *Extra* may hold ``client_id``, ``language``, ``timeout`` (seconds) and ``platform``.

    :param nemo_conn_id: the Airflow connection to use.
    """

    conn_name_attr = "nemo_conn_id"
    default_conn_name = "nemo_default"
    conn_type = "nemo"
    hook_name = "Nemo"

    def __init__(self, nemo_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.nemo_conn_id = nemo_conn_id

    # -- UI ---------------------------------------------------------------------------------------
    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form, for Airflow versions that ask the hook; defined once in the provider info."""
        from nemo_provider.get_provider_info import UI_FIELD_BEHAVIOUR

        return {
            "hidden_fields": list(UI_FIELD_BEHAVIOUR["hidden-fields"]),
            "relabeling": dict(UI_FIELD_BEHAVIOUR["relabeling"]),
            "placeholders": dict(UI_FIELD_BEHAVIOUR["placeholders"]),
        }

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """The typed extras of the form, for Airflow 3.1, which reads them only from the hook.

        Built from the provider info's ``conn-fields`` (the one definition; Airflow 3.2+ reads that and
        never calls this). Airflow 3.1's api-server calls this with stand-ins for wtforms and
        flask-appbuilder, so neither needs to be installed; a number field is an integer field there
        (the only numeric kind it knows).
        """
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import IntegerField, StringField
        from wtforms.validators import Optional, any_of

        from nemo_provider.get_provider_info import CONN_FIELDS

        widgets: dict[str, Any] = {}
        for name, spec in CONN_FIELDS.items():
            schema = spec["schema"]
            numeric = {"number", "integer"} & set(schema["type"])
            validators: list[Any] = [Optional()]
            if "enum" in schema:
                validators.append(any_of(schema["enum"]))
            widgets[name] = (IntegerField if numeric else StringField)(
                lazy_gettext(spec["label"]),
                validators=validators,
                description=spec["description"],
                default=schema.get("default"),
                widget=BS3TextFieldWidget(),
            )
        return widgets

    # -- settings -----------------------------------------------------------------------------------
    def get_settings(self) -> NemoClientSettings:
        """Settings read with the synchronous connection lookup (workers, not the triggerer)."""
        return settings_from_connection(self.get_connection(self.nemo_conn_id))

    async def aget_settings(self) -> NemoClientSettings:
        """Settings read with Airflow's async connection lookup: safe inside the triggerer's event loop."""
        return settings_from_connection(await self.aget_connection(self.nemo_conn_id))

    # -- clients ------------------------------------------------------------------------------------
    def get_client(
        self, *, transport: httpx.BaseTransport | None = None, token_source: str | None = None
    ) -> NemoClient:
        """A configured synchronous client; close it (or use it as a context manager) when done.

        ``token_source`` overrides how auth errors name the token (the connection test uses it).
        """
        from nemo_provider.client import NemoClient

        kwargs = self._client_kwargs(self.get_settings())
        if token_source:
            kwargs["token_source"] = token_source
        return NemoClient(**kwargs, transport=transport)

    def _client_kwargs(self, s: NemoClientSettings) -> dict[str, Any]:
        """The constructor arguments both clients take from a connection: one place, so they cannot drift."""
        return {
            "base_url": s.base_url,
            "token": s.token,
            "client_id": s.client_id,
            "language": s.language,
            "timeout": s.timeout,
            "platform": s.platform,
            "logger": self.log,
            "token_source": f"the password of Airflow connection {s.conn_id!r}",
        }

    def get_conn(self) -> NemoClient:
        """Airflow's generic accessor; same as :meth:`get_client`."""
        return self.get_client()

    async def get_async_client(
        self, *, http_client: httpx.AsyncClient | None = None, shared: bool = False
    ) -> AsyncNemoClient:
        """An async client for triggers, built from the async connection lookup.

        With ``shared=True`` every request of the client goes out on this process's pooled aiohttp
        session for the base URL (one per event loop; see ``_pool``), so a thousand triggers polling one
        service hold one pool, not a thousand, and its anonymous token is asked for once. Closing such a
        client leaves the pool open: it belongs to the loop. ``http_client`` replaces the pool (tests).
        """
        from nemo_provider.client import AsyncNemoClient

        s = await self.aget_settings()
        session = shared_session(s.base_url) if shared and http_client is None else None
        kwargs = self._client_kwargs(s)
        if session is not None:
            kwargs["logger"] = self._pooled_client_log()
        client = AsyncNemoClient(**kwargs, http_client=http_client, session=session)
        if shared and not s.token and not os.environ.get("NEMO_TOKEN"):
            await self._adopt_shared_anonymous_token(client, s)
        return client

    def _pooled_client_log(self) -> Any:
        """The hook's logger, kept once per class (``_pool.shared_logger``) for the clients on the pool:
        the first hook's logger has the same name as every later one's (the name depends on the class),
        so lines land alike.
        """
        return shared_logger((type(self), getattr(self, "_logger_name", None)), lambda: self.log)

    @staticmethod
    async def _adopt_shared_anonymous_token(client: AsyncNemoClient, s: NemoClientSettings) -> None:
        """Give the client the loop's anonymous token for this client id, acquired once for all triggers."""
        from airflow.sdk.log import mask_secret

        anonymous = await shared_anonymous_token(s.base_url, s.client_id, client.acquire_anonymous_token)
        secret = anonymous.token.get_secret_value()
        mask_secret(secret)
        if client.token != secret:
            client.set_anonymous_token(anonymous)

    @staticmethod
    def register_acquired_token(client: NemoClient | AsyncNemoClient) -> None:
        """Mask a token the client acquired anonymously, so no later log line can show it."""
        from airflow.sdk.log import mask_secret

        token = getattr(client, "token", None)
        if token:
            mask_secret(token)

    # -- connection test ----------------------------------------------------------------------------
    def test_connection(self) -> tuple[bool, str]:
        """Read the credit balance: proves the URL, the token (or anonymous access) and the headers.

        Airflow's Test button runs this under a random temporary connection id; failures name the
        user's own connection instead (see :func:`user_connection_id`).
        """
        try:
            shown = user_connection_id(self.nemo_conn_id)
            source = (
                f"the password of Airflow connection {shown!r}"
                if shown
                else "the password of the Airflow connection being tested"
            )
            with self.get_client(token_source=source) as client:
                credits = client.credits()
                self.register_acquired_token(client)
                who = "an anonymous token" if getattr(client, "token_is_anonymous", False) else "the token"
            return (
                True,
                f"Connected with {who}: {credits.available} credits available "
                f"({credits.frozen} held by running work, {credits.total} in total).",
            )
        except Exception as err:
            return False, f"{type(err).__name__}: {err}"


def user_connection_id(conn_id: str) -> str | None:
    """How to name the connection under test in a message: the user's id, not Airflow's temporary one.

    Airflow's test endpoint copies the form into an environment connection ``AIRFLOW_CONN_<random>``;
    when exactly one stored ``nemo`` connection has the same URL and token, that is the one the user is
    testing; None when that cannot be told (unsaved edits, no database in this process).
    """
    env = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
    if not env:
        return conn_id
    try:
        from airflow.models.connection import Connection
        from airflow.utils.session import create_session

        tested = Connection(conn_id=conn_id, uri=env) if not env.lstrip().startswith("{") else None
        if tested is None:
            tested = Connection.from_json(env, conn_id=conn_id)
        with create_session() as session:
            stored = session.query(Connection).filter(Connection.conn_type == tested.conn_type).all()
            same = [
                c.conn_id
                for c in stored
                if (c.host or "") == (tested.host or "") and (c.password or "") == (tested.password or "")
            ]
    except Exception:
        same = []
    if conn_id in same:
        return conn_id
    return same[0] if len(same) == 1 else None
