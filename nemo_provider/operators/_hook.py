"""The operators' connection: the default id and a NemoHook made when a task runs (not at DAG parse)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nemo_provider.hooks.nemo import NemoHook

DEFAULT_CONN_ID = "nemo_default"


def hook_for(conn_id: str) -> NemoHook:
    from nemo_provider.hooks.nemo import NemoHook

    return NemoHook(nemo_conn_id=conn_id)
