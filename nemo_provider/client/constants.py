"""Limits and names fixed by the API contract, kept in one place so checks and messages agree."""

from __future__ import annotations

DEFAULT_BASE_URL = "https://mega-api-prod.nemovideo.ai"

#: File extensions of the upload formats the service accepts (contract, endpoint 4; "jpeg" is jpg's
#: other name). nemo_local states them too (nemo_local/ingest/sniff.py): tests/contract holds the two equal.
ACCEPTED_UPLOAD_EXTENSIONS: tuple[str, ...] = (
    "mp4",
    "mov",
    "avi",
    "webm",
    "mkv",
    "jpg",
    "jpeg",
    "png",
    "gif",
    "webp",
    "mp3",
    "wav",
    "m4a",
    "aac",
)

#: Per-file upload limit (200 MB, from the product description; nemo_local's default, see tests/contract).
MAX_UPLOAD_BYTES = 200 * 1024 * 1024

#: A full per-user storage quota (not in the contract): nemo_local answers HTTP 422 with its own code
#: 4004 (earlier versions: the generic 422) and names the quota in ``data.field``. The client knows it
#: by either (tests/client/test_storage_quota.py holds them to a real nemo_local).
STORAGE_QUOTA_CODE = 4004
STORAGE_QUOTA_FIELD = "stored files"

#: Export formats of `POST /api/render/proxy/lambda` (nemo_local's too, see tests/contract).
EXPORT_FORMATS: tuple[str, ...] = ("mp4", "mov", "webm", "mkv", "avi", "gif", "mp3", "wav", "m4a", "aac")

#: Attribution: the service refuses export with 402 for anonymous users without these.
SKILL_SOURCE = "airflow-provider-nemo"

#: How long one `/run_sse` conversation turn may take (contract: up to 15 minutes).
MESSAGE_CEILING_S = 900.0

#: "Still working" is reported at most this often while only keep-alives arrive.
STILL_WORKING_EVERY_S = 120.0

#: Wait used for HTTP 429 when the server sends no usable Retry-After.
DEFAULT_RETRY_AFTER_S = 30.0
