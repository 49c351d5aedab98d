"""The FastAPI application: routers, error handlers, the fault middleware, and the lifespan that opens
the store, warms the composer pool and starts (and recovers) the render worker."""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from nemo_local import __version__
from nemo_local.agent.composing import ComposeRunner
from nemo_local.agent.slots import UserSlots
from nemo_local.api import auth, credits, files, health, render, session_state, sse, tasks, uploads
from nemo_local.api.errors import (
    ApiError,
    api_error_handler,
    client_gone_handler,
    http_exception_handler,
    invalid_id_handler,
    limit_handler,
    unexpected_handler,
    unicode_handler,
    validation_handler,
)
from nemo_local.api.faults import FaultMiddleware
from nemo_local.api.faults import router as admin_router
from nemo_local.api.guard import BodyLimitMiddleware
from nemo_local.api.state import AppState
from nemo_local.config import ServerConfig
from nemo_local.limits import LimitExceeded
from nemo_local.store import Store
from nemo_local.store.paths import InvalidId
from nemo_local.store.sweep import sweep_orphans
from nemo_local.worker import RenderWorker

log = logging.getLogger("nemo_local")


def create_app(config: ServerConfig) -> FastAPI:
    store = Store(config.data_dir, config.limits)
    released = store.credits.release_all_held()
    sweep_orphans(store.data_dir, store.db)  # before serving: no upload or composition is running yet
    composer = ComposeRunner(config.compose_workers)
    worker = RenderWorker(store, config)
    state = AppState(
        config=config, store=store, composer=composer, renders=worker, slots=UserSlots(config.limits)
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resumed, failed = worker.start()
        if released or resumed or failed:
            log.info(
                "recovered: %d credit holds released, renders resumed %s, failed %s",
                released,
                resumed,
                failed,
            )
        composer.warm_up()
        # This process only parses prompts (workers compose): load the parser now, off the event loop,
        # so the first message doesn't pay for it.
        threading.Thread(
            target=importlib.import_module, args=("nemo_local.composer.prompt",), daemon=True
        ).start()
        try:
            yield
        finally:
            worker.stop()
            composer.shutdown()
            store.close()

    # httpx logs every request URL at INFO; URL uploads log their own line without the query string
    logging.getLogger("httpx").setLevel(logging.WARNING)
    app = FastAPI(
        title="nemo_local",
        version=__version__,
        description="An offline, API-compatible Nemo agent server (see docs/api-contract.md).",
        lifespan=lifespan,
    )
    app.state.nemo = state
    app.add_exception_handler(ApiError, api_error_handler)
    app.add_exception_handler(RequestValidationError, validation_handler)
    app.add_exception_handler(StarletteHTTPException, http_exception_handler)
    app.add_exception_handler(LimitExceeded, limit_handler)
    app.add_exception_handler(InvalidId, invalid_id_handler)
    app.add_exception_handler(UnicodeEncodeError, unicode_handler)
    app.add_exception_handler(ClientDisconnect, client_gone_handler)
    app.add_exception_handler(Exception, unexpected_handler)
    app.add_middleware(FaultMiddleware)
    app.add_middleware(BodyLimitMiddleware)  # outermost: a body is bounded before anything reads it
    for module in (health, auth, tasks, sse, uploads, credits, session_state, render, files):
        app.include_router(module.router)
    app.include_router(admin_router)
    return app
