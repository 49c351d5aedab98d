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


def resolve_action(text: str) -> str:
    """GUI phrases the agent uses ("click Export") first, then the routing table; default: message."""
    from nemo_provider.client import routing

    gui = routing.translate_gui(text)
    candidates = gui if isinstance(gui, list | tuple) else [gui]
    for candidate in candidates:
        name = _action_name(candidate)
        if name and name != "message":
            return name
    return _action_name(routing.route(text)) or "message"
