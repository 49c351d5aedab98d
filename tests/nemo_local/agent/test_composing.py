from __future__ import annotations

import subprocess
import sys


def test_warm_up_loads_the_engine_not_just_the_package() -> None:
    """The package exports lazily, so warming a worker must import the engine itself, or the first
    compose would pay for scipy after all."""
    probe = (
        "import sys; from nemo_local.agent.composing import _warm_up; _warm_up(); "
        "print('nemo_local.composer.engine' in sys.modules, 'scipy.signal' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split() == ["True", "True"]
