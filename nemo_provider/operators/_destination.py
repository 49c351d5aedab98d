"""Deliver a finished render to where the user asked: a local path or an ObjectStoragePath URI.

The client downloads to a local file (streamed, with the ``/download`` fallback); for object storage the
file is then streamed into the target, so a large export is never held in memory. The size is checked
against what the service reported, so a truncated transfer fails the task instead of passing silently.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nemo_provider._compat import AirflowException


class NemoDownloadError(AirflowException):
    """The exported file did not arrive whole."""


@dataclass(frozen=True)
class Delivered:
    """Where the file ended up and how big it is."""

    path: str
    size: int


#: The Airflow Variable naming a deployment's shared export location: an object-storage URI (or shared
#: ``file://`` folder) every worker and the api-server reach (docs/deployment.md).
EXPORT_DESTINATION_VARIABLE = "nemo_export_destination"


def default_destination_dir() -> str:
    """Where exports go when no destination is given: the ``nemo_export_destination`` Variable, else
    ``$NEMO_EXPORT_DIR``, else a temp folder. The Variable comes first so that a distributed deployment
    never leaves a file on one worker's disk because a DAG left its destination empty."""
    shared = _shared_destination()
    if shared:
        return shared.rstrip("/")
    return os.environ.get("NEMO_EXPORT_DIR") or os.path.join(tempfile.gettempdir(), "nemo-exports")


def _shared_destination() -> str | None:
    """The Variable's value; None when it is not set, or outside a task (no Variable store to ask)."""
    try:
        from airflow.sdk import Variable

        value = Variable.get(EXPORT_DESTINATION_VARIABLE, default=None)
    except Exception as err:  # no task context (a library call, a unit test): there is no shared location
        import logging

        logging.getLogger(__name__).debug("No %s Variable to read: %s", EXPORT_DESTINATION_VARIABLE, err)
        return None
    if value is None:
        return None
    return str(value).strip() or None


def is_remote(destination: str) -> bool:
    """True for every URI (``s3://``, ``gs://``, ``file://``), false for plain paths.

    ``file://`` counts as object storage on purpose: on a distributed deployment it names a location
    every worker mounts (standing in for a bucket), and it goes through ``ObjectStoragePath`` exactly
    like ``s3://``, so the path a test proves is the path production takes. The result keeps the URI.
    """
    return "://" in str(destination)


def local_path(path_or_uri: str) -> str | None:
    """The file-system path a location names: a plain path itself, a ``file://`` URI decoded (its
    percent-escapes, as ``Path.as_uri()`` writes them); None for object storage. The one reader of
    ``file://`` for the provider (uploads, the gate, the manifest, the tracks page)."""
    if path_or_uri.startswith("file://"):
        from urllib.parse import unquote, urlsplit

        return unquote(urlsplit(path_or_uri).path)
    return None if is_remote(path_or_uri) else path_or_uri


def storage_path(uri: str) -> Any:
    """``ObjectStoragePath`` of a URI (a ``file://`` one with its percent-escapes decoded)."""
    from airflow.sdk import ObjectStoragePath

    local = local_path(uri)
    return ObjectStoragePath("file://" + local if local is not None else uri)


def _is_folder(destination: str) -> bool:
    """A trailing slash, or an existing directory. A path or ``file://`` URI is answered by the file
    system; any other URI by one question to its object store."""
    if destination.endswith("/"):
        return True
    local = local_path(destination)
    if local is not None:
        return os.path.isdir(local)
    try:
        return bool(storage_path(destination).is_dir())
    except (OSError, ValueError):
        return False


def resolve_destination(destination: str | None, render_id: str, fmt: str) -> str:
    """A full file path or URI: a folder (trailing slash or existing dir) gets ``<render_id>.<format>``."""
    filename = f"{render_id}.{fmt}"
    if not destination:
        return os.path.join(default_destination_dir(), filename)
    destination = str(destination)
    if _is_folder(destination):
        return destination.rstrip("/") + "/" + filename
    return destination


def deliver(client: Any, source: str, destination: str, expected_size: int | None) -> Delivered:
    """Download ``source`` (a URL or render id) to ``destination`` and verify its size."""
    if not is_remote(destination):
        Path(destination).parent.mkdir(parents=True, exist_ok=True)
        client.download(source, destination)
        size = os.path.getsize(destination)
        _verify(destination, size, expected_size)
        return Delivered(path=str(Path(destination).resolve()), size=size)

    with tempfile.TemporaryDirectory(prefix="nemo-export-") as tmp:
        local = os.path.join(tmp, os.path.basename(destination) or "export")
        client.download(source, local)
        local_size = os.path.getsize(local)
        _verify(destination, local_size, expected_size)
        target = storage_path(destination)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(local, "rb") as src, target.open("wb") as out:
            shutil.copyfileobj(src, out, length=1024 * 1024)
        size = int(target.stat().st_size)
    _verify(destination, size, local_size)
    return Delivered(path=destination, size=size)


def _verify(destination: str, size: int, expected: int | None) -> None:
    if size <= 0:
        raise NemoDownloadError(f"The export written to {destination} is empty.")
    if expected and size != expected:
        raise NemoDownloadError(
            f"The export written to {destination} is {size} bytes, but the service reported {expected}: "
            "the transfer was cut short. Retrying the task downloads it again without re-rendering."
        )
