"""The "Download" extra link: the finished export's URL, one click from the task in the UI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

#: The XCom key under which NemoExportOperator publishes the render's URL.
RENDER_URL_XCOM_KEY = "render_url"


class NemoDownloadLink(BaseOperatorLink):
    """Points at the render's download URL once the export has finished (empty before that).

    Airflow 3 asks for the link on the worker when the task finishes and stores it; the operator that
    just ran holds the URL, and the XCom is the fallback for operators that did not set it.
    """

    name = "Download"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        url: Any = getattr(operator, "render_url", None)
        if not url:
            try:
                from airflow.sdk.bases.xcom import BaseXCom

                url = BaseXCom.get_value(ti_key=ti_key, key=RENDER_URL_XCOM_KEY)  # type: ignore[arg-type]
            except Exception:
                url = None
        return str(url) if url else ""
