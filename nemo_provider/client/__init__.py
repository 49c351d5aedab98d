"""Pure client for the Nemo agent API (no Airflow import here or below).

Names are imported lazily (PEP 562): `import nemo_provider.client.draft` or a DAG file that only
needs a model does not pay for httpx and both runners until a client is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nemo_provider.client._core import (
        new_render_id,
    )
    from nemo_provider.client.async_ import (
        AsyncNemoClient,
    )
    from nemo_provider.client.constants import (
        ACCEPTED_UPLOAD_EXTENSIONS,
        DEFAULT_BASE_URL,
        EXPORT_FORMATS,
        MAX_UPLOAD_BYTES,
    )
    from nemo_provider.client.draft import (
        Draft,
        Segment,
        Track,
    )
    from nemo_provider.client.errors import (
        NemoAPIError,
        NemoAuthError,
        NemoConnectionError,
        NemoDuplicateRenderIdError,
        NemoError,
        NemoFileTooLargeError,
        NemoInsufficientCreditsError,
        NemoInsufficientStorageError,
        NemoMissingClientIdError,
        NemoPlanRestrictedError,
        NemoRateLimitError,
        NemoRenderError,
        NemoServerError,
        NemoSessionNotFoundError,
        NemoStorageQuotaError,
        NemoStreamError,
        NemoUnsupportedFileTypeError,
    )
    from nemo_provider.client.models import (
        AnonymousToken,
        Credits,
        DownloadResult,
        GeneratedMedia,
        MessageResult,
        RenderStatus,
        SessionInfo,
        SessionState,
        StreamError,
        ToolCall,
        ToolResult,
        UploadedFile,
        UploadResult,
    )
    from nemo_provider.client.polling import poll_render_status
    from nemo_provider.client.routing import (
        route,
        translate_gui,
    )
    from nemo_provider.client.sync import (
        NemoClient,
    )

_EXPORTS: dict[str, str] = {
    "new_render_id": "nemo_provider.client._core",
    "AsyncNemoClient": "nemo_provider.client.async_",
    "ACCEPTED_UPLOAD_EXTENSIONS": "nemo_provider.client.constants",
    "DEFAULT_BASE_URL": "nemo_provider.client.constants",
    "EXPORT_FORMATS": "nemo_provider.client.constants",
    "MAX_UPLOAD_BYTES": "nemo_provider.client.constants",
    "Draft": "nemo_provider.client.draft",
    "Segment": "nemo_provider.client.draft",
    "Track": "nemo_provider.client.draft",
    "NemoAPIError": "nemo_provider.client.errors",
    "NemoAuthError": "nemo_provider.client.errors",
    "NemoConnectionError": "nemo_provider.client.errors",
    "NemoDuplicateRenderIdError": "nemo_provider.client.errors",
    "NemoError": "nemo_provider.client.errors",
    "NemoFileTooLargeError": "nemo_provider.client.errors",
    "NemoInsufficientCreditsError": "nemo_provider.client.errors",
    "NemoInsufficientStorageError": "nemo_provider.client.errors",
    "NemoMissingClientIdError": "nemo_provider.client.errors",
    "NemoPlanRestrictedError": "nemo_provider.client.errors",
    "NemoRateLimitError": "nemo_provider.client.errors",
    "NemoRenderError": "nemo_provider.client.errors",
    "NemoServerError": "nemo_provider.client.errors",
    "NemoSessionNotFoundError": "nemo_provider.client.errors",
    "NemoStorageQuotaError": "nemo_provider.client.errors",
    "NemoStreamError": "nemo_provider.client.errors",
    "NemoUnsupportedFileTypeError": "nemo_provider.client.errors",
    "AnonymousToken": "nemo_provider.client.models",
    "Credits": "nemo_provider.client.models",
    "DownloadResult": "nemo_provider.client.models",
    "GeneratedMedia": "nemo_provider.client.models",
    "MessageResult": "nemo_provider.client.models",
    "RenderStatus": "nemo_provider.client.models",
    "SessionInfo": "nemo_provider.client.models",
    "SessionState": "nemo_provider.client.models",
    "StreamError": "nemo_provider.client.models",
    "ToolCall": "nemo_provider.client.models",
    "ToolResult": "nemo_provider.client.models",
    "UploadedFile": "nemo_provider.client.models",
    "UploadResult": "nemo_provider.client.models",
    "poll_render_status": "nemo_provider.client.polling",
    "route": "nemo_provider.client.routing",
    "translate_gui": "nemo_provider.client.routing",
    "NemoClient": "nemo_provider.client.sync",
}

__all__ = [
    "ACCEPTED_UPLOAD_EXTENSIONS",
    "DEFAULT_BASE_URL",
    "EXPORT_FORMATS",
    "MAX_UPLOAD_BYTES",
    "AnonymousToken",
    "AsyncNemoClient",
    "Credits",
    "DownloadResult",
    "Draft",
    "GeneratedMedia",
    "MessageResult",
    "NemoAPIError",
    "NemoAuthError",
    "NemoClient",
    "NemoConnectionError",
    "NemoDuplicateRenderIdError",
    "NemoError",
    "NemoFileTooLargeError",
    "NemoInsufficientCreditsError",
    "NemoInsufficientStorageError",
    "NemoMissingClientIdError",
    "NemoPlanRestrictedError",
    "NemoRateLimitError",
    "NemoRenderError",
    "NemoServerError",
    "NemoSessionNotFoundError",
    "NemoStorageQuotaError",
    "NemoStreamError",
    "NemoUnsupportedFileTypeError",
    "RenderStatus",
    "Segment",
    "SessionInfo",
    "SessionState",
    "StreamError",
    "ToolCall",
    "ToolResult",
    "Track",
    "UploadResult",
    "UploadedFile",
    "new_render_id",
    "poll_render_status",
    "route",
    "translate_gui",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
