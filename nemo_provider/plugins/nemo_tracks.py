"""``NemoTracksPlugin``: adds the **Nemo tracks** page to Airflow's navigation.

Registered in ``get_provider_info()["plugins"]`` (and, because Airflow reads provider plugins only with
``[core] lazy_discover_providers = False``, also as an ``airflow.plugins`` entry point), so installing
the provider is enough. The page is the FastAPI app of :mod:`nemo_provider.plugins.app`, mounted at
``/nemo`` by the api-server and shown inside the UI as an external view.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from nemo_provider.links.urls import URL_PREFIX
from nemo_provider.plugins.connection_test import ASGIApp, NemoConnectionTestMiddleware, Receive, Scope, Send

#: The UI route of the embedded page: ``<airflow>/plugin/nemo-tracks``.
UI_ROUTE = "nemo-tracks"


class TracksApp:
    """The tracks app, built on its first request.

    Every task loads the plugins (for their macros), and workers never serve this app: building the
    FastAPI app lazily keeps FastAPI and the page's modules out of a task's start-up.
    """

    def __init__(self) -> None:
        self._app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            from nemo_provider.plugins.app import create_app

            self._app = create_app()
        await self._app(scope, receive, send)


class NemoTracksPlugin(AirflowPlugin):
    """The tracks page (FastAPI app) and its navigation entry (external view)."""

    name = "nemo_tracks"
    fastapi_apps: list[Any] = [  # noqa: RUF012 - AirflowPlugin declares these as class-level lists
        {"app": TracksApp(), "url_prefix": URL_PREFIX, "name": "Nemo tracks"}
    ]
    fastapi_root_middlewares: list[Any] = [  # noqa: RUF012
        {"middleware": NemoConnectionTestMiddleware, "name": "Nemo connection test: port 0 is no port"}
    ]
    external_views: list[Any] = [  # noqa: RUF012
        {
            "name": "Nemo tracks",
            "href": f"{URL_PREFIX}/tracks",
            "url_route": UI_ROUTE,
            "destination": "nav",
            "nav_top_level": True,
            "icon": f"{URL_PREFIX}/icon.svg",
        },
        {
            "name": "Nemo tracks",
            "href": f"{URL_PREFIX}/tracks?dag_id={{DAG_ID}}&run_id={{RUN_ID}}",
            "destination": "dag_run",
            "url_route": f"{UI_ROUTE}-run",
        },
    ]


def _entry_point_plugin() -> type[NemoTracksPlugin] | None:
    """The plugin for the ``airflow.plugins`` entry point, unless the provider info registers it.

    With ``[core] lazy_discover_providers = False`` Airflow loads provider-info plugins itself; the
    entry point then resolves to None (Airflow skips non-classes silently) so the plugin is not loaded
    twice ("already registered" import error).
    """
    from airflow.configuration import conf

    lazy = conf.getboolean("core", "lazy_discover_providers", fallback=True)
    return NemoTracksPlugin if lazy else None


entry_point_plugin = _entry_point_plugin()
