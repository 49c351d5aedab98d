"""An upload from local paths, ``file://`` URIs or object storage (NemoUploadOperator, NemoPromptOperator)."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any


def upload_files(
    client: Any, session_id: str, files: list[str], urls: list[str], log: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Upload and return (the XCom result, its lineage record)."""
    from nemo_provider.operators._destination import local_path
    from nemo_provider.operators._lineage import upload_info

    with tempfile.TemporaryDirectory(prefix="nemo-upload-") as tmp:
        # a file:// source is read in place (no copy); other URIs are streamed to a temp file first
        local_files = [local_path(f) or _localise(f, tmp) for f in files]
        result = client.upload(session_id, files=local_files or None, urls=urls or None)
    for f in result.files:
        log.info("Uploaded %s (%s) into session %s.", f.filename, f.file_type, session_id)
    out = {
        # the client re-creates an expired session (1002) for an upload and says which one it used
        "session_id": getattr(result, "session_id", None) or session_id,
        "files": [f.model_dump(mode="json") for f in result.files],
        "session_state_applied": result.session_state_applied,
    }
    return out, upload_info(files, urls, out)


def _localise(uri: str, folder: str) -> str:
    """Stream an object-storage file to a local temp file (the client uploads from disk)."""
    from nemo_provider.operators._destination import storage_path

    source = storage_path(uri)
    target = os.path.join(folder, source.name)
    with source.open("rb") as src, open(target, "wb") as out:
        shutil.copyfileobj(src, out, length=1024 * 1024)
    return target
