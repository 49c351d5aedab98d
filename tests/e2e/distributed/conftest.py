"""The distributed deployment (tests/e2e/distributed/deployment.py), started once per test session.

PostgreSQL and Redis must be installed (scripts/install-services.sh does it; scripts/test.sh calls it):
a missing one fails the session with the command to run, it is never skipped.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .deployment import Deployment, deployment


@pytest.fixture(scope="session")
def stack() -> Iterator[Deployment]:
    with deployment() as dep:
        yield dep
