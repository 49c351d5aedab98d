"""Measures the engine's audio for the synthesizer regression test (test_synth_reference.py).

    python tests/nemo_local/composer/synth_reference.py [--write]

For each reference prompt it composes a track and renders the arrangement's dry mix, and prints (or
writes to synth_reference.json) their loudness and the energy in five bands. The stored file was made
with the engine as it was on TinySoundFont 0.3.7 (``pip install --no-deps tinysoundfont==0.3.7`` and the
synth.py of that commit); the test holds the numpy sample player to those figures.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

PROMPTS = (
    "chill lo-fi",
    "upbeat corporate",
    "epic cinematic",
    "calm ambient",
    "energetic electronic",
    "happy acoustic",
    "romantic piano",
)
SEED = 7
DURATION_S = 15.0
BANDS_HZ = ((20, 150), (150, 500), (500, 2000), (2000, 6000), (6000, 16000))
REFERENCE = Path(__file__).with_name("synth_reference.json")


def band_levels_db(audio: np.ndarray, sample_rate: int) -> list[float]:
    """Energy per band (dB), from a Welch spectrum of the mono sum."""
    from scipy import signal

    freqs, power = signal.welch(audio.astype(np.float64).mean(axis=1), sample_rate, nperseg=4096)
    out = []
    for low, high in BANDS_HZ:
        band = (freqs >= low) & (freqs < high)
        out.append(round(10 * math.log10(float(power[band].sum()) + 1e-30), 3))
    return out


def loudness(audio: np.ndarray, sample_rate: int) -> float:
    import pyloudnorm

    return round(float(pyloudnorm.Meter(sample_rate).integrated_loudness(audio.astype(np.float64))), 3)


def measure(prompt: str) -> dict[str, Any]:
    from nemo_local.composer import compose, synth
    from nemo_local.composer.arrange import arrange
    from nemo_local.composer.prompt import parse_prompt
    from nemo_local.composer.styles import mix_levels

    track = compose(prompt, duration_s=DURATION_S, seed=SEED)
    plan = parse_prompt(prompt, DURATION_S, duration_s=DURATION_S, seed=SEED)
    arrangement = arrange(plan)
    sr = synth.SAMPLE_RATE
    dry = synth.render(
        arrangement, round(DURATION_S * sr), sr, levels=mix_levels(arrangement.style, plan.energy)
    )
    return {
        "instruments": track.metadata["instruments"],
        "track_lufs": loudness(track.samples, sr),
        "track_true_peak": track.metadata["true_peak"],
        "track_bands_db": band_levels_db(track.samples, sr),
        "dry_lufs": loudness(dry, sr),
        "dry_bands_db": band_levels_db(dry, sr),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"write {REFERENCE.name}")
    args = parser.parse_args()
    result = {prompt: measure(prompt) for prompt in PROMPTS}
    text = json.dumps({"seed": SEED, "duration_s": DURATION_S, "prompts": result}, indent=1)
    if args.write:
        REFERENCE.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
