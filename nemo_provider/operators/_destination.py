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

from airflow.sdk.exceptions import AirflowException


class NemoDownloadError(AirflowException):
    """The exported file did not arrive whole."""


@dataclass(frozen=True)
class Delivered:
    """Where the file ended up and how big it is."""

    path: str
    size: int


def default_destination_dir() -> str:
    """Where exports go when no destination is given (``$NEMO_EXPORT_DIR`` or a temp folder)."""
    return os.environ.get("NEMO_EXPORT_DIR") or os.path.join(tempfile.gettempdir(), "nemo-exports")


def is_remote(destination: str) -> bool:
    """True for object storage URIs (``s3://…``, ``gs://…``), false for plain paths and ``file://``."""
    return "://" in destination and not destination.startswith("file://")


def resolve_destination(destination: str | None, render_id: str, fmt: str) -> str:
    """A full file path: a folder (trailing slash or existing dir) gets ``<render_id>.<fmt>`` appended."""
    filename = f"{render_id}.{fmt}"
    if not destination:
        return os.path.join(default_destination_dir(), filename)
    destination = str(destination)
    if destination.startswith("file://"):
        destination = destination[len("file://") :]
    if destination.endswith("/") or (not is_remote(destination) and os.path.isdir(destination)):
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

    from airflow.sdk import ObjectStoragePath

    with tempfile.TemporaryDirectory(prefix="nemo-export-") as tmp:
        local = os.path.join(tmp, os.path.basename(destination) or "export")
        client.download(source, local)
        local_size = os.path.getsize(local)
        _verify(destination, local_size, expected_size)
        target = ObjectStoragePath(destination)
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
