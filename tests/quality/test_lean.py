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


def test_without_threadpoolctl_measuring_still_works(tmp_path) -> None:
    """An install of the extra from before threadpoolctl joined it: the check runs, unlimited."""
    code = (
        "import sys; sys.modules['threadpoolctl'] = None\n"
        "import numpy as np, av\n"
        "from nemo_provider.quality import measure\n"
        "x = (0.1 * np.sin(np.arange(44100 * 2) / 7.0)).astype(np.float32)\n"
        f"path = {str(tmp_path / 'tone.wav')!r}\n"
        "with av.open(path, 'w') as out:\n"
        "    s = out.add_stream('pcm_f32le', rate=44100, layout='mono')\n"
        "    f = av.AudioFrame.from_ndarray(x.reshape(1, -1), format='flt', layout='mono')\n"
        "    f.sample_rate = 44100\n"
        "    [out.mux(p) for p in s.encode(f)]; [out.mux(p) for p in s.encode(None)]\n"
        "r = measure(path)\n"
        "print(round(r.audio.duration_s, 2))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "2.0"
