"""Where a delivered track is heard and fetched in Airflow: the tracks page's player and media URLs.

One place builds them, for the extra link, the Asset event extras and the review step's body. They go
through Airflow's api-server (``[api] base_url``), never to a worker path or the Nemo backend's own
(often loopback) address, and they name the task instance, never a file: the plugin looks the file up
in that task instance's XCom.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

#: Where the plugin's FastAPI app is mounted on the api-server.
URL_PREFIX = "/nemo"


def airflow_base_url() -> str:
    """The api-server's public base URL (``[api] base_url``), without a trailing slash; '' if unset."""
    from nemo_provider._compat import conf

    return str(conf.get("api", "base_url", fallback="") or "").rstrip("/")


def _identity(dag_id: str, run_id: str, task_id: str, map_index: int | None) -> str:
    return urlencode(
        {
            "dag_id": dag_id,
            "run_id": run_id,
            "task_id": task_id,
            "map_index": -1 if map_index is None else map_index,
        }
    )


def player_url(
    dag_id: str, run_id: str, task_id: str, map_index: int | None = -1, base: str | None = None
) -> str:
    """The page with this one track's player (same card as on the tracks list)."""
    root = airflow_base_url() if base is None else base.rstrip("/")
    return f"{root}{URL_PREFIX}/track?{_identity(dag_id, run_id, task_id, map_index)}"


def media_url(
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int | None = -1,
    *,
    download: bool = False,
    base: str | None = None,
) -> str:
    """The file itself, streamed with range support (``download=True`` asks the browser to save it)."""
    root = airflow_base_url() if base is None else base.rstrip("/")
    url = f"{root}{URL_PREFIX}/media?{_identity(dag_id, run_id, task_id, map_index)}"
    return url + "&download=1" if download else url


def tracks_url(base: str | None = None, **filters: str) -> str:
    """The tracks list, optionally filtered (dag_id, run_id, q, since, until)."""
    root = airflow_base_url() if base is None else base.rstrip("/")
    query = urlencode({k: v for k, v in filters.items() if v})
    return f"{root}{URL_PREFIX}/tracks" + (f"?{query}" if query else "")


def track_urls(context: Any, export_task_ids: Sequence[str]) -> dict[str, str]:
    """Player and media URLs of sibling export tasks (same task group and map index) for Asset extras.

    ``{"<task>_player": …, "<task>_media": …}`` for each export task id, called from a task of the same
    group (a mapped group's tasks share the map index).
    """
    ti = context["ti"]
    group = ti.task_id.rpartition(".")[0]
    urls: dict[str, str] = {}
    for name in export_task_ids:
        task_id = f"{group}.{name}" if group else name
        args = (ti.dag_id, ti.run_id, task_id, ti.map_index)
        urls[f"{name}_player"] = player_url(*args)
        urls[f"{name}_media"] = media_url(*args)
    return urls
