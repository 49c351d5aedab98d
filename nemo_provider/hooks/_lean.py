"""Route the triggers' status polls onto the process's shared aiohttp pool when there is one.

The poll itself is the client's public ``nemo_provider.client.polling.poll_render_status``; this module
only knows where the pool lives (``_pool``, Airflow side) and falls back to the client's own method when
no pool has been built for the client's base URL on this loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nemo_provider.client import AsyncNemoClient
    from nemo_provider.client.models import RenderStatus


async def lean_render_status(client: AsyncNemoClient, render_id: str) -> RenderStatus:
    """``client.render_status(render_id)``, performed on the shared aiohttp pool when possible."""
    from nemo_provider.hooks._pool import shared_aiohttp_session

    base_url = getattr(client, "base_url", None)
    session = shared_aiohttp_session(base_url) if base_url else None
    if session is None:
        return await client.render_status(render_id)
    from nemo_provider.client.polling import poll_render_status

    return await poll_render_status(client, session, render_id)
