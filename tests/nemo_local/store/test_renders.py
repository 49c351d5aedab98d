"""Render jobs: ids unique per user (never across users), server-made keys, and nothing left
'processing' after a restart."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from nemo_local.store import ActiveRendersFull, DuplicateRenderId, Store, paths
from nemo_local.store.db import SCHEMA


def test_duplicate_names_are_refused_for_the_same_user_only(tmp_path: Path) -> None:
    store = Store(tmp_path)
    a = store.renders.create("r1", "u", "s", {"t": []}, "mp4", "high")
    with pytest.raises(DuplicateRenderId):
        store.renders.create("r1", "u", "s", {"t": []}, "mp4", "high")
    b = store.renders.create("r1", "other", "s2", {"t": []}, "mp4", "high")
    assert a.id != b.id and a.name == b.name == "r1"
    assert store.renders.find("u", "r1") == a
    assert store.renders.find("other", "r1") == b
    assert store.renders.find("nobody", "r1") is None


def test_keys_are_the_servers_own_and_names_are_checked(tmp_path: Path) -> None:
    store = Store(tmp_path)
    job = store.renders.create("render_1", "u", "s", {}, "mp4", "high")
    assert paths.RENDER_KEY.fullmatch(job.id)
    for bad in ("..", ".", "", "a/b", "-x", "x" * 129):
        with pytest.raises(paths.InvalidId):
            store.renders.create(bad, "u", "s", {}, "mp4", "high")


def test_active_renders_are_bounded_per_user(tmp_path: Path) -> None:
    store = Store(tmp_path)
    first = store.renders.create("r1", "u", "s", {}, "mp4", "high", max_active=1)
    with pytest.raises(ActiveRendersFull):
        store.renders.create("r2", "u", "s", {}, "mp4", "high", max_active=1)
    store.renders.create("r2", "v", "s", {}, "mp4", "high", max_active=1)  # another user is not blocked
    assert store.renders.cancel(first.id)
    store.renders.create("r3", "u", "s", {}, "mp4", "high", max_active=1)
    assert store.renders.active_count("u") == 1


def test_recovery_resumes_once_then_fails(tmp_path: Path) -> None:
    store = Store(tmp_path)
    key = store.renders.create("r1", "u", "s", {}, "mp4", "high").id
    assert store.renders.claim(key)
    assert store.renders.recover_after_restart() == ([key], [])
    assert store.renders.get(key).status == "pending"  # type: ignore[union-attr]
    assert store.renders.claim(key)
    assert store.renders.recover_after_restart() == ([], [key])
    job = store.renders.get(key)
    assert job is not None and job.status == "failed" and "restart" in (job.error or "")


def test_cancel_only_while_running(tmp_path: Path) -> None:
    store = Store(tmp_path)
    key = store.renders.create("r1", "u", "s", {}, "mp4", "high").id
    assert store.renders.cancel(key)
    assert not store.renders.claim(key)
    assert not store.renders.cancel(key)


def test_a_data_dir_from_before_per_user_ids_is_migrated(tmp_path: Path) -> None:
    old_schema = SCHEMA.replace("id TEXT PRIMARY KEY, name TEXT, user_id", "id TEXT PRIMARY KEY, user_id")
    conn = sqlite3.connect(tmp_path / "nemo_local.sqlite3")
    conn.executescript(old_schema)
    conn.execute(
        "INSERT INTO renders (id, user_id, session_id, draft_json, format, quality, status, progress,"
        " created_at) VALUES ('render_9', 'u', 's', '{}', 'mp4', 'high', 'completed', 100, 0)"
    )
    conn.commit()
    conn.close()
    store = Store(tmp_path)
    job = store.renders.find("u", "render_9")
    assert job is not None and job.id == "render_9" and job.status == "completed"
    with pytest.raises(DuplicateRenderId):
        store.renders.create("render_9", "u", "s", {}, "mp4", "high")


def test_a_completed_render_knows_the_name_it_was_published_under(tmp_path: Path) -> None:
    """Its URL is built from that name: renders of older servers were published as `rnd_<key>.mp4`, new
    ones under the caller's id, and both must keep serving."""
    store = Store(tmp_path)
    for name, published in (("r:1", "r:1.mp4"), ("r2", None)):
        job = store.renders.create(name, "u", "s", {}, "mp4", "high")
        assert job.file_name is None
        assert store.renders.claim_next() == job.id
        out = store.path("renders", job.id)
        out.mkdir(parents=True)
        (out / f"{job.id}.mp4").write_bytes(b"x")
        public = store.media.publish(
            out / f"{job.id}.mp4", published or f"{job.id}.mp4", "video/mp4", "render"
        )
        store.renders.complete(job.id, public.public_id, 1, 1.0)
        found = store.renders.find("u", name)
        assert found is not None and found.file_name == (published or f"{job.id}.mp4")
        assert store.renders.get(job.id) == found
    store.close()


def test_claim_next_follows_the_fair_rule_on_random_queues(tmp_path: Path) -> None:
    """The one query against the rule it states, on random queues: the oldest pending render of the user
    with the fewest running, ties to the user whose latest start is oldest (never started: first)."""
    import random

    rnd = random.Random(7)
    for trial in range(20):
        store = Store(tmp_path / str(trial))
        rows: list[tuple[str, str, str, float | None, float]] = []
        with store.db.tx() as conn:
            for i in range(60):
                user = f"u{rnd.randrange(5)}"
                status = rnd.choice(("pending", "pending", "processing", "completed", "failed"))
                started = None if status == "pending" else float(rnd.randrange(1000))
                created = float(rnd.randrange(50))  # equal times happen: the id breaks the tie
                key = f"rnd_{trial:04x}{i:020x}"
                rows.append((key, user, status, started, created))
                conn.execute(
                    "INSERT INTO renders (id, name, user_id, session_id, draft_json, format, quality,"
                    " status, progress, created_at, started_at) VALUES (?, ?, ?, 's', '{}', 'mp4', 'low',"
                    " ?, 0, ?, ?)",
                    (key, f"r{i}", user, status, created, started),
                )

        Row = tuple[str, str, str, float | None, float]

        def rank(row: Row, rows: list[Row] = rows) -> tuple[int, float, float, str]:
            mine = [r for r in rows if r[1] == row[1]]
            running = sum(r[2] == "processing" for r in mine)
            served = max((r[3] for r in mine if r[3] is not None), default=0.0)
            return running, served, row[4], row[0]

        pending = [r for r in rows if r[2] == "pending"]
        expected = min(pending, key=rank)[0] if pending else None
        assert store.renders.claim_next() == expected
        if expected is not None:
            claimed = store.renders.get(expected)
            assert claimed is not None and claimed.status == "processing" and claimed.attempts == 1
        store.close()
