"""Export destinations: a ``file://`` URI is object storage (the same ObjectStoragePath code as ``s3://``),
so what the distributed tests prove with a shared ``file://`` location is what a bucket gets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nemo_provider.operators import _destination
from nemo_provider.operators._destination import is_remote, resolve_destination
from nemo_provider.operators.nemo import NemoExportOperator

SID = "1234567890123456789"


@pytest.mark.parametrize(
    ("destination", "remote"),
    [("s3://bucket/x.mp4", True), ("gs://b/x", True), ("file:///srv/share/x.mp4", True),
     ("/srv/share/x.mp4", False), ("exports/x.mp4", False)],
)  # fmt: skip
def test_every_uri_is_object_storage(destination: str, remote: bool) -> None:
    assert is_remote(destination) is remote


def test_folder_uris_get_the_render_file_name(tmp_path: Path) -> None:
    assert resolve_destination("s3://bucket/nemo/", "render_1", "mp3") == "s3://bucket/nemo/render_1.mp3"
    # an existing folder named without the trailing slash is asked of the store, as for a local path
    assert resolve_destination(tmp_path.as_uri(), "render_1", "mp3") == f"{tmp_path.as_uri()}/render_1.mp3"
    assert resolve_destination(f"{tmp_path.as_uri()}/a.mp3", "r", "mp3") == f"{tmp_path.as_uri()}/a.mp3"


def test_a_file_uri_export_goes_through_object_storage_and_returns_the_uri(
    fake_client, records, ti, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    real = _destination.storage_path

    def spy(uri: str):
        opened.append(uri)
        return real(uri)

    monkeypatch.setattr(_destination, "storage_path", spy)
    share = tmp_path / "shared bucket"  # a space: Path.as_uri() percent-escapes it
    uri = share.as_uri() + "/run-1/"
    out = NemoExportOperator(
        task_id="export", session_id=SID, deferrable=False, poll_interval=0.01, destination=uri
    ).execute({"ti": ti})
    assert out["path"] == f"{uri}{out['render_id']}.mp4", "the XCom carries the URI, not a worker path"
    assert out["path"] in opened, "delivered through ObjectStoragePath"
    written = share / "run-1" / f"{out['render_id']}.mp4"
    assert written.read_bytes() == fake_client.payload
    assert out["size"] == len(fake_client.payload)
    manifest = json.loads((share / "run-1" / f"{out['render_id']}.mp4.nemo.json").read_text())
    assert manifest["file"]["size"] == len(fake_client.payload), "the delivered size, not the service's"


def test_a_retry_that_cannot_read_the_previous_render_fails_instead_of_starting_another(
    fake_client, records, ti, new_try, tmp_path: Path
) -> None:
    """A 429 storm or an outage during the resume check must not cost a second render."""
    from nemo_provider._compat import AirflowException
    from nemo_provider.client.errors import NemoRateLimitError

    def export(**kw):
        return NemoExportOperator(task_id="export", session_id=SID, deferrable=False, poll_interval=0.01,
                                  destination=str(tmp_path) + "/", **kw)  # fmt: skip

    export(wait_for_completion=False).execute({"ti": ti})  # try 1 started the render, then died
    assert fake_client.renders_created == 1 and records.records
    real = fake_client.render_status

    def limited(render_id: str):
        raise NemoRateLimitError("Rate limited", code=429, http_status=429)

    fake_client.render_status = limited  # type: ignore[method-assign]
    with pytest.raises(AirflowException, match="next try resumes it"):
        export().execute({"ti": new_try(ti)})
    assert fake_client.renders_created == 1 and records.records, "the record is kept for the next try"
    fake_client.render_status = real  # type: ignore[method-assign]
    out = export().execute({"ti": new_try(new_try(ti))})
    assert fake_client.renders_created == 1
    assert Path(out["path"]).read_bytes() == fake_client.payload


@pytest.mark.parametrize(
    ("variable", "expected"),
    [
        ("file:///shared/nemo/", "file:///shared/nemo"),  # a deployment's shared location comes first
        (None, "/env/exports"),  # not set: NEMO_EXPORT_DIR
        (RuntimeError("no task context"), "/env/exports"),  # outside a task there is no Variable store
    ],
)
def test_the_default_destination_is_the_shared_variable_then_the_env(
    monkeypatch: pytest.MonkeyPatch, variable: object, expected: str
) -> None:
    from airflow.sdk import Variable

    def get(key: str, default: object = None) -> object:
        assert key == _destination.EXPORT_DESTINATION_VARIABLE
        if isinstance(variable, Exception):
            raise variable
        return default if variable is None else variable

    monkeypatch.setattr(Variable, "get", staticmethod(get))
    monkeypatch.setenv("NEMO_EXPORT_DIR", "/env/exports")
    assert _destination.default_destination_dir() == expected
    assert _destination.resolve_destination(None, "render_1", "mp3") == f"{expected}/render_1.mp3"


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("file:///srv/shared%20bucket/a%20b.mp3", ("file", "/srv/shared bucket/a b.mp3")),
        ("/srv/shared bucket/a b.mp3", ("file", "/srv/shared bucket/a b.mp3")),
        ("s3://bucket/nemo/a.mp3", ("s3://bucket", "nemo/a.mp3")),
        ("https://cdn.example.com/m/a.mp3", ("https://cdn.example.com", "/m/a.mp3")),
    ],
)
def test_lineage_names_a_file_uri_and_its_path_as_one_dataset(
    location: str, expected: tuple[str, str]
) -> None:
    from nemo_provider.operators._lineage import dataset_name

    assert dataset_name(location) == expected


def test_a_folder_is_asked_of_the_file_system_or_once_of_the_object_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk import ObjectStoragePath
    from airflow.sdk.io import fs
    from fsspec.implementations.memory import MemoryFileSystem

    memory = MemoryFileSystem()
    monkeypatch.setitem(fs._register_filesystems(), "memory", lambda conn_id: memory)
    ObjectStoragePath("memory://bucket/exports/keep").write_bytes(b"x")  # the folder exists
    asked: list[str] = []
    real = _destination.storage_path

    def spy(uri: str):
        asked.append(uri)
        return real(uri)

    monkeypatch.setattr(_destination, "storage_path", spy)
    assert resolve_destination(tmp_path.as_uri(), "r", "mp3") == f"{tmp_path.as_uri()}/r.mp3"
    assert asked == [], "a file:// location is a local folder: no object store is asked"
    assert resolve_destination("memory://bucket/exports", "r", "mp3") == "memory://bucket/exports/r.mp3"
    assert resolve_destination("memory://bucket/exports/a.mp3", "r", "mp3") == "memory://bucket/exports/a.mp3"
    assert asked == ["memory://bucket/exports", "memory://bucket/exports/a.mp3"], "one question per URI"
