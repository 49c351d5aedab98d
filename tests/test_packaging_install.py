"""Installing the provider's wheel into an existing Airflow changes none of that Airflow's packages.

For the newest patch of every supported minor (one constraints file each), a fresh venv gets
``apache-airflow==<version>`` as pip/uv resolve it from Airflow's own metadata: what a team's image has.
Then ``pip install --dry-run --report`` of the provider wheel must plan no upgrade or downgrade of
anything installed, the real install must leave every version as it was, ``pip check`` must report
nothing new, and Airflow's ProvidersManager must see the ``nemo`` connection type.

uv's and pip's download caches make a rerun take seconds per version.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import test_packaging
from tests.test_packaging import PROVIDER_VERSION, REPO_ROOT, _canonical

dist_dir = test_packaging.dist_dir  # the built distributions (a fixture, shared with test_packaging.py)

AIRFLOW_VERSIONS = sorted(
    (p.stem.removeprefix("airflow-") for p in (REPO_ROOT / "constraints").glob("airflow-*.txt")),
    key=lambda v: tuple(int(x) for x in v.split(".")),
)


def _run(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "VIRTUAL_ENV", "PYTHONPATH"))}
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{args} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


def _installed(python: Path) -> dict[str, str]:
    out = _run(python, "-m", "pip", "list", "--format=json", "--disable-pip-version-check").stdout
    return {_canonical(d["name"]): d["version"] for d in json.loads(out)}


def _pip_check(python: Path) -> set[str]:
    proc = _run(python, "-m", "pip", "check", "--disable-pip-version-check", check=False)
    return {line for line in proc.stdout.splitlines() if line and "No broken requirements" not in line}


def test_every_supported_minor_has_a_constraints_file() -> None:
    minors = {".".join(v.split(".")[:2]) for v in AIRFLOW_VERSIONS}
    assert {"3.1", "3.2", "3.3"} <= minors, AIRFLOW_VERSIONS


@pytest.mark.slow
@pytest.mark.parametrize("airflow_version", AIRFLOW_VERSIONS)
def test_installing_the_provider_moves_no_package_of_an_existing_airflow(
    airflow_version: str, dist_dir: Path, tmp_path: Path
) -> None:
    beside = Path(sys.executable).with_name("uv")  # the dev extra installs uv into the venv
    uv = str(beside) if beside.is_file() else shutil.which("uv")
    assert uv, "uv comes with the dev extra (scripts/setup.sh)"
    venv = tmp_path / "airflow"
    python = venv / "bin" / "python"
    _run(uv, "venv", "--quiet", "--seed", "--python", sys.executable, venv)
    _run(uv, "pip", "install", "--quiet", "--python", python, f"apache-airflow=={airflow_version}")
    before = _installed(python)
    assert before["apache-airflow"] == airflow_version
    broken_before = _pip_check(python)
    (wheel,) = dist_dir.glob(f"airflow_provider_nemo-{PROVIDER_VERSION}-py3-none-any.whl")

    report = json.loads(
        _run(
            python,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--quiet",
            "--report",
            "-",
            "--disable-pip-version-check",
            wheel,
        ).stdout
    )
    planned = {
        _canonical(item["metadata"]["name"]): item["metadata"]["version"] for item in report["install"]
    }
    assert planned.get("airflow-provider-nemo") == PROVIDER_VERSION
    moved = {name: (before[name], version) for name, version in planned.items() if name in before}
    assert moved == {}, f"pip would change the existing Airflow {airflow_version} environment: {moved}"

    _run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel)
    after = _installed(python)
    assert {name: after.get(name) for name in before} == before
    assert _pip_check(python) <= broken_before, "pip check reports new problems"

    probe = (
        "from airflow.providers_manager import ProvidersManager; pm = ProvidersManager(); "
        "print(pm.providers['airflow-provider-nemo'].version, 'nemo' in pm.hooks)"
    )
    env_home = tmp_path / "home"
    out = _run(
        "env", f"AIRFLOW_HOME={env_home}", "AIRFLOW__CORE__LOAD_EXAMPLES=False", python, "-c", probe
    ).stdout
    assert re.search(rf"^{re.escape(PROVIDER_VERSION)} True$", out, re.M), out


@pytest.mark.slow
def test_the_nemo_local_wheel_alone_composes_in_a_fresh_venv(dist_dir: Path, tmp_path: Path) -> None:
    """Everything the engine needs (SoundFont, sf2utils, ffmpeg) comes with the wheel and its dependencies."""
    beside = Path(sys.executable).with_name("uv")
    uv = str(beside) if beside.is_file() else shutil.which("uv")
    assert uv
    venv = tmp_path / "backend"
    _run(uv, "venv", "--quiet", "--python", sys.executable, venv)
    (wheel,) = dist_dir.glob(f"nemo_local-{PROVIDER_VERSION}-py3-none-any.whl")
    _run(uv, "pip", "install", "--quiet", "--python", venv / "bin" / "python", wheel)
    out = tmp_path / "track.wav"
    result = _run(
        venv / "bin" / "nemo-local", "compose", "calm piano", "--duration", "4", "--out", out,
        "--cover", tmp_path / "cover.png",
    )  # fmt: skip
    metadata = json.loads(result.stdout.strip().splitlines()[-1])
    assert metadata["lufs"] == pytest.approx(-14.0, abs=0.5)
    assert out.stat().st_size > 4 * 44100 * 2 and (tmp_path / "cover.png").stat().st_size > 1000
    freeze = _run(uv, "pip", "freeze", "--python", venv / "bin" / "python").stdout
    assert "apache-airflow" not in freeze and "tinysoundfont" not in freeze.lower()
