"""compose(): prompt or plan -> arranged -> synthesized -> produced -> mastered track.

Stage timings are recorded on the track (``track.timings``) so the benchmark can show where time goes.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pretty_midi

from nemo_local.composer import effects, synth
from nemo_local.composer.arrange import arrange
from nemo_local.composer.master import master
from nemo_local.composer.naming import make_title
from nemo_local.composer.plan import MAX_DURATION_S, MIN_DURATION_S, MusicPlan
from nemo_local.composer.prompt import parse_prompt
from nemo_local.composer.styles import mix_levels
from nemo_local.composer.track import ComposedTrack

SAMPLE_RATE = synth.SAMPLE_RATE
_RELEASE_TAIL_S = 1.5


def _resolve_plan(
    plan: MusicPlan | str,
    duration_s: float | None,
    seed: int | None,
    loop: bool | None,
    default_duration_s: float,
) -> MusicPlan:
    if isinstance(plan, str):
        return parse_prompt(plan, default_duration_s, duration_s=duration_s, seed=seed, loop=loop)
    update: dict[str, Any] = {}
    if duration_s is not None:
        update["duration_s"] = max(MIN_DURATION_S, min(MAX_DURATION_S, float(duration_s)))
    if seed is not None:
        update["seed"] = int(seed)
    if loop is not None:
        update["loop"] = bool(loop)
    return MusicPlan.model_validate({**plan.model_dump(), **update}) if update else plan


def _fades(plan: MusicPlan, style_name: str) -> tuple[float, float]:
    d = plan.duration_s
    fade_in = 0.8 if style_name in ("ambient", "lofi") else 0.03
    fade_in = min(fade_in, d * 0.1)
    fade_out = min(3.0, max(0.4, 0.07 * d))
    return fade_in, min(fade_out, d * 0.4)


#: A build-up rises this much in level from its start to its last bars, beyond what its layers add.
BUILD_RISE_DB = 8.0


def _build_ramp(audio: np.ndarray, sr: int) -> np.ndarray:
    """Level rising (in dB, linearly) over the first 90 % of the track: the "build" a listener hears.
    Mastering then sets the loudness of the whole; its limiter holds the loud end's peaks."""
    n = len(audio)
    reach = max(1, int(n * 0.9))
    ramp_db = np.full(n, 0.0, dtype=np.float32)
    ramp_db[:reach] = np.linspace(-BUILD_RISE_DB, 0.0, reach, dtype=np.float32)
    audio *= (10 ** (ramp_db / 20))[:, None]
    return audio


def compose(
    plan: MusicPlan | str,
    *,
    duration_s: float | None = None,
    seed: int | None = None,
    loop: bool | None = None,
    default_duration_s: float = 30.0,
) -> ComposedTrack:
    """Compose a mastered track from a plan or a prompt; keyword arguments override the plan."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    resolved = _resolve_plan(plan, duration_s, seed, loop, default_duration_s)
    arrangement = arrange(resolved)
    style = arrangement.style
    t1 = time.perf_counter()
    timings["arrange"] = t1 - t0

    sr = SAMPLE_RATE
    n = round(resolved.duration_s * sr)
    # a loop folds its ringing tail back onto its start; a non-loop ends where it is cut (and faded)
    rendered = max(n, math.ceil(arrangement.music_end_s * sr)) + int(
        (_RELEASE_TAIL_S + style.reverb_seconds) * sr
    )
    if not resolved.loop:
        rendered = n
    fx_time = [0.0]

    def room(audio: np.ndarray, rate: int) -> np.ndarray:
        start = time.perf_counter()
        if style.name == "electronic" and style.drum_kind == "four":
            audio = effects.sidechain(audio, rate, bpm=arrangement.bpm)
        wet = effects.reverb(
            audio, rate, wet=style.reverb_wet, seconds=style.reverb_seconds, seed=resolved.seed
        )
        fx_time[0] += time.perf_counter() - start
        return wet

    audio = synth.render(
        arrangement, rendered, sr, levels=mix_levels(style, resolved.energy), melodic_fx=room
    )
    t2 = time.perf_counter()
    timings["synthesize"] = t2 - t1 - fx_time[0]

    audio = effects.wrap_tail(audio, n) if resolved.loop else audio[:n]
    if style.lofi_fx:  # band-limits on its own, narrower than tone() would
        audio = effects.lofi(audio, sr, seed=resolved.seed, circular=resolved.loop)
    else:
        audio = effects.tone(audio, sr, lowpass_hz=style.brightness_hz, circular=resolved.loop)
    t3 = time.perf_counter()
    timings["effects"] = t3 - t2 + fx_time[0]

    if resolved.shape == "build":
        audio = _build_ramp(audio, sr)
    fade_in, fade_out = _fades(resolved, style.name)
    mastered, report = master(audio, sr, fade_in_s=fade_in, fade_out_s=fade_out, loop=resolved.loop)
    t4 = time.perf_counter()
    timings["master"] = t4 - t3

    metadata: dict[str, Any] = {
        "title": make_title(resolved.mood, resolved.genre, resolved.seed),
        "prompt": resolved.prompt,
        "mood": resolved.mood,
        "genre": resolved.genre,
        "bpm": round(arrangement.bpm),
        "key": resolved.key_name,
        "duration_ms": round(len(mastered) * 1000 / sr),
        "seed": resolved.seed,
        "lufs": round(report.lufs, 2),
        "true_peak": round(report.true_peak_dbtp, 2),
        "loop": resolved.loop,
        "shape": resolved.shape,
        "energy": resolved.energy,
        "instruments": [
            f"{p.role}: {'drum kit' if p.instrument.is_drum else pretty_midi.program_to_instrument_name(p.instrument.program)}"
            for p in arrangement.parts
        ],
        "understood": list(resolved.understood),
    }
    timings["total"] = time.perf_counter() - t0
    return ComposedTrack(
        samples=np.ascontiguousarray(mastered, dtype=np.float32),
        sample_rate=sr,
        plan=resolved,
        metadata=metadata,
        timings=timings,
        midi=arrangement.midi,
    )
