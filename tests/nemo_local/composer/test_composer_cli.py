"""`nemo-local compose` logic (compose_command) and `python -m nemo_local.composer`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import pytest

from nemo_local.composer.cli import compose_command


def test_compose_command_writes_audio_cover_and_prints_metadata(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "t.mp3"
    cover = tmp_path / "c.png"
    code = compose_command(
        ["欢快 钢琴", "--duration", "3", "--seed", "9", "--out", str(out), "--cover", str(cover)]
    )
    assert code == 0
    meta = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert meta["seed"] == 9 and meta["duration_ms"] == 3000 and meta["path"] == str(out)
    assert meta["mood"] == "happy" and meta["genre"] == "piano"
    assert cover.stat().st_size > 1000
    with av.open(str(out)) as c:
        assert c.streams.audio[0].codec_context.name.startswith("mp3")


def test_plan_only_and_loop_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert compose_command(["dark ambient 45 seconds", "--loop", "--plan-only"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["loop"] is True and plan["duration_s"] == 45.0 and plan["mood"] == "dark"


@pytest.mark.parametrize("argv", [["calm"], ["calm", "--out", "x.txt"], ["--seed", "1"]])
def test_usage_errors_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        compose_command(argv)
    assert info.value.code == 2


def test_module_entry_point(tmp_path: Path) -> None:
    out = tmp_path / "m.wav"
    result = subprocess.run(
        [sys.executable, "-m", "nemo_local.composer", "calm piano", "--duration", "2", "--out", str(out)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert json.loads(result.stdout)["duration_ms"] == 2000
    assert out.stat().st_size == 44 + 2 * 44100 * 2 * 2
