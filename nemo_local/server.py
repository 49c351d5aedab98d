"""Running uvicorn on a socket we bind ourselves, so `--port 0` can print the real port once the server
accepts connections; SIGTERM/SIGINT shut it down gracefully (uvicorn's own handlers)."""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
from collections.abc import Iterator

import uvicorn

from nemo_local.agent.turn import StreamCut
from nemo_local.api.app import create_app
from nemo_local.api.guard import header_deadline_protocol
from nemo_local.config import ServerConfig
from nemo_local.media import fonts

GRACEFUL_S = 3


class _AnnouncingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, url: str) -> None:
        super().__init__(config)
        self._url = url

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Like uvicorn's, but a SIGTERM that led to a graceful shutdown ends the process with status 0
        instead of being re-raised, so supervisors and tests can tell a clean stop from a crash."""
        with super().capture_signals():
            yield
            self._captured_signals.clear()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            print(f"nemo-local listening on {self._url}", flush=True)


class BindError(RuntimeError):
    """The address can't be listened on; the message says what to change."""


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        hint = "pick another --port (0 = any free port)" if port else "check --host"
        raise BindError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; {hint}") from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class _QuietInjectedCuts(logging.Filter):
    """An injected SSE cut is the point of the fault switch, not a server error worth a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        while exc is not None:
            if isinstance(exc, StreamCut):
                return False
            exc = exc.__cause__ or exc.__context__
        return True


def serve(config: ServerConfig) -> int:
    """Exit status 2 (and one line on stderr) when the address is taken, instead of a traceback."""
    try:
        sock = _bind(config.host, config.port)
    except BindError as exc:
        print(f"nemo-local: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    # Background threads (render worker, process-pool feeders) must not hold the GIL for the default 5 ms
    # slices while the event loop has first SSE events to send.
    sys.setswitchinterval(0.001)
    logging.getLogger("uvicorn.error").addFilter(_QuietInjectedCuts())
    fonts.report_missing_cjk_font()  # once, at start-up: Chinese titles need a CJK font
    port = sock.getsockname()[1]
    config.port = port
    host = f"[{config.host}]" if ":" in config.host else config.host
    app = create_app(config)
    uv_config = uvicorn.Config(
        app,
        http=header_deadline_protocol(config.limits),  # uvicorn has no deadline on request headers
        log_level="warning",
        timeout_graceful_shutdown=GRACEFUL_S,
        lifespan="on",
        access_log=False,
    )
    server = _AnnouncingServer(uv_config, f"http://{host}:{port}")
    server.run(sockets=[sock])
    return 0
