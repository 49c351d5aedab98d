"""Free text -> one of the operator actions, using the client's routing table (the skill's)."""

from __future__ import annotations

from typing import Any

ACTIONS = ("export", "credits", "state", "upload", "message")


def _action_name(value: Any) -> str | None:
    """The client may answer with a string, an enum, or an object with ``action``; read all three."""
    if value is None:
        return None
    for attr in ("action", "value", "name"):
        inner = getattr(value, attr, None)
        if isinstance(inner, str) and inner.lower() in ACTIONS:
            return inner.lower()
    text = str(value).lower()
    return text if text in ACTIONS else None


def resolve_action(text: str, *, has_files: bool = False) -> str:
    """The routing table first; text it leaves to the agent is checked for GUI phrases ("click Export").

    The table wins because a user's own words ("export it") say what they want; GUI phrases are the
    agent's screen-talk that a user may paste back, and only decide when the table finds nothing.
    """
    from nemo_provider.client import routing

    routed = _action_name(routing.route(text, has_files=has_files)) or "message"
    if routed != "message":
        return routed
    for candidate in routing.translate_gui(text):
        name = _action_name(candidate)
        if name and name != "message":
            return name
    return "message"
