"""The X-Client-Id the client makes is one nemo_local takes at the first try (the contract: at most 64
characters). The render ids it plans are sent to a real nemo_local in test_export.py."""

from __future__ import annotations

import re

from nemo_provider.client import NemoClient
from tests.conftest import NemoServer

from .conftest import Recorder, contract_text


def test_the_client_id_the_client_makes_is_taken_at_the_first_try(nemo_server: NemoServer) -> None:
    (limit,) = re.findall(r"`X-Client-Id: <uuid>` \(≤ (\d+) chars\)", contract_text())
    recorder = Recorder()
    with NemoClient(nemo_server.base_url, transport=recorder) as client:
        client.credits()  # acquires an anonymous token with the client id it made
    (first, *_) = recorder.sent("POST", "/api/auth/anonymous-token")
    assert 0 < len(first.headers["x-client-id"]) <= int(limit)
    assert len(recorder.sent("POST", "/api/auth/anonymous-token")) == 1  # no 400, no second try
