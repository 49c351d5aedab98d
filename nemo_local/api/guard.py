"""Request bodies are bounded while they stream in, never after being read: a declared Content-Length
over the limit is refused before a byte is read, and a body that grows past it (chunked, or lying about
its length) is cut off at the limit. The limit is `--max-body-mb` for JSON bodies; a multipart upload
may carry `--max-upload-files` files of `--max-upload-mb` each (the upload code checks each file); a
`/run_sse` body may be a few times the message limit (JSON escapes) and no more, since FastAPI parses
and validates it on the event loop: capped, that costs milliseconds, not seconds.

A body must also keep coming: every `--body-idle-seconds` it brings BODY_PROGRESS_BYTES (or its end), or
it is cut off with 408 and the connection closed. Without that, a client that sent the headers and then
nothing (or a byte now and then) held its connection, its open upload file and its quota for ever.

Below the app, `header_deadline_protocol` is uvicorn's HTTP protocol with what it lacks: request headers
capped at limits.HEADER_BYTES (431), a deadline for them (408), and its 400 for an unparsable request
in the envelope."""

from __future__ import annotations

import asyncio

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nemo_local.api.envelope import error_bytes, send_error
from nemo_local.limits import (
    BODY_PROGRESS_BYTES,
    HEADER_BYTES,
    MB,
    PIPELINED_REQUESTS,
    LimitExceeded,
    Limits,
    connection_cap,
)

MULTIPART_OVERHEAD = 1 * MB  # part headers and boundaries around the files
SSE_BODY_FACTOR = 8  # "\u4e5d" is 6 bytes of JSON for 3 bytes of UTF-8; parts have keys around them
SSE_BODY_OVERHEAD = 64 * 1024
BODY_TIMEOUT_CODE = 408  # Request Timeout: the client's own slowness, not the server's
LINGER_S = 0.5  # after a 431, how long the client has to read it before the connection closes
CLOSE = ((b"connection", b"close"),)  # a refusal before the body was read: the rest of it never will be


class BodyTooLarge(HTTPException):
    """Raised from `receive` when the body crossed its limit. An HTTPException on purpose: FastAPI's body
    reader re-raises those instead of turning them into a generic 400, so the envelope handler sees it."""

    def __init__(self, error: LimitExceeded) -> None:
        super().__init__(status_code=413, detail=str(error))
        self.error = error


class BodyStalled(HTTPException):
    """Raised from `receive` when the body stopped coming (or only drips); the answer closes the
    connection, since the rest of the body will not be read."""

    def __init__(self, error: LimitExceeded) -> None:
        super().__init__(status_code=BODY_TIMEOUT_CODE, detail=str(error), headers={"Connection": "close"})
        self.error = error


def stalled(limits: Limits, received: int) -> LimitExceeded:
    return LimitExceeded(
        "body_idle_seconds",
        "body",
        received,
        limits,
        f"The request body stopped coming: less than {BODY_PROGRESS_BYTES // 1024} KB arrived in "
        f"{limits.shown('body_idle_seconds')} ({received} bytes received in all); send it at a steady pace",
        code=BODY_TIMEOUT_CODE,
    )


def body_limit(limits: Limits, content_type: str, path: str = "") -> tuple[int, str]:
    """(bytes, limit name) a request with this content type to this path may send."""
    if content_type.lower().startswith("multipart/"):
        return limits.upload_files * limits.upload_file_bytes + MULTIPART_OVERHEAD, "upload_file_bytes"
    if path == "/run_sse":
        sse = SSE_BODY_FACTOR * limits.message_bytes + SSE_BODY_OVERHEAD
        if sse < limits.body_bytes:
            return sse, "message_bytes"
    return limits.body_bytes, "body_bytes"


def too_large(limits: Limits, name: str, size: int | None, allowed: int) -> LimitExceeded:
    shown = f"{allowed / MB:g} MB" if allowed >= MB else f"{allowed / 1024:g} KB"
    said = f"{size} bytes" if size is not None else "more"
    return LimitExceeded(
        name,
        "body",
        size,
        limits,
        f"The request body is too large ({said}; this request may send at most {shown})",
        code=413,
    )


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        config = scope["app"].state.nemo.config
        limits: Limits = config.limits
        in_200 = bool(config.faults.errors_in_200)  # the fault switch: coded errors answer HTTP 200
        headers = dict(scope.get("headers") or [])
        ctype = headers.get(b"content-type", b"").decode("latin-1")
        allowed, name = body_limit(limits, ctype, scope.get("path", ""))
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                payload = error_bytes(400, "Invalid Content-Length header")
                await send_error(send, 200 if in_200 else 400, payload, CLOSE)
                return
            if size > allowed:
                error = too_large(limits, name, size, allowed)
                payload = error_bytes(error.code, str(error), error.data)
                await send_error(send, 200 if in_200 else 413, payload, CLOSE)
                return
        seen = 0
        ended = False  # the whole body arrived: later receives wait for a disconnect, unbounded
        deadline = IdleDeadline(limits.body_idle_seconds)

        async def limited() -> Message:
            nonlocal seen, ended
            if ended:
                return await receive()
            message = await deadline.wait(receive)
            if message is None:
                raise BodyStalled(stalled(limits, seen))
            if message["type"] == "http.request":
                size = len(message.get("body", b""))
                seen += size
                if seen > allowed:
                    deadline.close()
                    raise BodyTooLarge(too_large(limits, name, None, allowed))
                ended = not message.get("more_body", False)
                deadline.progress(size)
            else:
                ended = True  # http.disconnect
            if ended:
                deadline.close()
            return message

        try:
            await self.app(scope, limited, send)
        finally:
            deadline.close()


class IdleDeadline:
    """The body's idle rule: the time spent waiting in `receive()` (the client's slowness only, not the
    app's own work between two reads) may reach `idle` seconds before BODY_PROGRESS_BYTES have come.

    One timer for the whole body, re-armed lazily: a read records when it began waiting, a chunk of
    progress only zeroes the counters, and the timer, when it fires, works out from them whether the
    waiting read is over the limit (it then cancels it) or when to look again (no read waiting: the next
    read arms it). A 1 GB upload in 16 KB chunks costs a timer every `idle` seconds, not a task per chunk
    (asyncio.wait_for's, before: 65,536 tasks, ~10x the time per chunk)."""

    EPSILON_S = 1e-3  # a timer may fire this early (the loop's clock resolution) and still count

    def __init__(self, idle: float) -> None:
        self.idle = idle
        self.waited = 0.0  # time waited in this interval by reads that returned
        self.window_bytes = 0
        self.began: float | None = None  # when the read now waiting began
        self.task: asyncio.Task[object] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.expired = False
        self.loop = asyncio.get_running_loop()

    async def wait(self, receive: Receive) -> Message | None:
        """`receive()`, or None when this read took the interval over its limit."""
        now = self.loop.time()
        if self.waited >= self.idle - self.EPSILON_S:
            return None
        self.task = asyncio.current_task()
        assert self.task is not None
        cancelling = self.task.cancelling()
        self.began = now
        if self.timer is None:
            self.timer = self.loop.call_at(now + self.idle - self.waited, self._check)
        try:
            message = await receive()
        except asyncio.CancelledError:
            if self.expired and self.task.uncancel() <= cancelling:
                return None  # our cancel (a cancel from elsewhere as well re-raises)
            raise
        finally:
            self.waited += self.loop.time() - now
            self.began = None
        return message

    def progress(self, size: int) -> None:
        self.window_bytes += size
        if self.window_bytes >= BODY_PROGRESS_BYTES:  # progress: a new interval begins
            self.waited, self.window_bytes = 0.0, 0

    def _check(self) -> None:
        self.timer = None
        if self.began is None or self.task is None:
            return  # no read is waiting (the app is at work): the next read arms the timer again
        now = self.loop.time()
        left = self.idle - (self.waited + now - self.began)
        if left <= self.EPSILON_S:
            self.expired = True
            self.task.cancel()
            return
        self.timer = self.loop.call_at(now + left, self._check)

    def close(self) -> None:
        """The body ended (or was refused): no more deadline."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


def headers_late(limits: Limits) -> LimitExceeded:
    return LimitExceeded(
        "body_idle_seconds",
        "headers",
        None,
        limits,
        f"The request headers did not arrive within {limits.shown('body_idle_seconds')}; "
        "the connection was closed",
        code=BODY_TIMEOUT_CODE,
    )


def _raw_answer(status: bytes, payload: bytes) -> bytes:
    """A whole HTTP/1.1 response (an `error_bytes` payload) that closes the connection, for answers
    written below the ASGI app."""
    return (
        b"HTTP/1.1 %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%s"
        % (status, len(payload), payload)
    )


def header_deadline_protocol(limits: Limits) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools, else h11), its 400 for an unparsable request in the envelope,
    a cap on connections held (limits.connection_cap of the open-file limit: 503), a cap on header bytes
    (HEADER_BYTES: httptools has none; pipelined requests' headers and a chunked body's trailers too), a
    cap on requests pipelined behind the one being answered (PIPELINED_REQUESTS: 503), and a deadline on
    request headers, which uvicorn does not have: a connection that opened, or began its next request,
    and has not completed the headers after a whole `body_idle_seconds` interval is answered 408 and
    closed. (uvicorn's own keep-alive timeout still closes a connection idle after a response.) Without
    it, a client sending half a request line and then nothing kept its connection for ever (slowloris)."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    interval = limits.body_idle_seconds
    late = headers_late(limits)
    too_late = _raw_answer(b"408 Request Timeout", error_bytes(late.code, str(late), late.data))
    too_many_header_bytes = _raw_answer(
        b"431 Request Header Fields Too Large",
        error_bytes(
            431,
            "The request line and headers (or a chunked body's trailers) are over "
            f"{HEADER_BYTES // 1024} KB; send less in them",
            {"field": "headers", "limit": HEADER_BYTES, "value": None, "switch": None},
        ),
    )

    import resource

    cap = connection_cap(resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    too_many = _raw_answer(
        b"503 Service Unavailable",
        error_bytes(
            503,
            f"The server holds as many connections as it can ({cap}); retry in a moment",
            {"field": "connections", "limit": cap, "value": None, "switch": None},
        ),
    )

    too_many_pipelined = _raw_answer(
        b"503 Service Unavailable",
        error_bytes(
            503,
            f"Too many pipelined requests on one connection (more than {PIPELINED_REQUESTS} queued "
            "behind the one being answered); the queued ones were dropped: wait for each response, or "
            "use more connections",
            {"field": "pipelined requests", "limit": PIPELINED_REQUESTS, "value": None, "switch": None},
        ),
    )

    class HeaderDeadline(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
        _deadline: asyncio.TimerHandle | None = None
        _last: tuple[object, bool] | None = None  # (cycle, waiting) at the previous check
        _after: object = None  # the cycle (answered, or its body all read) the next request came after
        _waiting_bytes = 0  # bytes received since that response ended (a next request's headers)
        _tail = b""  # the last bytes of them, to find a header end split across two chunks
        _refused = False  # a 431 or a 503 is written (or will be, after the response in progress)
        _last_word: bytes | None = None  # that answer, while an earlier response is still being sent
        _chunk_open = False  # a body chunk's header was parsed, none of its data yet (after `0`: trailers)
        _trailer_bytes = 0  # bytes read since, that brought no data: a chunked body's trailers

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            if len(self.connections) > cap:  # refused at once: its file descriptor is free again
                self.transport.write(too_many)
                self.transport.close()
                return
            self._deadline = self.loop.call_later(interval, self._check)

        def data_received(self, data: bytes) -> None:
            if self._refused:
                return  # reading is paused; what was read already is not parsed
            cycle = self.cycle
            # these bytes begin a request, its headers: after a response, or pipelined behind a request
            # whose body is all read (uncounted, a pipelined request's headers grew without a bound)
            if cycle is None or cycle.response_complete or not getattr(cycle, "more_body", True):
                if self._after is not cycle:
                    self._after, self._waiting_bytes, self._tail = cycle, 0, b""
                window = self._tail + data
                end = window.find(b"\r\n\r\n")  # the headers' end (perhaps split across chunks)
                self._waiting_bytes += len(data) if end < 0 else max(0, end + 4 - len(self._tail))
                self._tail = window[-3:]
                if self._waiting_bytes > HEADER_BYTES:
                    self._refuse(too_many_header_bytes)
                    return
            trailing = self._chunk_open
            super().data_received(data)
            if trailing and self._chunk_open:  # no data came: these bytes were trailers (headers too)
                self._trailer_bytes += len(data)
                if self._trailer_bytes > HEADER_BYTES:  # unbounded: 200 MB grew the server by 212 MB
                    self._refuse(too_many_header_bytes)
                    return
            pipeline = getattr(self, "pipeline", None)  # httptools' queue (h11 parses one at a time)
            if pipeline is not None and len(pipeline) > PIPELINED_REQUESTS:
                self._refuse(too_many_pipelined)

        # httptools' chunk callbacks (it calls them when the protocol has them): after the last chunk's
        # header (size 0) come the trailers, which httptools and uvicorn keep like headers
        def on_chunk_header(self) -> None:
            self._chunk_open, self._trailer_bytes = True, 0

        def on_chunk_complete(self) -> None:
            self._chunk_open = False

        def on_body(self, body: bytes) -> None:
            self._chunk_open = False
            super().on_body(body)

        def on_message_begin(self) -> None:
            self._chunk_open = False
            super().on_message_begin()

        def _refuse(self, answer: bytes) -> None:
            """Read no more, drop the pipelined requests not started, and answer: now, or once the
            response being sent is complete (written in its middle, the answer would corrupt it)."""
            if self._refused or self.transport.is_closing():
                return
            self._refused = True
            self.transport.pause_reading()
            pipeline = getattr(self, "pipeline", None)
            queued = bool(pipeline)  # then self.cycle waits behind a response in progress
            if pipeline is not None:
                pipeline.clear()  # never started: dropped
            cycle = self.cycle  # the request being answered, or one queued behind it
            if cycle is None or cycle.response_complete:
                self._say(answer)
            elif not queued and not cycle.response_started:  # its app is still reading it: it stops
                cycle.disconnected = True
                cycle.message_event.set()
                self._say(answer)
            else:
                self._last_word = answer

        def _say(self, answer: bytes) -> None:
            self.transport.write(answer)
            # close a moment later: closing with unread bytes resets the connection at once, often
            # before the client has read the answer
            self.loop.call_later(LINGER_S, self.transport.close)

        def on_response_complete(self) -> None:
            if not self._refused:
                super().on_response_complete()
                return
            self.server_state.total_requests += 1
            answer, self._last_word = self._last_word, None
            if answer is not None and not self.transport.is_closing():
                self._say(answer)

        def connection_lost(self, exc: Exception | None) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            super().connection_lost(exc)

        def send_400_response(self, msg: str) -> None:
            """uvicorn answers a request it cannot parse in text/plain; this answers in the envelope."""
            message = (
                f"The request is not valid HTTP/1.1 ({msg.rstrip('.')}): check its request line, header "
                "names and values, Content-Length and Transfer-Encoding"
            )
            self.transport.write(_raw_answer(b"400 Bad Request", error_bytes(400, message)))
            self.transport.close()

        def _check(self) -> None:
            if self.transport.is_closing():
                return
            cycle = self.cycle
            waiting = cycle is None or cycle.response_complete
            begun = cycle is None or (self._after is cycle and self._waiting_bytes > 0)
            # no headers completed over a whole interval, on a fresh connection or with a next request
            # begun (a connection idle after its response is uvicorn's keep-alive's to close)
            stuck = waiting and begun and self._last == (cycle, True)
            if stuck:
                self.transport.write(too_late)
                self.transport.close()
                return
            self._last = (cycle, waiting)
            self._deadline = self.loop.call_later(interval, self._check)

    return HeaderDeadline
