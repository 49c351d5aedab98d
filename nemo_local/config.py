"""Server settings and the fault-injection switches, shared by the CLI, the API and the workers."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, Field

from nemo_local.limits import Limits

GENERATE_COST = 10
EDIT_COST = 2
ANONYMOUS_CREDITS = 100
ANONYMOUS_TTL_S = 7 * 24 * 3600


class FaultSwitches(BaseModel):
    """Misbehaviours a provider must survive; all off by default, flipped by CLI flags or /admin/faults."""

    burst_429: int = Field(default=0, ge=0, description="the next N API requests answer 429 (Retry-After: 1)")
    error_rate: float = Field(
        default=0.0, ge=0.0, le=1.0, description="share of API requests answered with 503"
    )
    slow_ms: int = Field(default=0, ge=0, description="delay added before every API request, in ms")
    sse_cut_after: int = Field(default=0, ge=0, description="abort /run_sse streams after N events (0 = off)")
    render_fail: bool = Field(default=False, description="render jobs fail with an injected reason")
    render_stuck: bool = Field(
        default=False, description="render jobs stay 'processing' until cancelled or switched off"
    )
    errors_in_200: bool = Field(
        default=False, description="answer coded errors with HTTP 200 + the envelope code"
    )
    render_shape_b: bool = Field(
        default=False, description="render polls answer the older {success, data} shape"
    )


class FaultUpdate(BaseModel):
    """Partial update accepted by POST /admin/faults: any switch (omitted ones keep their value)."""

    burst_429: int | None = Field(default=None, ge=0)
    error_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    slow_ms: int | None = Field(default=None, ge=0)
    sse_cut_after: int | None = Field(default=None, ge=0)
    render_fail: bool | None = None
    render_stuck: bool | None = None
    errors_in_200: bool | None = None
    render_shape_b: bool | None = None
    expire_tokens_now: bool = False
    lose_sessions_now: bool = False


@dataclass
class ServerConfig:
    """Everything `nemo-local serve` was started with."""

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8765
    admin_token: str | None = None
    allow_private_urls: bool = False
    anon_ip_limit: int = 1000
    anon_ip_window_s: float = 3600.0
    silent_edit_share: float = 0.3
    keepalive_s: float = 5.0
    render_workers: int = 1
    compose_workers: int = 2
    limits: Limits = field(default_factory=Limits.from_env)
    faults: FaultSwitches = field(default_factory=lambda: FaultSwitches())
    fault_lock: threading.Lock = field(default_factory=threading.Lock)
