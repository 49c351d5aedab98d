"""What the routers share: settings, the store, the composer pool and the render worker, on app.state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import Request

from nemo_local.config import ServerConfig
from nemo_local.quota import InFlight
from nemo_local.store import Store

if TYPE_CHECKING:
    from nemo_local.agent.composing import ComposeRunner
    from nemo_local.agent.slots import UserSlots
    from nemo_local.worker import RenderWorker


@dataclass
class AppState:
    config: ServerConfig
    store: Store
    composer: ComposeRunner
    renders: RenderWorker
    slots: UserSlots
    uploads_in_flight: InFlight = field(default_factory=InFlight)  # one quota for parallel uploads


async def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.nemo
    return state


def base_url(request: Request) -> str:
    """The URL the client reached us by; media URLs are built on it so they work from where it stands."""
    return str(request.base_url).rstrip("/")


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"
