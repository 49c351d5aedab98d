"""check(report, expect) -> QualityResult: each expectation against the measurement, with tolerances.

Every check yields an outcome (measured, expected, tolerance, passed, note); the result passes when no
judged check missed. A check that cannot be judged (no audio to take a tempo from, a tempo estimate with
too low a confidence) is reported with ``judged=False`` rather than counted either way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from nemo_provider.quality import tolerances as tol
from nemo_provider.quality.expect import Expectations
from nemo_provider.quality.formats import AUDIO_ONLY, format_spec
from nemo_provider.quality.report import MediaReport, clean


@dataclass
class Outcome:
    name: str
    passed: bool
    measured: Any
    expected: Any
    tolerance: str = ""
    note: str = ""
    judged: bool = True

    def describe(self) -> str:
        text = f"{self.name}: measured {_fmt(self.measured)}, expected {_fmt(self.expected)}"
        if self.tolerance:
            text += f" ({self.tolerance})"
        return text + (f"; {self.note}" if self.note else "")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return str(value)


@dataclass
class QualityResult:
    passed: bool
    outcomes: list[Outcome]
    measured: dict[str, Any]
    expected: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    @property
    def misses(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.judged and not o.passed]

    def summary(self) -> str:
        if self.passed:
            judged = sum(1 for o in self.outcomes if o.judged)
            return f"all {judged} checks passed" + (f" ({'; '.join(self.notes)})" if self.notes else "")
        return f"{len(self.misses)} check(s) missed: " + "; ".join(o.describe() for o in self.misses)

    def as_dict(self) -> dict[str, Any]:
        return clean(
            {
                "passed": self.passed,
                "summary": self.summary(),
                "misses": [asdict(o) for o in self.misses],
                "checks": [asdict(o) for o in self.outcomes],
                "notes": list(self.notes),
                "measured": self.measured,
                "expected": self.expected,
            }
        )


def check(report: MediaReport, expect: Expectations | Mapping[str, Any] | None = None) -> QualityResult:
    """Judge ``report`` against ``expect`` (see Expectations; tolerances in ``tolerances``)."""
    exp = Expectations.from_value(expect)
    out: list[Outcome] = []
    notes: list[str] = []
    _streams(report, exp, out)
    _duration(report, exp, out)
    if report.audio is not None:
        _audio(report, exp, out, notes)
    if report.video is not None:
        _video(report, exp, out)
    notes.extend(o.note for o in out if o.passed and o.note)
    passed = not any(o.judged and not o.passed for o in out)
    return QualityResult(
        passed=passed,
        outcomes=out,
        measured=report.as_dict(curves=False),
        expected=clean(exp.as_dict()),
        notes=notes,
    )


def _streams(r: MediaReport, exp: Expectations, out: list[Outcome]) -> None:
    spec = format_spec(exp.format) if exp.format else None
    if exp.format and spec is None:
        out.append(Outcome("format", False, r.container, exp.format, note="not a known export format"))
        return
    audio_ok = (exp.audio_codec,) if exp.audio_codec else (spec.audio_codecs if spec else None)
    video_ok = (exp.video_codec,) if exp.video_codec else (spec.video_codecs if spec else None)
    got_a = r.audio.codec if r.audio else None
    got_v = r.video.codec if r.video else None
    if audio_ok is not None:
        out.append(Outcome("audio_codec", got_a in audio_ok, got_a, " or ".join(audio_ok)))
    if video_ok is not None:
        out.append(Outcome("video_codec", got_v in video_ok, got_v, " or ".join(video_ok)))
    if exp.format and exp.format.lower() in AUDIO_ONLY and got_v is not None and r.video is not None:
        # cover art in an MP3 shows up as a one-frame video stream: that is fine, a moving picture is not
        out.append(
            Outcome("no_video", r.video.frames <= 1, f"{got_v} ({r.video.frames} frames)", "audio only")
        )


def _duration(r: MediaReport, exp: Expectations, out: list[Outcome]) -> None:
    if exp.duration_s is None:
        return
    if r.video is not None and r.video.frames > 1:
        measured, frame = r.video.duration_s, 1 / r.video.fps if r.video.fps else 0.0
    elif r.audio is not None:
        measured, frame = r.audio.duration_s, r.audio.frame_s
    else:
        measured, frame = r.duration_s, 0.0
    if r.container in tol.UNTRIMMED_CONTAINERS:
        frame *= 2  # the encoder's priming frame and the last frame's padding have no field to trim them
    allowed = max(tol.DURATION_TOLERANCE_S, frame)
    out.append(
        Outcome(
            "duration_s",
            abs(measured - exp.duration_s) <= allowed + 1e-9,
            measured,
            exp.duration_s,
            f"± {allowed * 1000:.0f} ms",
        )
    )


def _audio(r: MediaReport, exp: Expectations, out: list[Outcome], notes: list[str]) -> None:
    a = r.audio
    assert a is not None
    if exp.lufs is not None:
        m = a.integrated_lufs
        ok = m is not None and abs(m - exp.lufs) <= tol.LOUDNESS_TOLERANCE_LU
        out.append(Outcome("loudness_lufs", ok, m, exp.lufs, f"± {tol.LOUDNESS_TOLERANCE_LU:g} LU"))
    if exp.true_peak_max_dbtp is not None:
        m = a.true_peak_dbtp
        ok = m is None or m <= exp.true_peak_max_dbtp
        out.append(Outcome("true_peak_dbtp", ok, m, f"<= {exp.true_peak_max_dbtp:g}"))
    if exp.clipping:
        out.append(Outcome("clipping", a.clipped_runs == 0, f"{a.clipped_runs} clipped run(s)", "none"))
    if exp.silence:
        _silence(a, exp, out)
    if exp.bpm:
        out.append(_tempo(a.tempo_bpm, a.tempo_confidence or 0.0, float(exp.bpm)))
    if exp.key:
        out.append(_key(a.key, a.key_confidence or 0.0, exp.key))
    if exp.loop:
        _seam(r, out)


def _silence(a: Any, exp: Expectations, out: list[Outcome]) -> None:
    lead_max = tol.MAX_LOOP_EDGE_SILENCE_S if exp.loop else tol.MAX_LEADING_SILENCE_S
    trail_max = tol.MAX_LOOP_EDGE_SILENCE_S if exp.loop else tol.MAX_TRAILING_SILENCE_S
    if a.leading_silence_s is not None:
        out.append(
            Outcome(
                "leading_silence_s", a.leading_silence_s <= lead_max, a.leading_silence_s, f"<= {lead_max:g}"
            )
        )
    if a.trailing_silence_s is not None:
        out.append(
            Outcome(
                "trailing_silence_s",
                a.trailing_silence_s <= trail_max,
                a.trailing_silence_s,
                f"<= {trail_max:g}",
            )
        )
    where = ", ".join(f"{s:.2f}-{e:.2f} s" for s, e in a.dropouts[:5])
    out.append(
        Outcome("dropouts", not a.dropouts, where or "none", "none", f">= {tol.DROPOUT_MIN_S * 1000:.0f} ms")
    )


def _tempo(measured: float | None, confidence: float, expected: float) -> Outcome:
    tolerance = f"± {tol.TEMPO_TOLERANCE:.0%}, half/double accepted"
    if measured is None or confidence < tol.MIN_TEMPO_CONFIDENCE:
        note = f"no clear beat (confidence {confidence:.2f} < {tol.MIN_TEMPO_CONFIDENCE})"
        return Outcome("tempo_bpm", True, measured, expected, tolerance, note, judged=False)
    for factor, note in ((1.0, ""), (0.5, "heard at half tempo"), (2.0, "heard at double tempo")):
        if abs(measured / (expected * factor) - 1) <= tol.TEMPO_TOLERANCE:
            return Outcome("tempo_bpm", True, measured, expected, tolerance, note)
    return Outcome("tempo_bpm", False, measured, expected, tolerance)


def _key(measured: str | None, confidence: float, expected: str) -> Outcome:
    from nemo_provider.quality.music import parse_key, relative_of

    want = parse_key(expected)
    if want is None:
        return Outcome("key", False, measured, expected, note="the expected key is not a key name")
    got = parse_key(measured)
    if got is None or confidence < tol.MIN_KEY_CONFIDENCE:
        note = f"no clear key (confidence {confidence:.2f} < {tol.MIN_KEY_CONFIDENCE})"
        return Outcome("key", True, measured, expected, "same or relative", note, judged=False)
    if got == want:
        return Outcome("key", True, measured, expected, "same or relative")
    if got == relative_of(*want):
        return Outcome("key", True, measured, expected, "same or relative", "heard as the relative key")
    return Outcome("key", False, measured, expected, "same or relative")


def _seam(r: MediaReport, out: list[Outcome]) -> None:
    s = r.audio.seam if r.audio else None
    if s is None:
        out.append(Outcome("loop_seam", True, None, "inaudible", note="too short to judge", judged=False))
        return
    ok = (
        s.level_ratio <= tol.SEAM_MAX_RATIO
        and s.spectral_ratio <= tol.SEAM_MAX_RATIO
        and s.click_ratio <= 1.0
    )
    measured = (
        f"level jump {s.level_jump_db:.1f} dB ({s.level_ratio:.2f}x the track's largest), spectral jump "
        f"{s.spectral_jump:.1f} dB ({s.spectral_ratio:.2f}x), click ratio {s.click_ratio:.2f}"
    )
    out.append(
        Outcome(
            "loop_seam",
            ok,
            measured,
            "inaudible",
            f"jumps <= {tol.SEAM_MAX_RATIO:g}x the track's own largest, click ratio <= 1",
        )
    )


def _video(r: MediaReport, exp: Expectations, out: list[Outcome]) -> None:
    v = r.video
    assert v is not None
    if exp.lines is not None:
        short = min(v.width, v.height)
        out.append(Outcome("lines", short == exp.lines, f"{v.width}x{v.height}", f"{exp.lines}p"))
    if exp.width is not None:
        out.append(Outcome("width", v.width == exp.width, v.width, exp.width))
    if exp.height is not None:
        out.append(Outcome("height", v.height == exp.height, v.height, exp.height))
    if exp.fps is not None:
        ok = v.fps is not None and abs(v.fps - exp.fps) <= max(0.01, exp.fps * 0.001)
        out.append(Outcome("fps", ok, v.fps, exp.fps))
    if exp.av_sync and r.av_offset_s is not None:
        allowed, note = tol.AV_SYNC_TOLERANCE_S, ""
        if r.container in tol.UNTRIMMED_CONTAINERS and r.audio is not None and r.audio.frame_s:
            allowed += 2 * r.audio.frame_s  # untrimmed priming and padding lengthen the audio, not skew it
            note = "audio priming and padding the container cannot trim are allowed"
        out.append(
            Outcome(
                "av_sync_s",
                abs(r.av_offset_s) <= allowed + 1e-9,
                r.av_offset_s,
                0.0,
                f"± {allowed * 1000:.0f} ms",
                note,
            )
        )
