"""The provider's metadata pins nothing of Airflow's: installing it must never move a user's Airflow.

Airflow's own constraint files pin its dependency tree; a provider that adds an upper bound or an exact
version to one of those packages makes pip/uv downgrade or upgrade Airflow itself to satisfy it (seen:
a ``cadwyn>=6.1.1`` pin upgraded Airflow 3.1.8 to 3.3.2). The test versions live in constraints/.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
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


# -- the built distributions -------------------------------------------------------------------------

PROVIDER_VERSION = re.search(
    r'^__version__ = "([^"]+)"', (REPO_ROOT / "nemo_provider" / "__init__.py").read_text(), re.M
).group(1)  # type: ignore[union-attr]


@pytest.fixture(scope="session")
def dist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Wheels and sdists of both distributions: scripts/test.sh's (NEMO_DIST_DIR) or built here."""
    given = os.environ.get("NEMO_DIST_DIR")
    if given:
        return Path(given)
    out = tmp_path_factory.mktemp("dist")
    env = {**os.environ, "NEMO_LOCAL_REQUIREMENT": f"nemo-local=={PROVIDER_VERSION}"}
    for project in (REPO_ROOT, REPO_ROOT / "packages" / "nemo-local"):
        subprocess.run(
            [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(project)],
            env=env,
            check=True,
            capture_output=True,
        )
    return out


def _wheel(dist: Path, name: str) -> zipfile.ZipFile:
    (path,) = dist.glob(f"{name}-{PROVIDER_VERSION}-py3-none-any.whl")
    return zipfile.ZipFile(path)


def _metadata(wheel: zipfile.ZipFile, file: str) -> str:
    (info,) = {n.split("/")[0] for n in wheel.namelist() if n.split("/")[0].endswith(".dist-info")}
    return wheel.read(f"{info}/{file}").decode()


@pytest.mark.slow
def test_the_provider_wheel_ships_only_nemo_provider(dist_dir: Path) -> None:
    wheel = _wheel(dist_dir, "airflow_provider_nemo")
    top = {n.split("/")[0] for n in wheel.namelist()} - {
        f"airflow_provider_nemo-{PROVIDER_VERSION}.dist-info"
    }
    assert top == {"nemo_provider"}
    metadata = _metadata(wheel, "METADATA")
    assert f"Requires-Dist: nemo-local=={PROVIDER_VERSION}; extra == 'local'" in metadata
    assert "file://" not in metadata, "a release wheel must not name a local path"
    entry_points = _metadata(wheel, "entry_points.txt")
    assert "provider_info = nemo_provider.get_provider_info:get_provider_info" in entry_points
    assert "nemo-local" not in entry_points, "the music server's command belongs to nemo-local"


@pytest.mark.slow
def test_nemo_local_is_its_own_distribution_with_its_command(dist_dir: Path) -> None:
    wheel = _wheel(dist_dir, "nemo_local")
    names = wheel.namelist()
    assert "nemo_local/composer/sampler.py" in names and "nemo_local/cli.py" in names
    assert not [n for n in names if n.startswith("nemo_provider/")]
    assert "nemo-local = nemo_local.cli:main" in _metadata(wheel, "entry_points.txt")
    requires = [
        line for line in _metadata(wheel, "METADATA").splitlines() if line.startswith("Requires-Dist")
    ]
    names_required = {_canonical(Requirement(line.split(":", 1)[1]).name) for line in requires}
    assert {"sf2utils", "pretty-midi", "numpy", "fastapi", "av"} <= names_required
    assert not names_required & {"tinysoundfont", "pyaudio", "apache-airflow"}


@pytest.mark.slow
def test_the_provider_sdist_carries_the_backend_for_its_local_extra(dist_dir: Path) -> None:
    (sdist,) = dist_dir.glob(f"airflow_provider_nemo-{PROVIDER_VERSION}.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert "packages/nemo-local/pyproject.toml" in names
    assert "packages/nemo-local/nemo_local/composer/sampler.py" in names
    assert "CHANGELOG.md" in names and "nemo_provider/__init__.py" in names
    assert not [n for n in names if n.startswith(("tests/", "nemo_local/"))]


def test_both_distributions_share_one_version() -> None:
    backend = (REPO_ROOT / "nemo_local" / "__init__.py").read_text()
    assert f'__version__ = "{PROVIDER_VERSION}"' in backend
    changelog = (REPO_ROOT / "CHANGELOG.md").read_text()
    assert re.search(rf"^## \[?{re.escape(PROVIDER_VERSION)}\]?", changelog, re.M), "CHANGELOG has no entry"


def test_the_quality_extra_installs_what_the_gate_imports() -> None:
    """pyproject's ``quality`` extra and the modules the gate looks for (``quality.available()``) are one list."""
    from nemo_provider import quality

    extra = PYPROJECT["project"]["optional-dependencies"]["quality"]
    names = sorted(_canonical(Requirement(req).name) for req in extra)
    assert names == sorted((*quality.REQUIRED_MODULES, *quality.SPEEDUP_MODULES))
