"""Uploads, as both sides state them: the accepted extensions and the per-file size limit, checked on
the client's constants, nemo_local's, the contract's text, and by real uploads from the client to a
real nemo_local (the two lists had drifted: the server took `.jpeg`, the client refused it)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from nemo_local.ingest import sniff
from nemo_local.limits import MB, Limits
from nemo_provider.client import NemoClient
from nemo_provider.client._error_map import ErrorContext, error_for
from nemo_provider.client.constants import ACCEPTED_UPLOAD_EXTENSIONS, MAX_UPLOAD_BYTES
from nemo_provider.client.errors import NemoFileTooLargeError, NemoUnsupportedFileTypeError
from tests.conftest import NemoServer

from .conftest import Recorder, contract_list

#: Extensions that are another name of a format the contract lists.
ALIASES = {"jpeg": "jpg"}


def _upload_path(session_id: str) -> str:
    return f"/api/upload-video/nemo_agent/me/{session_id}"


def test_one_list_of_accepted_extensions(sample_files: dict[str, Path]) -> None:
    client = set(ACCEPTED_UPLOAD_EXTENSIONS)
    assert client == set(sniff.ACCEPTED_EXTENSIONS) == set(sniff.KIND_BY_EXT)
    formats = contract_list(r"Accepted: ([a-z0-9, ]+)\. Limit")
    assert {ALIASES.get(ext, ext) for ext in client} == set(formats)
    assert set(sample_files) == client  # each one is uploaded for real below


def test_every_accepted_extension_uploads_from_the_client_to_nemo_local(
    client: NemoClient, recorder: Recorder, sample_files: dict[str, Path]
) -> None:
    session_id = client.create_session().session_id
    files = [sample_files[ext] for ext in sorted(sample_files)]
    result = client.upload(session_id, files=files)
    assert sorted(f.filename for f in result.files) == sorted(p.name for p in files)
    assert len(recorder.sent("POST", _upload_path(session_id))) == 1  # the client held none back


def test_bytes_that_are_not_their_extension_are_refused_by_the_server_with_the_clients_error(
    client: NemoClient, recorder: Recorder, tmp_path: Path
) -> None:
    session_id = client.create_session().session_id
    fake = tmp_path / "clip.mp4"
    fake.write_text("just some text, not a video")
    with pytest.raises(NemoUnsupportedFileTypeError) as caught:
        client.upload(session_id, files=[fake])
    assert caught.value.code == 4001 and caught.value.http_status == 415  # the server's answer
    assert recorder.sent("POST", _upload_path(session_id))


def test_an_extension_outside_the_list_is_refused_by_both_sides(
    client: NemoClient, recorder: Recorder, nemo_server: NemoServer, tmp_path: Path
) -> None:
    session_id = client.create_session().session_id
    flac = tmp_path / "tone.flac"
    flac.write_bytes(b"fLaC" + bytes(60))
    with pytest.raises(NemoUnsupportedFileTypeError):
        client.upload(session_id, files=[flac])
    assert not recorder.sent("POST", _upload_path(session_id))  # refused before sending
    answer = httpx.post(
        nemo_server.base_url + _upload_path(session_id),
        headers={"Authorization": f"Bearer {client.token}"},
        files={"files": (flac.name, flac.read_bytes(), "audio/flac")},
    )
    assert (answer.status_code, answer.json()["code"]) == (415, 4001)


def test_one_upload_size_limit() -> None:
    (megabytes,) = contract_list(r"Limit (\d+) MB per file")
    assert MAX_UPLOAD_BYTES == Limits().upload_file_bytes == int(megabytes) * MB


def test_a_servers_own_size_limit_is_the_one_the_clients_error_names() -> None:
    """nemo_local's limit is a switch (--max-upload-mb): its 4002 says which, and the client repeats it."""
    data = {"filename": "big.mp4", "size": 60 * MB, "limit": 50 * MB}
    err = error_for(4002, 413, "File too large", ErrorContext("http://x"), data=data)
    assert isinstance(err, NemoFileTooLargeError)
    assert (err.limit, err.size) == (50 * MB, 60 * MB) and "the limit is 50.0 MB" in str(err)
    default = error_for(4002, 413, "File too large", ErrorContext("http://x"), data={"size": 1})
    assert isinstance(default, NemoFileTooLargeError) and default.limit == MAX_UPLOAD_BYTES
