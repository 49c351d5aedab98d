"""Extra links of the export: hear the track on the Nemo tracks page, or download it, through Airflow.

Both point at the api-server's tracks plugin (``nemo_provider.links.urls``), which looks the file up
in this task instance's XCom and checks the user may read the DAG: not at a worker path, and not at
the Nemo backend's own address (loopback for nemo_local, a CDN URL that expires for the service).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperatorLink

from nemo_provider.links.urls import media_url, player_url

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

#: The XCom key under which NemoExportOperator publishes the render's URL.
RENDER_URL_XCOM_KEY = "render_url"


def _delivered(operator: BaseOperator, ti_key: TaskInstanceKey) -> bool:
    """Whether this task instance finished an export (the link is empty before that)."""
    url: Any = getattr(operator, "render_url", None)
    if url:
        return True
    try:
        from airflow.sdk.bases.xcom import BaseXCom

        return bool(BaseXCom.get_value(ti_key=ti_key, key=RENDER_URL_XCOM_KEY))  # type: ignore[arg-type]
    except Exception:
        return False


class NemoTrackLink(BaseOperatorLink):
    """The track's player on the Nemo tracks page."""

    name = "Listen (Nemo tracks)"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        if not _delivered(operator, ti_key):
            return ""
        return player_url(ti_key.dag_id, ti_key.run_id, ti_key.task_id, ti_key.map_index)


class NemoDownloadLink(BaseOperatorLink):
    """The delivered file itself, served by the api-server (wherever the export delivered it)."""

    name = "Download"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        if not _delivered(operator, ti_key):
            return ""
        return media_url(ti_key.dag_id, ti_key.run_id, ti_key.task_id, ti_key.map_index, download=True)
