"""The provider's metadata pins nothing of Airflow's: installing it must never move a user's Airflow.

Airflow's own constraint files pin its dependency tree; a provider that adds an upper bound or an exact
version to one of those packages makes pip/uv downgrade or upgrade Airflow itself to satisfy it (seen:
a ``cadwyn>=6.1.1`` pin upgraded Airflow 3.1.8 to 3.3.2). The test versions live in constraints/.
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import tomllib
from packaging.requirements import Requirement

REPO_ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
_AIRFLOW_DISTS = ("apache-airflow", "apache-airflow-core", "apache-airflow-task-sdk")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _airflow_requirements() -> set[str]:
    """Every package the installed Airflow distributions require (their unconditional dependencies)."""
    names: set[str] = set()
    for dist in _AIRFLOW_DISTS:
        for line in importlib.metadata.requires(dist) or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                names.add(_canonical(req.name))
    return names


def _provider_requirements() -> list[Requirement]:
    return [Requirement(line) for line in PYPROJECT["project"]["dependencies"]]


def test_airflow_is_required_as_a_range_not_a_pin() -> None:
    (airflow,) = [r for r in _provider_requirements() if _canonical(r.name) == "apache-airflow"]
    operators = {spec.operator for spec in airflow.specifier}
    assert operators == {">="}, f"apache-airflow must be an open lower bound, got {airflow}"
    assert airflow.specifier.contains("3.1.0") and airflow.specifier.contains("3.3.2")


def test_no_package_of_airflows_is_bounded_above_or_pinned() -> None:
    airflows = _airflow_requirements()
    assert {"fastapi", "pydantic", "httpx"} <= airflows, "Airflow's requirement list looks unreadable"
    offending = [
        str(req)
        for req in _provider_requirements()
        if _canonical(req.name) in airflows
        and any(spec.operator in {"<", "<=", "==", "===", "~=", "!="} for spec in req.specifier)
    ]
    assert offending == [], f"the provider pins Airflow's own packages: {offending}"


def test_the_provider_does_not_require_airflows_api_server_internals() -> None:
    names = {_canonical(r.name) for r in _provider_requirements()}
    assert not names & {"fastapi", "cadwyn", "svcs", "starlette", "uvicorn"}, names


def test_every_constraints_file_pins_its_airflow_version() -> None:
    files = sorted((REPO_ROOT / "constraints").glob("airflow-*.txt"))
    assert files, "no constraints files"
    for path in files:
        version = path.stem.removeprefix("airflow-")
        pins = dict(
            line.split("==", 1) for line in path.read_text().splitlines() if line and not line.startswith("#")
        )
        assert pins.get("apache-airflow") == version, path
        assert "tinysoundfont" not in pins and "pyaudio" not in pins, path
