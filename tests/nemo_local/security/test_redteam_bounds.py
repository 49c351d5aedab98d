"""Red-team findings on the session and draft bounds (--max-sessions-per-user, --max-draft-versions).

A fractional count was truncated to 0: `--max-draft-versions 0.5` (or NEMO_LOCAL_MAX_DRAFT_VERSIONS=0.5)
started a server that deleted every draft in the transaction that saved it, so an upload answered
`session_state_applied: true` and the session's state had no draft at all; `--max-sessions-per-user 0.5`
refused every session, `--max-upload-files 0.9` every upload. A count must now be a whole number of at
least 1, and no limit may truncate to 0, or the server does not start."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from nemo_local.limits import Limits, add_arguments
from nemo_local.store import Store


def _parse(argv: list[str], env: dict[str, str]) -> Limits:
    parser = argparse.ArgumentParser()
    add_arguments(parser, env)
    return Limits.from_args(parser.parse_args(argv))


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--max-draft-versions", "0.5"),
        ("--max-sessions-per-user", "0.99"),
        ("--max-upload-files", "2.5"),
        ("--max-body-mb", "1e-9"),  # a byte count that truncates to 0
    ],
)
def test_a_limit_that_would_truncate_is_refused(flag: str, value: str) -> None:
    with pytest.raises(ValueError, match=f"{flag} must be a whole number of at least 1"):
        _parse([flag, value], {})
    env = {"NEMO_LOCAL_" + flag.removeprefix("--").replace("-", "_").upper(): value}
    with pytest.raises(ValueError, match=f"{flag} must be a whole number of at least 1"):
        Limits.from_env(env)


def test_the_smallest_draft_history_keeps_the_latest_draft(tmp_path: Path) -> None:
    limits = _parse(["--max-draft-versions", "1"], {})
    store = Store(tmp_path, limits)
    try:
        s = store.sessions.create("usr_a", "demo", "en")
        for i in range(1, 4):
            assert store.sessions.save_draft(s.id, {"t": [], "v": i}, f"edit {i}") == i
            assert store.sessions.latest_draft(s.id) == (i, {"t": [], "v": i})
        assert store.sessions.draft_history(s.id) == [(3, "edit 3")]
    finally:
        store.close()
