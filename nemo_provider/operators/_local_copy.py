"""A local path for any delivered file: itself, or a temporary copy of an object-storage object.

The gate and the manifest's sha256 read the file as it was delivered: for ``s3://…`` that means reading
it back from the store (streamed to a temporary file, never held in memory), not trusting the download.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from nemo_provider.operators._destination import local_path


@contextmanager
def local_copy(path_or_uri: str) -> Iterator[str]:
    local = local_path(path_or_uri)
    if local is not None:  # a plain path or a (shared) file:// one: read in place, never copied
        yield local
        return
    from nemo_provider.operators._destination import storage_path

    source = storage_path(path_or_uri)
    with tempfile.TemporaryDirectory(prefix="nemo-check-") as tmp:
        target = os.path.join(tmp, source.name or "media")
        with source.open("rb") as src, open(target, "wb") as out:
            shutil.copyfileobj(src, out, length=1024 * 1024)
        yield target


def sha256_of(path: str) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()
