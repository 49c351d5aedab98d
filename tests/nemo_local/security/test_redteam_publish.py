"""Red-team finding: a finished render published its file (a `files` row) and then marked itself
completed, in two writes. A cancel landing between them (the render's last instant) left the row
pointing at a job folder that the cancel path then removed, and a server killed between them published
a second row when the render was resumed. Both writes are now one transaction, made only while the
render is still 'processing'."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

TITLE_DRAFT = {"t": [{"tt": 7, "sg": [{"id": "t1", "s": 0, "d": 1000, "txt": "Hi"}]}], "d": 1000, "m": {}}


def _claimed_render(tmp_path: Path) -> tuple[Any, Any]:
    """A store with one title render of an anonymous user, claimed by a worker (status processing)."""
    from nemo_local.store import Store

    store = Store(tmp_path)
    user = store.tokens.anonymous("c", "ip", 3600, 100).user_id
    session = store.sessions.create(user, "p", "en")
    job = store.renders.create("r1", user, session.id, TITLE_DRAFT, "wav", "low")
    assert store.renders.claim(job.id)
    return store, job


def test_a_cancel_in_the_last_instant_publishes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nemo_local.renderer
    from nemo_local.config import ServerConfig
    from nemo_local.renderer import RenderOutput
    from nemo_local.worker import RenderWorker

    store, job = _claimed_render(tmp_path)
    worker = RenderWorker(store, ServerConfig(data_dir=tmp_path))

    def finish_as_the_user_cancels(draft: Any, out_path: Path, **_: Any) -> RenderOutput:
        out_path.write_bytes(b"RIFF" + b"\0" * 40)
        worker.cancel(job.id)  # the user's cancel arrives as the render ends
        return RenderOutput(out_path, out_path.stat().st_size, 1.0, None, None)

    monkeypatch.setattr(nemo_local.renderer, "render_draft", finish_as_the_user_cancels)
    worker._render(job, threading.Event())
    final = store.renders.get(job.id)
    assert final is not None and final.status == "cancelled" and final.public_id is None
    assert store.db.all("SELECT * FROM files WHERE owner_id='render'") == []  # no row to a removed file
    assert not (tmp_path / "renders" / job.id).exists()  # and its folder is freed
    store.close()


def test_a_render_that_completes_publishes_exactly_one_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nemo_local.renderer
    from nemo_local.config import ServerConfig
    from nemo_local.renderer import RenderOutput
    from nemo_local.worker import RenderWorker

    store, job = _claimed_render(tmp_path)

    def finish(draft: Any, out_path: Path, **_: Any) -> RenderOutput:
        out_path.write_bytes(b"RIFF" + b"\0" * 40)
        return RenderOutput(out_path, out_path.stat().st_size, 1.0, None, None)

    monkeypatch.setattr(nemo_local.renderer, "render_draft", finish)
    RenderWorker(store, ServerConfig(data_dir=tmp_path))._render(job, threading.Event())
    final = store.renders.get(job.id)
    assert final is not None and final.status == "completed" and final.file_name == "r1.wav"
    rows = store.db.all("SELECT * FROM files WHERE owner_id='render'")
    assert len(rows) == 1 and rows[0]["public_id"] == final.public_id
    public = store.media.public_file(final.public_id or "")
    assert public is not None and public.path.read_bytes().startswith(b"RIFF")
    store.close()
