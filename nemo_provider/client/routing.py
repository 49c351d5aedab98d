"""Free text -> action, and the agent's screen-talk ("click Export") -> actions the API can do.

The vendor's skill routes requests by keyword before talking to the agent, because some requests
need no conversation (and no credits): export, credits, state and upload go straight to their
endpoint. The agent, in turn, speaks as if the user had a screen; those phrases are mapped to what
the provider can do instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Action = Literal["export", "credits", "state", "upload", "message"]

# Checked in this order (the skill's table order): the first match wins.
_ROUTES: tuple[tuple[Action, tuple[str, ...], tuple[str, ...]], ...] = (
    ("export", ("export", "download", "send me the video", "render the video"), ("导出", "下载")),
    ("credits", ("credits", "credit balance", "balance"), ("积分", "余额")),
    ("state", ("status", "show tracks", "show the tracks", "show timeline", "show the timeline"), ("状态",)),
    ("upload", ("upload",), ("上传",)),
)


def _english(words: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in words)
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])", re.IGNORECASE)


_COMPILED = tuple((action, _english(en), zh) for action, en, zh in _ROUTES)


def route(text: str, *, has_files: bool = False) -> Action:
    """The skill's routing table: export / credits / state / upload, anything else is a message."""
    for action, pattern, chinese in _COMPILED:
        if pattern.search(text) or any(word in text for word in chinese):
            return action
    if has_files:
        return "upload"
    return "message"


@dataclass(frozen=True)
class GuiAction:
    """One screen instruction found in the agent's text and what to do instead."""

    phrase: str
    action: Action
    #: what the instruction pointed at ("Export" in "click Export"), if anything
    target: str | None = None


_GUI = re.compile(
    r"(?P<preview>preview\s+(?:it\s+)?in\s+(?:the\s+)?timeline|预览)"
    r"|(?P<click>\b(?:click|tap|press)(?:\s+on)?|点击|单击)\s*(?:the\s+)?[\"'“「]?(?P<ctarget>[\w\u4e00-\u9fff]+)?"
    r"|(?P<open>\bopen\b|打开)\s*(?:the\s+)?(?P<otarget>[\w\u4e00-\u9fff]+)?"
    r"|(?P<drag>\bdrag(?:\s+and\s+drop)?\b|\bdrop\b|拖拽|拖动)"
    r"|(?P<export>\bexport\b|导出)",
    re.IGNORECASE,
)


def _classify(match: re.Match[str]) -> GuiAction:
    """One GUI phrase -> the action it stands for: the single table both readers below use."""
    phrase = match.group(0).strip()
    if match.group("preview"):
        return GuiAction(phrase, "state")
    if match.group("click"):
        target = (match.group("ctarget") or "").strip() or None
        return GuiAction(phrase, route(target) if target else "message", target)
    if match.group("open"):
        return GuiAction(phrase, "state", match.group("otarget"))
    if match.group("drag"):
        return GuiAction(phrase, "message")
    return GuiAction(phrase, "export", phrase)


def translate_gui(text: str) -> list[GuiAction]:
    """Map the agent's GUI phrases to actions, in order of appearance (one per action kind).

    click/点击 X -> the endpoint X routes to (a message if it routes nowhere); open/打开 -> read the
    state; drag/拖拽 -> send the edit as a message; "preview in timeline" -> state (text summary);
    Export/导出 -> the export workflow.
    """
    found: list[GuiAction] = []
    seen: set[Action] = set()
    for match in _GUI.finditer(text):
        item = _classify(match)
        if item.action not in seen:
            seen.add(item.action)
            found.append(item)
    return found


def rewrite_gui(text: str, wording: Callable[[GuiAction], str | None]) -> str:
    """Replace each GUI phrase in ``text`` with ``wording(action)`` (kept as-is when that is None).

    The caller owns the words (an Airflow task log says "the export task"; another caller may say
    something else); which phrase means which action stays in :func:`_classify`. A replacement at the
    start of a sentence is capitalised.
    """

    def replace(match: re.Match[str]) -> str:
        words = wording(_classify(match))
        if words is None:
            return match.group(0)
        before = text[: match.start()].rstrip()
        if not before or before[-1] in ".!?。！？\n":
            words = words[:1].upper() + words[1:]
        # keep the whitespace the phrase ended with (the regex may have swallowed it before a target)
        trailing = match.group(0)[len(match.group(0).rstrip()) :]
        return words + trailing

    return _GUI.sub(replace, text)
