"""Each limit's switch: a CLI flag, defaulting to its environment variable, else the built-in default;
nonsense values stop the server at start with one line naming the switch."""

from __future__ import annotations

import argparse

import pytest

from nemo_local import cli
from nemo_local.limits import MB, SPECS, Limits, add_arguments


def _parse(argv: list[str], env: dict[str, str]) -> Limits:
    parser = argparse.ArgumentParser()
    add_arguments(parser, env)
    return Limits.from_args(parser.parse_args(argv))


def test_defaults_env_and_flags() -> None:
    assert _parse([], {}) == Limits()
    env = {"NEMO_LOCAL_MAX_SEGMENTS": "50", "NEMO_LOCAL_MAX_BODY_MB": "0.5"}
    assert _parse([], env).draft_segments == 50 and _parse([], env).body_bytes == MB // 2
    assert _parse(["--max-segments", "7"], env).draft_segments == 7  # the flag wins
    assert Limits.from_env(env).draft_segments == 50
    assert Limits().message_bytes == 16 * 1024 and Limits().export_seconds == 600.0


@pytest.mark.parametrize("value", ["0", "-1", "inf", "nan"])
def test_nonsense_values_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="--max-segments must be a positive number"):
        _parse(["--max-segments", value], {})


def test_the_server_refuses_to_start_with_a_bad_limit(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "--max-upload-files", "0", "--port", "0"]) == 2
    assert "--max-upload-files must be a positive number" in capsys.readouterr().err


def test_every_limit_has_a_flag_and_an_env_var() -> None:
    assert all(s.flag.startswith("--") and s.env.startswith("NEMO_LOCAL_") for s in SPECS)
    assert {s.name for s in SPECS} == set(Limits.__dataclass_fields__)
