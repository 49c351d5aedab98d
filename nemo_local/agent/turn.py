"""One user message, end to end: decide (before the stream, so 404/2001 answer before any event), hold
credits, do the work in a background task that finishes even if the client goes away (a repeat would be
charged twice), and stream ADK events with keep-alives while the work runs."""

from __future__ import annotations

import asyncio
import math
import secrets
import shutil
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nemo_local
from nemo_local.agent import drafts, replies
from nemo_local.agent.composing import ComposeRunner
from nemo_local.agent.events import EventFactory, new_call_id, sse_comment, sse_data, sse_error_frame
from nemo_local.agent.slots import UserSlots
from nemo_local.agent.understand import Understood, understand
from nemo_local.config import EDIT_COST, GENERATE_COST
from nemo_local.limits import Limits
from nemo_local.store import SessionRow, Store

_BACKGROUND: set[asyncio.Task[Any]] = set()
DEFAULT_TRACK_S = 30.0
# Understanding a message (rules over up to 16 KB of text, then the prompt parser or a plan's edit) is
# CPU work, and the composer's first import takes a few hundred ms: it all runs here, in one hop per
# message, never on the event loop, so no message can delay /healthz or another user's events. Two
# threads: enough for the two cores, and a flood of messages queues here instead of in the shared pool.
_UNDERSTAND = ThreadPoolExecutor(max_workers=2, thread_name_prefix="understand")


class StreamCut(Exception):
    """Fault injection: abort the HTTP response mid-stream, as a dropped connection would."""


class ToolFailed(Exception):
    """The tool could not do its work; the stream reports it as an ADK tool error."""


@dataclass
class TurnDeps:
    store: Store
    composer: ComposeRunner
    keepalive_s: float
    silent_share: float
    sse_cut_after: Callable[[], int]
    slots: UserSlots | None = None
    limits: Limits = field(
        default_factory=Limits
    )  # text_chars (--max-text-chars) caps a title the agent adds


@dataclass
class Turn:
    deps: TurnDeps
    session: SessionRow
    user_id: str
    base_url: str
    streaming: bool
    understood: Understood
    draft: dict[str, Any]
    cost: int = 0
    hold_id: str | None = None
    plan: dict[str, Any] | None = None  # what to compose: a generate's new plan, or an edit's adjusted one
    plan_changes: list[dict[str, Any]] = field(default_factory=list)  # the edit's changes of the plan
    silent: bool = False
    events: EventFactory = field(default_factory=EventFactory)
    task: asyncio.Task[tuple[dict[str, Any], str]] | None = None


def is_silent(index: int, share: float) -> bool:
    """Exactly `share` of a session's edits are silent, spread evenly (edit #4, #7, #10 for 30 %)."""
    pct = round(share * 100)
    return math.floor((index + 1) * pct / 100) > math.floor(index * pct / 100)


def _default_duration(draft: dict[str, Any], session: SessionRow) -> float:
    seg = drafts.music_segment(draft)
    if seg is not None:
        return float(seg["d"]) / 1000
    video_ms = drafts.video_length_ms(draft)
    return video_ms / 1000 if video_ms else DEFAULT_TRACK_S


@dataclass(frozen=True)
class _Facts:
    """What understanding a message needs to know of its session (read on the loop, used in a thread)."""

    has_music: bool
    video_s: float
    default_duration_s: float
    plan: dict[str, Any] | None  # the session's plan, which recomposing edits adjust
    title_chars: int


def _parse_plan(text: str, default_duration_s: float) -> dict[str, Any]:
    from nemo_local.composer import parse_prompt

    plan: dict[str, Any] = parse_prompt(text, default_duration_s=default_duration_s).model_dump()
    return plan


def _adjust_plan(
    plan_data: dict[str, Any], ops: Sequence[tuple[str, float]]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Apply calmer / more upbeat / length changes to the plan."""
    from nemo_local.composer import MusicPlan

    plan = MusicPlan.model_validate(plan_data)
    changes: list[dict[str, Any]] = []
    for kind, value in ops:
        if kind == "energy":
            plan = plan.adjusted(energy=int(value))
            changes.append({"op": "energy", "value": value, "bpm": plan.bpm})
        else:
            plan = plan.adjusted(duration_s=float(value or plan.duration_s))
            changes.append({"op": kind, "value": plan.duration_s})
    return plan.model_dump(), changes


def _decide(text: str, facts: _Facts) -> tuple[Understood, dict[str, Any] | None, list[dict[str, Any]]]:
    """Runs in the understanding threads: what the message asks for, and the plan to compose (a
    generate's, or the session's plan adjusted by recomposing edits) with the changes made to it."""
    understood = understand(
        text, has_music=facts.has_music, has_video=facts.video_s > 0, title_chars=facts.title_chars
    )
    if understood.kind == "generate":
        return understood, _parse_plan(text, facts.default_duration_s), []
    recompose = [op for op in understood.ops if op.recomposes]
    if understood.kind != "edit" or not recompose or facts.plan is None:
        return understood, None, []
    wanted = [
        (op.kind, float(op.value or 0) if op.kind != "fit_video" else facts.video_s) for op in recompose
    ]
    plan, changes = _adjust_plan(facts.plan, wanted)
    return understood, plan, changes


async def prepare(
    deps: TurnDeps, session: SessionRow, user_id: str, text: str, base_url: str, streaming: bool
) -> Turn:
    """Understand the message, take a work slot of the user's (Busy -> 429) and hold its credits
    (InsufficientCredits -> 2001), all before any event; then start the work, which finishes (and spends
    or releases the credits, and frees the slot) whether or not anyone reads the stream."""
    _, draft = deps.store.sessions.latest_draft(session.id)
    draft = draft or drafts.empty_draft(session.task_name)
    facts = _Facts(
        has_music=drafts.music_segment(draft) is not None,
        video_s=drafts.video_length_ms(draft) / 1000,
        default_duration_s=_default_duration(draft, session),
        plan=session.plan,
        title_chars=deps.limits.text_chars,
    )
    loop = asyncio.get_running_loop()
    understood, plan, changes = await loop.run_in_executor(_UNDERSTAND, _decide, text, facts)
    turn = Turn(deps, session, user_id, base_url.rstrip("/"), streaming, understood, draft)
    turn.plan, turn.plan_changes = plan, changes
    if understood.kind == "generate":
        turn.cost = GENERATE_COST
    elif understood.kind == "edit":
        turn.cost = EDIT_COST
        if any(op.recomposes for op in understood.ops) and session.plan is None:
            understood.ops = [op for op in understood.ops if not op.recomposes]
            if not understood.ops:
                understood.kind, understood.topic = "chat", "no_music"
                turn.cost = 0
    if understood.kind == "chat":
        return turn
    if deps.slots is not None:
        deps.slots.acquire(user_id)
    try:
        if turn.cost:
            turn.hold_id = deps.store.credits.freeze(user_id, turn.cost, understood.kind)
        if understood.kind == "edit":
            turn.silent = is_silent(deps.store.sessions.next_edit_index(session.id), deps.silent_share)
    except BaseException:
        if turn.hold_id:
            deps.store.credits.release(turn.hold_id)
        if deps.slots is not None:
            deps.slots.release(user_id)
        raise
    turn.task = _spawn(_work(turn))
    return turn


async def _publish_track(turn: Turn, plan: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Compose `plan`, publish the audio, record it in generated_media; returns (url, metadata)."""
    store = turn.deps.store
    media_id = "med_" + secrets.token_hex(6)
    out_dir = store.path("media", media_id)
    try:
        result = await turn.deps.composer.compose(plan, out_dir, "track")
    except Exception as exc:
        # a half-written track has no row pointing at it, so nothing else would ever remove it
        await asyncio.to_thread(shutil.rmtree, out_dir, True)
        raise ToolFailed(f"composing failed: {type(exc).__name__}: {exc}") from exc
    meta = result["metadata"]
    title = str(meta.get("title") or "Untitled")
    slug = "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")[:40] or "track"
    public = store.media.publish(Path(result["audio"]), f"{slug}.wav", "audio/wav", turn.user_id)
    url = turn.base_url + public.url_path
    record = {
        "duration_ms": int(meta.get("duration_ms") or round(result["duration_s"] * 1000)),
        "title": title,
        "prompt": meta.get("prompt", plan.get("prompt", "")),
        "bpm": meta.get("bpm", plan.get("bpm")),
        "key": meta.get("key") or f"{plan.get('key')} {plan.get('mode')}",
        "mood": meta.get("mood", plan.get("mood")),
        "genre": meta.get("genre", plan.get("genre")),
        "seed": meta.get("seed", plan.get("seed")),
        "lufs": meta.get("lufs"),
        "true_peak": meta.get("true_peak"),
        "loop": meta.get("loop"),
        "instruments": meta.get("instruments"),
        "shape": meta.get("shape"),
        "engine": f"nemo_local {nemo_local.__version__}",
    }
    if result.get("cover"):
        cover = store.media.publish(Path(result["cover"]), f"{slug}.png", "image/png", turn.user_id)
        record["cover_url_path"] = cover.url_path
    store.media.add_generated(turn.session.id, media_id, public, record)
    store.sessions.set_plan(turn.session.id, plan)
    return url, {"media_id": media_id, **record}


async def _generate(turn: Turn) -> tuple[dict[str, Any], str]:
    assert turn.plan is not None
    url, meta = await _publish_track(turn, turn.plan)
    seg_meta = {"title": meta["title"], "media_id": meta["media_id"], "bpm": meta["bpm"], "key": meta["key"]}
    # on the draft as it is now, not as it was before composing: an upload meanwhile stays on it
    version = turn.deps.store.sessions.update_draft(
        turn.session.id,
        lambda latest: drafts.set_music(_current(turn, latest), url, meta["duration_ms"], seg_meta),
        "generate",
    )
    assert version is not None
    response = {
        "track_id": meta["media_id"],
        "title": meta["title"],
        "url": url,
        "duration_ms": meta["duration_ms"],
        "bpm": meta["bpm"],
        "key": meta["key"],
        "mood": meta["mood"],
        "draft_version": version,
    }
    return response, replies.generated(meta, turn.understood.zh)


def _current(turn: Turn, latest: dict[str, Any] | None) -> dict[str, Any]:
    """The draft a tool's change applies to: the session's latest (read in the transaction that saves
    the change), else the one the turn began with. Applied to the draft read before composing, the
    change dropped whatever an upload had put on the draft meanwhile (red team)."""
    return latest if latest is not None else turn.draft


def _apply_ops(turn: Turn, draft: dict[str, Any], changes: list[dict[str, Any]]) -> dict[str, Any]:
    """The edit's operations on `draft`; each one done is appended to `changes`."""
    for op in turn.understood.ops:
        if op.kind == "volume":
            draft = drafts.set_volume(draft, volume=op.value)
        elif op.kind == "volume_scale":
            draft = drafts.set_volume(draft, scale=op.value)
        elif op.kind in ("fade_in", "fade_out"):
            draft = drafts.set_fade(
                draft, "fi" if op.kind == "fade_in" else "fo", int((op.value or 0) * 1000)
            )
        elif op.kind == "title":
            draft = drafts.add_title(draft, op.text or "", int((op.value or 3) * 1000))
        else:
            continue
        change: dict[str, Any] = {"op": op.kind, "value": op.value}
        if op.kind.startswith("volume"):
            seg = drafts.music_segment(draft)
            change["volume"] = seg.get("v", 1.0) if seg else 1.0
        if op.text is not None:
            change["text"] = op.text
        changes.append(change)
    return draft


async def _edit(turn: Turn) -> tuple[dict[str, Any], str]:
    music: tuple[str, int, dict[str, Any]] | None = None
    if turn.plan is not None:  # a recomposing edit: prepare() adjusted the session's plan
        url, meta = await _publish_track(turn, turn.plan)
        seg_meta = {
            "title": meta["title"],
            "media_id": meta["media_id"],
            "bpm": meta["bpm"],
            "key": meta["key"],
        }
        music = (url, meta["duration_ms"], seg_meta)
    changes: list[dict[str, Any]] = []
    saved: dict[str, Any] = {}

    def change(latest: dict[str, Any] | None) -> dict[str, Any]:
        draft = _current(turn, latest)
        if music is not None:
            draft = drafts.set_music(draft, *music)
        changes[:] = list(turn.plan_changes)  # runs once, in the transaction that saves its result
        saved["draft"] = draft = _apply_ops(turn, draft, changes)
        return draft

    version = turn.deps.store.sessions.update_draft(turn.session.id, change, "edit")
    response = {
        "ok": True,
        "changes": changes,
        "draft_version": version,
        "timeline": drafts.summary(saved["draft"]),
    }
    return response, replies.edited(changes, turn.understood.zh)


async def _work(turn: Turn) -> tuple[dict[str, Any], str]:
    """The tool's job; credits are spent only when it succeeded and released otherwise; the user's work
    slot is free again either way."""
    ledger = turn.deps.store.credits
    try:
        try:
            result = await (_generate(turn) if turn.understood.kind == "generate" else _edit(turn))
        except BaseException:
            if turn.hold_id:
                ledger.release(turn.hold_id)
            raise
        if turn.hold_id:
            ledger.spend(turn.hold_id)
        return result
    finally:
        if turn.deps.slots is not None:
            turn.deps.slots.release(turn.user_id)


def _spawn(coro: Any) -> asyncio.Task[Any]:
    task = asyncio.ensure_future(coro)
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)
    return task


async def stream(turn: Turn) -> AsyncIterator[bytes]:
    """The SSE body of the turn."""
    ev = turn.events
    sent = 0
    cut_after = turn.deps.sse_cut_after()

    def frame(event: dict[str, Any]) -> bytes:
        nonlocal sent
        if cut_after and sent >= cut_after:
            raise StreamCut(f"stream cut after {sent} events (fault injection)")
        sent += 1
        return sse_data(event)

    u = turn.understood
    if u.kind == "chat":
        text = replies.chat(u.topic, u.zh, drafts.summary(turn.draft))
        for event in ev.model_turn(text, streaming=turn.streaming):
            yield frame(event)
        return

    call_id = new_call_id()
    if u.kind == "generate":
        assert turn.plan is not None
        name = "compose_music"
        args = {
            k: turn.plan[k]
            for k in ("prompt", "duration_s", "bpm", "key", "mode", "mood", "genre", "loop", "seed")
        }
        args["instruments"] = turn.plan.get("instruments", [])
        intro: str | None = replies.composing(turn.plan, u.zh, u.replace)
    else:
        name = "edit_timeline"
        args = {"operations": [op.as_args() for op in u.ops]}
        intro = None
    call = {"id": call_id, "args": args, "name": name}
    task = turn.task
    assert task is not None, "prepare() starts the work of every turn that is not a chat"
    for event in ev.model_turn(intro, call, streaming=turn.streaming):
        yield frame(event)
    while not task.done():
        done, _ = await asyncio.wait({task}, timeout=turn.deps.keepalive_s)
        if not done:
            yield sse_comment("keep-alive: still working")
    try:
        response, text = task.result()
    except ToolFailed as exc:
        yield frame(ev.tool_error("TOOL_ERROR", str(exc)))
        for event in ev.model_turn(replies.failed(u.zh), streaming=turn.streaming):
            yield frame(event)
        return
    except Exception as exc:
        yield sse_error_frame(f"internal error: {type(exc).__name__}", {"tool": name})
        return
    yield frame(ev.function_response(call_id, name, response, {"draft_version": response["draft_version"]}))
    if turn.silent:
        yield frame(ev.empty_turn())
        return
    for event in ev.model_turn(text, streaming=turn.streaming):
        yield frame(event)
