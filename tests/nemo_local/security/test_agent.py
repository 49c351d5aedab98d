"""One message can no longer freeze the server: messages over 16 KB are refused before any work, the
worst messages under the limit are understood in bounded time off the event loop (/healthz stays
prompt meanwhile), and one user cannot have more than `--max-generations-per-user` messages at work."""

from __future__ import annotations

import statistics
import threading
import time

import httpx

from tests.nemo_local.conftest import User
from tests.nemo_local.security.conftest import Client, envelope

LIMIT = 16 * 1024
# Each of these took seconds to minutes before the rules were made linear (the first: ~24 s at 60 KB).
WORST = [
    "make " * (LIMIT // 5),
    "1" * LIMIT,
    "1 " * (LIMIT // 2),
    "change the length of " * (LIMIT // 21),
    "title " + " " * (LIMIT - 7) + "x",
    "“" * (LIMIT // 3),
    "九" * (LIMIT // 3),
    "fit " * (LIMIT // 4),
]


def _sse_body(sid: str, text: str) -> dict[str, object]:
    return {"session_id": sid, "new_message": {"parts": [{"text": text}]}, "streaming": False}


def test_a_message_over_the_limit_is_refused_before_any_work(strict: Client) -> None:
    user = strict.user()
    sid = user.new_session()
    before = user.credits()
    text = "generate a calm track " + "make " * 12000  # 60 KB: the message that froze the server
    started = time.monotonic()
    resp = user.post("/run_sse", json=_sse_body(sid, text))
    assert time.monotonic() - started < 5
    body = envelope(resp, 422)
    assert body["data"]["field"] == "new_message.parts[].text" and body["data"]["limit"] == LIMIT
    assert "16 KB" in body["message"] and "--max-message-kb" in body["message"]
    assert user.credits() == before
    assert user.state(sid)["state"]["draft"] is None


def _health_latencies(
    base_url: str, stop: threading.Event, out: list[float], errors: list[BaseException]
) -> None:
    try:
        with httpx.Client(base_url=base_url, timeout=10) as http:
            while not stop.is_set():
                started = time.perf_counter()
                status = http.get("/healthz").status_code
                out.append(time.perf_counter() - started)
                if status != 200:
                    raise AssertionError(f"/healthz answered {status}")
                time.sleep(0.01)
    except BaseException as exc:  # reported in the test's thread
        errors.append(exc)


def test_worst_messages_are_bounded_and_healthz_stays_prompt(strict: Client) -> None:
    users = [strict.user() for _ in WORST]
    sessions = [u.new_session() for u in users]
    latencies: list[float] = []
    errors: list[BaseException] = []
    stop = threading.Event()
    watcher = threading.Thread(
        target=_health_latencies, args=(strict.server.base_url, stop, latencies, errors)
    )
    watcher.start()
    took: list[float] = []

    def send(user: User, sid: str, text: str) -> None:
        try:
            started = time.monotonic()
            stream = user.say(sid, text)
            took.append(time.monotonic() - started)
            assert stream.status == 200 and stream.texts, stream.body[:300]
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    started = time.monotonic()
    rounds = 0
    try:
        # all the worst messages at once, round after round, for two seconds at least
        while rounds < 2 or time.monotonic() - started < 2.0:
            rounds += 1
            threads = [
                threading.Thread(target=send, args=a) for a in zip(users, sessions, WORST, strict=True)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
    finally:
        stop.set()
        watcher.join(10)
    assert not errors, errors[0]
    assert len(took) == rounds * len(WORST) and max(took) < 10, took
    assert len(latencies) >= 20
    # the contract is < 100 ms; on a shared 2-core CI machine single samples can be preempted, so the
    # bound is on the typical sample, with a generous ceiling for the worst one
    assert statistics.median(latencies) < 0.1, sorted(latencies)[-5:]
    assert max(latencies) < 1.0, sorted(latencies)[-5:]


def test_one_user_cannot_run_more_messages_than_the_limit(strict: Client) -> None:
    user, other = strict.user(), strict.user()
    sid, other_sid = user.new_session(), other.new_session()
    with user.http.stream(
        "POST",
        "/run_sse",
        json=_sse_body(sid, "generate a calm piano track, 120-second"),
        headers={**user.headers, "Accept": "text/event-stream"},
        timeout=120,
    ) as first:
        assert first.status_code == 200
        second = user.post("/run_sse", json=_sse_body(sid, "generate an upbeat pop track, 5-second"))
        body = envelope(second, 429)
        assert body["data"]["field"] == "generations_per_user" and body["data"]["limit"] == 1
        assert int(second.headers["retry-after"]) > 0
        assert user.credits()["frozen"] == 10  # only the first message holds credits
        # another user is not blocked by this one
        assert other.say(other_sid, "hello").status == 200
        raw = "".join(first.iter_text())
    assert "functionResponse" in raw
    assert user.credits() == {"available": 90, "frozen": 0, "total": 90}
    # the slot is free again
    assert user.say(sid, "make it calmer").status == 200


def test_a_huge_sse_body_is_refused_before_it_is_parsed(strict: Client) -> None:
    """FastAPI parses a /run_sse body on the event loop (10 MB of tiny parts took seconds): the body is
    capped at a few times the message limit, and the number of parts is bounded."""
    user = strict.user()
    sid = user.new_session()
    tiny = [{"text": "a"}] * 100_000
    started = time.monotonic()
    resp = user.post("/run_sse", json={"session_id": sid, "new_message": {"parts": tiny}})
    assert time.monotonic() - started < 5
    body = envelope(resp, 413)
    assert body["data"]["field"] == "body" and body["data"]["switch"] == "--max-message-kb"
    many = user.post("/run_sse", json={"session_id": sid, "new_message": {"parts": [{"text": "a"}] * 65}})
    assert "new_message.parts" in envelope(many, 422)["message"]
    assert user.credits() == {"available": 100, "frozen": 0, "total": 100}
