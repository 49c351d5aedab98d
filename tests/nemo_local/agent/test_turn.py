"""A turn's failure paths, in process: a failing composer gives an ADK tool error and returns the
credits; a failure outside the tool gives the `{"error": ...}` frame; the work outlives the stream."""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from nemo_local.agent import drafts
from nemo_local.agent import turn as agent_turn
from nemo_local.agent.understand import TITLE_CHARS
from nemo_local.limits import Limits
from nemo_local.limits import replace as limits_replace
from nemo_local.store import Store


class FailingComposer:
    """Fails after writing part of the track, as a crash in the middle of an export would."""

    async def compose(self, plan: dict[str, Any], out_dir: Path, stem: str) -> dict[str, Any]:
        await asyncio.to_thread(out_dir.mkdir, parents=True)
        await asyncio.to_thread((out_dir / f"{stem}.wav").write_bytes, b"RIFF")
        raise RuntimeError("synth exploded")


def _deps(store: Store, composer: Any) -> agent_turn.TurnDeps:
    return agent_turn.TurnDeps(
        store=store, composer=composer, keepalive_s=0.05, silent_share=0.0, sse_cut_after=lambda: 0
    )


async def _collect(turn: agent_turn.Turn) -> list[dict[str, Any]]:
    out = []
    async for frame in agent_turn.stream(turn):
        if frame.startswith(b"data: "):
            out.append(json.loads(frame[6:]))
    return out


@pytest.mark.asyncio
async def test_failing_composer_is_a_tool_error_and_credits_come_back(tmp_path: Path) -> None:
    store = Store(tmp_path)
    user = store.tokens.anonymous("c", "ip", 3600, 100).user_id
    session = store.sessions.create(user, "p", "en")
    turn = await agent_turn.prepare(
        _deps(store, FailingComposer()), session, user, "generate a calm track, 4-second", "http://h", False
    )
    assert store.credits.balance(user).frozen == 10
    events = await _collect(turn)
    (error,) = [e for e in events if "errorCode" in e]
    assert "content" not in error and "synth exploded" in error["errorMessage"]
    assert "credits were returned" in events[-1]["content"]["parts"][0]["text"]
    assert store.credits.balance(user).available == 100 and store.credits.balance(user).frozen == 0
    assert store.sessions.latest_draft(session.id) == (0, None)
    assert list(store.dir("media").iterdir()) == []  # the half-written track is gone


@pytest.mark.asyncio
async def test_failure_outside_the_tool_is_an_error_frame(tmp_path: Path) -> None:
    store = Store(tmp_path)
    user = store.tokens.anonymous("c", "ip", 3600, 100).user_id
    session = store.sessions.create(user, "p", "en")
    store.sessions.save_draft(session.id, {"t": [], "d": 0, "m": {}}, "seed")
    turn = await agent_turn.prepare(
        _deps(store, FailingComposer()), session, user, "add a title 'Hi' for 2 seconds", "http://h", False
    )

    def broken(*_: Any) -> int:
        raise OSError("disk full")

    store.sessions.update_draft = broken  # type: ignore[method-assign]  # the turn saves through it
    frames = [f async for f in agent_turn.stream(turn)]
    last = json.loads(frames[-1][6:])
    assert last == {"error": "internal error: OSError", "error_details": {"tool": "edit_timeline"}}
    assert store.credits.balance(user).available == 100


@pytest.mark.asyncio
async def test_a_title_is_cut_to_the_servers_text_limit(tmp_path: Path) -> None:
    store = Store(tmp_path)
    user = store.tokens.anonymous("c", "ip", 3600, 100).user_id
    session = store.sessions.create(user, "p", "en")
    text = 'add a title "' + "Urban Dreams at night " * 20 + '"'
    deps = replace(_deps(store, FailingComposer()), limits=limits_replace(Limits(), text_chars=12))
    narrow = await agent_turn.prepare(deps, session, user, text, "http://h", False)
    wide = await agent_turn.prepare(_deps(store, FailingComposer()), session, user, text, "http://h", False)
    for turn in (narrow, wide):
        assert turn.task is not None
        await turn.task  # a title composes nothing
    assert narrow.understood.ops[0].text == "Urban Dreams"  # --max-text-chars 12
    assert (
        len(wide.understood.ops[0].text or "") == TITLE_CHARS
    )  # under the default 1000: the agent's own cap


@pytest.mark.asyncio
async def test_understanding_and_a_plans_edit_run_in_one_hop_off_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nemo_local.composer import parse_prompt

    threads: list[str] = []
    adjust = agent_turn._adjust_plan

    def spy(*args: Any) -> Any:
        threads.append(threading.current_thread().name)
        return adjust(*args)

    monkeypatch.setattr(agent_turn, "_adjust_plan", spy)
    store = Store(tmp_path)
    user = store.tokens.anonymous("c", "ip", 3600, 100).user_id
    session = store.sessions.create(user, "p", "en")
    store.sessions.set_plan(session.id, parse_prompt("calm piano, 30 seconds").model_dump())
    music = drafts.set_music(drafts.empty_draft("p"), "http://h/files/x/t.wav", 30_000, {"title": "T"})
    store.sessions.save_draft(session.id, music, "generate")
    session = store.sessions.get(session.id, user)
    assert session is not None
    turn = await agent_turn.prepare(
        _deps(store, FailingComposer()), session, user, "make it two minutes", "http://h", False
    )
    assert turn.task is not None
    with pytest.raises(agent_turn.ToolFailed):  # FailingComposer: the plan was made before the work
        await turn.task
    assert threads and threads[0].startswith("understand") and threads[0] != threading.main_thread().name
    assert turn.plan is not None and turn.plan["duration_s"] == 120.0
    assert turn.plan_changes == [{"op": "length", "value": 120.0}]
