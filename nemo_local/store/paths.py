"""The one place that turns identifiers into paths: every id taken from a request is checked against a
strict pattern, and every path the server builds is resolved and compared to stay under its folder.

Both checks on purpose (defence in depth): a pattern alone once let the render id `..` through, and the
cleanup of `renders/..` removed the whole data directory. Importers: the API (session, render, file and
upload names), the store, the agent (generated media) and the render worker (job folders).
"""

from __future__ import annotations

import os
import re
from pathlib import Path


class InvalidId(ValueError):
    """An identifier from a request does not match its pattern; `kind` names which one."""

    def __init__(self, kind: str, value: object, rule: str) -> None:
        shown = repr(value) if len(str(value)) <= 80 else repr(str(value)[:80]) + "…"
        super().__init__(f"invalid {kind} {shown}: {rule}")
        self.kind = kind
        self.rule = rule


class UnsafePath(ValueError):
    """A built path would leave the folder it belongs to (or is the folder itself)."""


# The patterns, with the sentence an error shows. Nothing here may match "." or "..".
SESSION_ID = re.compile(r"[1-9][0-9]{18}")  # 19 digits like the real service's
SESSION_RULE = "a session id is 19 digits"
RENDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")  # the id a client chose for its render
RENDER_NAME_RULE = "1-128 characters of A-Z a-z 0-9 _ . : -, starting with a letter or digit"
RENDER_KEY = re.compile(r"rnd_[0-9a-f]{24}")  # the server's own key of a render (job folders use it)
MEDIA_ID = re.compile(r"med_[0-9a-f]{12}")
PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
# names in /files/<public_id>/<name>; ':' because a render from a data dir of before per-user keys is
# published as "<its client id>.<format>", and those ids allowed it
PUBLIC_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,159}")
PUBLIC_NAME_RULE = "a file name of A-Z a-z 0-9 . _ : -"
# A legacy render key (a data dir from before keys were per-user) is the client's id: it must still be a
# single safe path component, by the render-name rule.
_LEGACY_KEY = RENDER_NAME


def _check(kind: str, value: object, pattern: re.Pattern[str], rule: str) -> str:
    if not isinstance(value, str) or pattern.fullmatch(value) is None or value in (".", ".."):
        raise InvalidId(kind, value, rule)
    return value


def session_id(value: object) -> str:
    return _check("session id", value, SESSION_ID, SESSION_RULE)


def render_name(value: object) -> str:
    """The render id a client passes (`id` of the create request, the path of a poll)."""
    return _check("render id", value, RENDER_NAME, RENDER_NAME_RULE)


def render_key(value: object) -> str:
    """The server's key of a render, which names its job folder: new keys, or a safe legacy id."""
    if isinstance(value, str) and RENDER_KEY.fullmatch(value):
        return value
    return _check("render key", value, _LEGACY_KEY, RENDER_NAME_RULE)


def media_id(value: object) -> str:
    return _check("media id", value, MEDIA_ID, "med_ and 12 hex digits")


def public_id(value: object) -> str:
    return _check("file id", value, PUBLIC_ID, "16-64 characters of A-Z a-z 0-9 _ -")


def public_name(value: object) -> str:
    return _check("file name", value, PUBLIC_NAME, PUBLIC_NAME_RULE)


def is_valid(check: object, value: object) -> bool:
    """`is_valid(session_id, x)`: the check as a boolean, for lookups that answer 'not found' instead."""
    try:
        check(value)  # type: ignore[operator]
    except InvalidId:
        return False
    return True


def under(root: Path, *parts: str) -> Path:
    """`root/parts...`, resolved, and refused (UnsafePath) unless it lies strictly inside `root`.

    Each part must be a single path component (no separator, not "." or ".."), and the resolved result
    (symbolic links followed) must still be below the resolved root.
    """
    if not parts:
        raise UnsafePath("no path component given")
    for part in parts:
        if not isinstance(part, str) or part in ("", ".", "..") or "/" in part or "\0" in part:
            raise UnsafePath(f"{part!r} is not a single path component")
        if os.sep != "/" and os.sep in part:
            raise UnsafePath(f"{part!r} is not a single path component")
    base = root.resolve()
    path = base.joinpath(*parts).resolve()
    if path == base or not path.is_relative_to(base):
        raise UnsafePath(f"{'/'.join(parts)!r} leaves {base}")
    return path


def inside(root: Path, path: Path) -> Path:
    """`path` resolved, refused unless strictly inside `root` (for paths read back from the database)."""
    base = root.resolve()
    resolved = Path(path).resolve()
    if resolved == base or not resolved.is_relative_to(base):
        raise UnsafePath(f"{path} is not inside {base}")
    return resolved
