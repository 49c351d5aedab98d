from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from nemo_provider.client import NemoClient

from .fake_api import FakeNemo

BASE = "https://mega-api-prod.nemovideo.ai"


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def fake() -> FakeNemo:
    return FakeNemo()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(fake: FakeNemo, sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch) -> Iterator[NemoClient]:
    monkeypatch.delenv("NEMO_TOKEN", raising=False)
    with NemoClient(BASE, client_id="cid-1", transport=httpx.MockTransport(fake), sleep=sleeps) as c:
        yield c
