"""Error codes: the contract's table (code -> nemo_local's HTTP status), nemo_local's own table, and the
client's named exception for each code, whether the server answers with the HTTP status or (the
compatibility switch) with HTTP 200 and only the envelope's code; plus the codes a real nemo_local
sends through the real client."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from nemo_local.api.errors import HTTP_STATUS
from nemo_local.limits import MB
from nemo_local.quota import DISK_CODE
from nemo_provider.client import NemoClient
from nemo_provider.client import errors as client_errors
from nemo_provider.client._error_map import ErrorContext, error_for
from tests.conftest import NemoServer, running_nemo_server

from .conftest import Recorder, contract_text

#: The client's exception for each code of the contract's table.
NAMED = {
    1001: client_errors.NemoAuthError,
    1002: client_errors.NemoSessionNotFoundError,
    2001: client_errors.NemoInsufficientCreditsError,
    4001: client_errors.NemoUnsupportedFileTypeError,
    4002: client_errors.NemoFileTooLargeError,
    400: client_errors.NemoMissingClientIdError,
    402: client_errors.NemoPlanRestrictedError,
    429: client_errors.NemoRateLimitError,
}


def _contract_table() -> dict[int, int]:
    rows = re.findall(r"\| (\d+) \| [^|]+ \| [^|]+ \| (\d{3}) \|", contract_text())
    return {int(code): int(status) for code, status in rows if code != "0"}


def test_the_contracts_codes_are_nemo_locals_and_each_has_a_named_client_error() -> None:
    table = _contract_table()
    assert set(table) == set(NAMED)
    for code, status in table.items():
        assert HTTP_STATUS[code] == status, code


@pytest.mark.parametrize("code", sorted(NAMED))
@pytest.mark.parametrize("by", ["code and status", "code in an HTTP 200", "status only"])
def test_the_client_names_every_code_however_it_arrives(code: int, by: str) -> None:
    status = HTTP_STATUS[code]
    message = "missing X-Client-Id" if code == 400 else "refused"
    arrives = {
        "code and status": (code, status),
        "code in an HTTP 200": (code, 200),
        "status only": (None, status),
    }
    envelope_code, http_status = arrives[by]
    err = error_for(envelope_code, http_status, message, ErrorContext("http://x"), session_bound=True)
    assert type(err) is NAMED[code]


def test_the_codes_a_real_nemo_local_sends_arrive_as_the_named_errors(nemo_server: NemoServer) -> None:
    with NemoClient(nemo_server.base_url, token="not-a-token", client_id=str(uuid.uuid4())) as bad:
        with pytest.raises(client_errors.NemoAuthError) as caught:
            bad.credits()
        assert caught.value.code == 1001 and caught.value.http_status == HTTP_STATUS[1001]
    with NemoClient(nemo_server.base_url, client_id=str(uuid.uuid4())) as anonymous:
        with pytest.raises(client_errors.NemoSessionNotFoundError) as missing:
            anonymous.state("1234567890123456789")
        assert missing.value.code == 1002 and missing.value.http_status == HTTP_STATUS[1002]


FLOOR_MB = 10**9  # far above any disk's free space: the server sees its disk as full


@pytest.fixture(scope="module")
def full_disk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NemoServer]:
    with running_nemo_server(
        tmp_path_factory.mktemp("contract-full-disk"), "--min-free-disk-mb", str(FLOOR_MB)
    ) as server:
        yield server


def test_nemo_locals_full_disk_arrives_named_with_its_floor_and_is_sent_once(
    full_disk_server: NemoServer, tmp_path: Path
) -> None:
    """nemo_local's own code 507 (not the contract's): refused before accept, so never repeated by the
    client's 5xx backoff (upload and render create alike), and the message names the server's floor."""
    from PIL import Image

    picture = tmp_path / "small.png"
    Image.new("RGB", (8, 8), (0, 90, 200)).save(picture, "PNG")
    recorder = Recorder()
    with NemoClient(full_disk_server.base_url, client_id=str(uuid.uuid4()), transport=recorder) as c:
        sid = c.create_session().session_id
        balance = c.credits().available
        with pytest.raises(client_errors.NemoInsufficientStorageError) as upload:
            c.upload(sid, [picture])
        draft = {"t": [{"tt": 7, "sg": [{"s": 0, "d": 1000, "txt": "hello"}]}]}
        with pytest.raises(client_errors.NemoInsufficientStorageError) as render:
            c.create_render(sid, draft, format="mp4", quality="low")
        assert c.credits().available == balance
    for caught in (upload.value, render.value):
        assert caught.code == DISK_CODE and caught.http_status == DISK_CODE
        assert caught.limit == FLOOR_MB * MB and caught.switch == "--min-free-disk-mb"
        assert f"{FLOOR_MB:.1f} MB free" in str(caught) and "operator" in str(caught)
    assert not client_errors.is_transient(upload.value) and client_errors.refused_before_accept(upload.value)
    assert len(recorder.sent("POST", f"/api/upload-video/nemo_agent/me/{sid}")) == 1
    assert len(recorder.sent("POST", "/api/render/proxy/lambda")) == 1
