"""A full per-user storage quota (nemo_local's own code, HTTP 422, with the quota's data) arrives as
`NemoStorageQuotaError`, however the server answers (HTTP 422, or HTTP 200 with the code in the
envelope), with a message that names the fix; the client sends the refused upload once, and nemo_local
stored and charged nothing."""

from __future__ import annotations

import io
import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from nemo_local.api.errors import HTTP_STATUS
from nemo_local.quota import QUOTA_CODE
from nemo_provider.client import NemoAPIError, NemoClient, NemoStorageQuotaError
from nemo_provider.client import _error_map as m
from nemo_provider.client.constants import STORAGE_QUOTA_CODE, STORAGE_QUOTA_FIELD
from nemo_provider.client.errors import is_transient, refused_before_accept
from tests._helpers import Recorder
from tests.conftest import NemoServer, running_nemo_server

QUOTA_MB = 1
MIB = 1024 * 1024
FILE_KB = 600  # one fits under the quota, two do not


@pytest.fixture(scope="module")
def quota_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NemoServer]:
    with running_nemo_server(
        tmp_path_factory.mktemp("client-quota"), "--max-storage-mb", str(QUOTA_MB)
    ) as server:
        yield server


def _noise_png(path: Path, kb: int) -> Path:
    """A PNG of about `kb` KB: random pixels do not compress."""
    from PIL import Image

    side = int((kb * 1024 / 3) ** 0.5) + 1
    buf = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buf, "PNG")
    path.write_bytes(buf.getvalue())
    return path


def _uploads(server: NemoServer, user_id: str) -> tuple[int, int]:
    """(rows, bytes) of the user's uploads in nemo_local's own database."""
    db = sqlite3.connect(f"file:{server.data_dir / 'nemo_local.sqlite3'}?mode=ro", uri=True)
    try:
        rows, size = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM uploads WHERE user_id=?", (user_id,)
        ).fetchone()
    finally:
        db.close()
    return int(rows), int(size)


def _errors_in_200(server: NemoServer, on: bool) -> None:
    response = httpx.post(
        f"{server.base_url}/admin/faults",
        json={"errors_in_200": on},
        headers={"X-Admin-Token": server.admin_token},
        timeout=10,
    )
    response.raise_for_status()


@pytest.mark.parametrize("errors_in_200", [False, True], ids=["http-422", "code-in-200"])
def test_a_full_quota_is_named_refused_once_and_nothing_is_stored_or_charged(
    quota_server: NemoServer, tmp_path: Path, errors_in_200: bool
) -> None:
    first = _noise_png(tmp_path / "first.png", FILE_KB)
    second = _noise_png(tmp_path / "second.png", FILE_KB)
    recorder = Recorder()
    with NemoClient(quota_server.base_url, client_id=str(uuid.uuid4()), transport=recorder) as c:
        info = c.create_session()
        assert info.user_id
        c.upload(info.session_id, [first])
        kept = _uploads(quota_server, info.user_id)
        assert kept[0] == 1 and kept[1] == first.stat().st_size
        balance = c.credits().available
        _errors_in_200(quota_server, errors_in_200)
        try:
            with pytest.raises(NemoStorageQuotaError) as caught:
                c.upload(info.session_id, [second])
        finally:
            _errors_in_200(quota_server, False)
        assert c.credits().available == balance
    err = caught.value
    assert err.code == QUOTA_CODE and err.http_status == (200 if errors_in_200 else HTTP_STATUS[QUOTA_CODE])
    assert err.limit == QUOTA_MB * MIB and err.needed is not None and err.needed > err.limit
    assert err.switch == "--max-storage-mb"
    assert err.detail and "storage is full" in err.detail  # the server's own words, kept apart
    text = str(err)
    assert text.startswith(
        f"The Nemo account's storage is full (code {QUOTA_CODE}): it may keep {QUOTA_MB:.1f} MB"
    )
    assert "Delete old uploads or renders" in text and "larger storage quota" in text
    assert "--max-storage-mb" in text and err.detail not in text
    assert isinstance(err, NemoAPIError)  # what it was before it had a name: old handlers still catch it
    assert refused_before_accept(err) and not is_transient(err)
    assert len(recorder.sent("POST", f"/api/upload-video/nemo_agent/me/{info.session_id}")) == 2
    assert _uploads(quota_server, info.user_id) == kept  # nemo_local kept nothing of the refused upload


NEMO_LOCAL_DATA = {
    "field": STORAGE_QUOTA_FIELD,
    "limit": 2 * MIB,
    "value": 3 * MIB,
    "switch": "--max-storage-mb",
}
CTX = m.ErrorContext(base_url="http://127.0.0.1:1")


@pytest.mark.parametrize(
    ("code", "status"),
    [(4004, 422), (4004, 200), (422, 422), (422, 200), (None, 422), (4005, 422), (4005, 200)],
)
def test_the_quota_is_named_by_its_data_whatever_code_carries_it(code: int | None, status: int) -> None:
    """nemo_local's own code (4004), the generic 422 it sent before, or a code of another server's own."""
    err = m.error_for(code, status, "This user's storage is full", CTX, data=NEMO_LOCAL_DATA)
    assert type(err) is NemoStorageQuotaError
    assert err.code == (code if code is not None else 422) and err.http_status == status
    label = f"code {code}" if code is not None else "HTTP 422"
    assert str(err) == (
        f"The Nemo account's storage is full ({label}): it may keep 2.0 MB of uploads and exports and this "
        "request would take it to 3.0 MB, so the service refused this request before storing or charging "
        "anything. Delete old uploads or renders from the account, or ask for a larger storage quota (the "
        "server's --max-storage-mb), then retry the task."
    )
    assert refused_before_accept(err) and not is_transient(err)


def test_a_quota_without_data_is_named_by_its_code_or_text_and_other_422s_are_not() -> None:
    assert STORAGE_QUOTA_CODE == QUOTA_CODE, "nemo_local's code is the client's"
    from nemo_local.limits import Limits
    from nemo_local.quota import storage_full

    assert storage_full(1, 1, Limits()).data["field"] == STORAGE_QUOTA_FIELD, "and so is its field"
    for code in (STORAGE_QUOTA_CODE, 422):
        err = m.error_for(code, 200, "Storage quota exceeded", CTX)
        assert type(err) is NemoStorageQuotaError and err.limit is None and err.needed is None
        assert "it is at its quota of uploads and exports, so" in str(err)
    assert type(m.error_for(STORAGE_QUOTA_CODE, 422, "", CTX)) is NemoStorageQuotaError
    other = m.error_for(422, 422, "title is over the limit", CTX, data={"field": "title", "limit": 200})
    assert type(other) is NemoAPIError
    full_disk = m.error_for(507, 507, "", CTX, data={**NEMO_LOCAL_DATA, "field": "free disk space"})
    assert not isinstance(full_disk, NemoStorageQuotaError)
