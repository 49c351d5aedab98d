"""The at-most-once message rule (operators/_message_once.py) without an operator: a fake client, a
dict store and a fake clock; each test names a transition and asserts the calls and the record."""

from __future__ import annotations

from typing import Any

import pytest

from nemo_provider.client.errors import NemoAuthError, NemoInsufficientCreditsError, NemoStreamError
from nemo_provider.client.models import GeneratedMedia
from nemo_provider.operators._message_once import MessageOnce, NotResending, draft_sha, prompt_sha
from tests.operators.conftest import FakeNemoClient

SID = "1234567890123456789"


class Store:
    """The record across tries, with a history of what was done to it."""

    def __init__(self, record: dict[str, Any] | None = None) -> None:
        self.record = record
        self.history: list[str] = []

    def load(self) -> dict[str, Any] | None:
        return self.record

    def save(self, record: dict[str, Any]) -> None:
        self.history.append("save")
        self.record = {**record, "try_number": 1}

    def clear(self) -> None:
        self.history.append("clear")
        self.record = None


class Clock:
    """time.monotonic and time.sleep in one: sleeping advances the clock, nobody waits."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, msg: str, *args: Any) -> None:
        self.lines.append(msg % args)

    warning = info


def machine(client: FakeNemoClient, store: Store, clock: Clock | None = None, **kw: Any) -> MessageOnce:
    clock = clock or Clock()
    return MessageOnce(client, store, Log(), clock=clock, sleep=clock.sleep, **kw)


def record_of(client: FakeNemoClient, prompt: str = "calm") -> dict[str, Any]:
    """The record a previous try saved before sending ``prompt`` to the session as it is now."""
    state = client.state(SID)
    client.calls.clear()
    return {
        "session_id": SID,
        "prompt_sha": prompt_sha(prompt),
        "media_ids": [m.id for m in state.generated_media],
        "draft_sha": draft_sha(state.draft),
        "credits_before": client.credits_available,
        "try_number": 1,
    }


def test_fresh_records_before_sending_and_reads_state_and_credits_once_each_side() -> None:
    client, store = FakeNemoClient(), Store()
    seen_at_send: list[dict[str, Any] | None] = []

    def send(sid: str, before: Any) -> Any:
        seen_at_send.append(store.record)
        return client.send_message(sid, "calm")

    out = machine(client, store).run(
        "calm", SID, open_session=lambda: pytest.fail("has a session"), send=send
    )
    assert seen_at_send[0] is not None and seen_at_send[0]["prompt_sha"] == prompt_sha("calm")
    assert client.names() == ["state", "credits", "send_message", "state", "credits"]
    assert store.history == ["save", "clear"] and store.record is None
    assert out["credits_spent"] == 10 and [m["id"] for m in out["generated_media"]] == ["m1"]
    assert out["draft_changed"] is True and out["session_id"] == SID


def test_fresh_without_a_session_opens_one_first() -> None:
    client, store = FakeNemoClient(), Store()
    out = machine(client, store).run(
        "calm", None, open_session=lambda: "s-new", send=lambda sid, before: client.send_message(sid, "calm")
    )
    assert out["session_id"] == "s-new"
    assert client.calls[0] == ("state", "s-new")


@pytest.mark.parametrize(
    "refusal", [NemoInsufficientCreditsError("out of credits", code=2001), NemoAuthError("bad", code=1001)]
)
def test_refused_erases_the_record_so_the_retry_sends(refusal: Exception) -> None:
    client, store = FakeNemoClient(), Store()

    def send(sid: str, before: Any) -> Any:
        raise refusal

    with pytest.raises(type(refusal)):
        machine(client, store).run("calm", SID, open_session=str, send=send)
    assert store.history == ["save", "clear"] and store.record is None


@pytest.mark.parametrize("named", [None, "1111111111111111111"], ids=["no-session-id", "another-session"])
def test_a_state_send_message_would_refuse_fails_before_any_record_is_written(named: str | None) -> None:
    """send_message(before=) refuses it with a ValueError, which proves nothing was sent but is no
    refusal of the service: raised after the record, it left the retry recovering a message never sent."""
    client, store = FakeNemoClient(), Store()
    real_state = client.state
    client.state = lambda sid: real_state(sid).model_copy(update={"session_id": named})  # type: ignore[method-assign]
    with pytest.raises(ValueError, match=f"not of session {SID}"):
        machine(client, store).run("calm", SID, open_session=str, send=lambda sid, b: pytest.fail("sent"))
    assert store.history == [] and store.record is None
    assert client.names() == ["state"]


def test_a_broken_stream_keeps_the_record() -> None:
    client, store = FakeNemoClient(), Store()

    def send(sid: str, before: Any) -> Any:
        raise NemoStreamError("stream broke")

    with pytest.raises(NemoStreamError):
        machine(client, store).run("calm", SID, open_session=str, send=send)
    assert store.history == ["save"] and store.record is not None


def test_recover_returns_the_visible_effect_without_sending() -> None:
    client = FakeNemoClient()
    store = Store(record_of(client))
    client.media.append(GeneratedMedia(id="m-accepted", kind="music"))
    client.credits_available -= 10
    out = machine(client, store).run(
        "calm", SID, open_session=str, send=lambda sid, before: pytest.fail("re-sent")
    )
    assert [m["id"] for m in out["generated_media"]] == ["m-accepted"]
    assert out["credits_spent"] == 10 and out["texts"] == []
    assert client.names() == ["state", "credits"], "the read that showed the effect is the result's"
    assert store.record is None


def test_recover_watches_every_poll_interval_until_the_effect_shows() -> None:
    client, clock = FakeNemoClient(), Clock()
    store = Store(record_of(client))
    real_state = client.state

    def state(session_id: str) -> Any:
        if client.names().count("state") == 2:  # the agent finishes between the 2nd and 3rd read
            client.media.append(GeneratedMedia(id="m-late", kind="music"))
        return real_state(session_id)

    client.state = state  # type: ignore[method-assign]
    out = machine(client, store, clock, settle_timeout=60, poll_interval=5).run(
        "calm", SID, open_session=str, send=lambda sid, before: pytest.fail("re-sent")
    )
    assert [m["id"] for m in out["generated_media"]] == ["m-late"]
    assert clock.slept == [5, 5] and client.names().count("state") == 3


def test_recover_without_effect_fails_at_the_settle_timeout_and_keeps_the_record() -> None:
    client, clock = FakeNemoClient(), Clock()
    store = Store(record_of(client))
    with pytest.raises(NotResending, match="no change after 12s"):
        machine(client, store, clock, settle_timeout=12, poll_interval=5).run(
            "calm", SID, open_session=str, send=lambda sid, before: pytest.fail("re-sent")
        )
    assert clock.slept == [5, 5, 2], "never sleeps past the deadline"
    assert store.record is not None and "send_message" not in client.names()


def test_recover_without_effect_resends_when_asked() -> None:
    client = FakeNemoClient()
    store = Store(record_of(client))
    out = machine(client, store, settle_timeout=0, resend_unconfirmed=True).run(
        "calm", SID, open_session=str, send=lambda sid, before: client.send_message(sid, "calm")
    )
    assert client.names().count("send_message") == 1 and out["credits_spent"] == 10
    assert store.history == ["save", "clear"]


def test_a_record_for_another_prompt_is_ignored() -> None:
    client = FakeNemoClient()
    store = Store(record_of(client, prompt="something else"))
    machine(client, store).run(
        "calm", SID, open_session=str, send=lambda sid, before: client.send_message(sid, "calm")
    )
    assert client.names() == ["state", "credits", "send_message", "state", "credits"]


def test_an_unreadable_balance_leaves_credits_spent_empty() -> None:
    client, store = FakeNemoClient(), Store()

    def no_credits() -> Any:
        raise NemoAuthError("credits need a named token", code=1001)

    client.credits = no_credits  # type: ignore[method-assign]
    out = machine(client, store).run(
        "calm", SID, open_session=str, send=lambda sid, before: client.send_message(sid, "calm")
    )
    assert out["credits_spent"] is None and [m["id"] for m in out["generated_media"]] == ["m1"]
