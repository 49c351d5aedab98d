"""The `nemo-local` command line: serve's switches, compose delegated to the engine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nemo_local", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
    )


def test_serve_help_lists_every_switch() -> None:
    out = _run("serve", "--help")
    assert out.returncode == 0
    for flag in ("--data-dir", "--admin-token", "--allow-private-urls", "--silent-edit-share", "--fault-429-burst",
                 "--fault-5xx-rate", "--fault-slow-ms", "--fault-sse-cut-after", "--fault-render-fail",
                 "--fault-render-stuck", "--fault-errors-in-200", "--fault-render-shape-b", "--fault-expire-tokens",
                 "--fault-lose-sessions"):  # fmt: skip
        assert flag in out.stdout


def test_compose_delegates_to_the_engine(tmp_path: Path) -> None:
    wav = tmp_path / "t.wav"
    out = _run("compose", "calm lo-fi", "--duration", "2", "--seed", "3", "-o", str(wav))
    assert out.returncode == 0, out.stderr
    meta = json.loads(out.stdout)
    assert meta["duration_ms"] == 2000 and meta["seed"] == 3 and wav.stat().st_size > 100_000
