"""Importing the quality package costs nothing heavy: no Airflow, no analysis library until measuring."""

from __future__ import annotations

import json
import subprocess
import sys


def test_import_is_lean_and_airflow_free() -> None:
    code = (
        "import sys, json; import nemo_provider.quality as q; q.Expectations(bpm=90); "
        "from nemo_provider.quality import checking, tolerances, formats; "
        "print(json.dumps(sorted(m for m in ('airflow', 'numpy', 'av', 'librosa', 'scipy', 'pyloudnorm') "
        "if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
