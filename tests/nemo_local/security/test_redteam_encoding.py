"""Red-team finding: URL uploads were read through httpx's decoding, which inflates a gzip body in
memory before the size limit sees a byte: a 600-byte response sent `Content-Encoding: gzip, gzip`
grew the server by 800 MB (and a few KB more would have exhausted its memory). Media are now asked for
and read as they are (`Accept-Encoding: identity`, raw bytes); an encoded body is refused unread."""

from __future__ import annotations

import threading

from tests.nemo_local.security.conftest import BOMB_MB, Client, envelope, rss_kb


class _Peak:
    """The highest RSS of a process, sampled every 5 ms while the block runs."""

    def __init__(self, pid: int) -> None:
        self.pid, self.kb = pid, rss_kb(pid)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(0.005):
            self.kb = max(self.kb, rss_kb(self.pid))

    def __enter__(self) -> _Peak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(5)


def test_a_gzip_bomb_behind_a_url_is_refused_unread(lenient: Client, bad_host: str) -> None:
    user = lenient.user()
    sid = user.new_session()
    before_files, pid = lenient.server.files(), lenient.server.process.pid
    start = rss_kb(pid)
    with _Peak(pid) as peak:
        resp = user.post(f"/api/upload-video/nemo_agent/me/{sid}", json={"urls": [f"{bad_host}/bomb.png"]})
    body = envelope(resp, 422, 4003)
    assert "Content-Encoding: gzip, gzip" in body["message"], body
    # decoded, the body is BOMB_MB (256) MB held at once; refused unread, the server does not grow
    assert (peak.kb - start) / 1024 < BOMB_MB / 4, (start, peak.kb)
    assert lenient.server.files() == before_files
    assert user.state(sid)["state"]["draft"] is None
