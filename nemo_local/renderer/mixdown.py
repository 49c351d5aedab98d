"""Mix the draft's audio in numpy, block by block: decode each source as a stream (PyAV), place, loop,
fade, sum, limit, and write the blocks out as they are done.

Doing this outside ffmpeg keeps the video encode a single simple pass, lets the cover card show the real
waveform, and makes every audio-only export a plain encode of one WAV. Working in blocks keeps memory flat:
an hour-long export holds a few 10 s blocks (plus each short looped source once), never the whole mix.
"""

from __future__ import annotations

import threading
import wave
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import numpy as np
from scipy.ndimage import minimum_filter1d, uniform_filter1d

from nemo_local.renderer.sources import SAMPLE_RATE, decoded
from nemo_local.renderer.sources import check_cancel as _check
from nemo_local.renderer.timeline import Segment, Timeline

_CEILING = 0.89  # about -1 dBFS
BLOCK = 10 * SAMPLE_RATE  # samples mixed at a time
_LOOP_CACHE = 60 * SAMPLE_RATE  # a looped source up to this long is decoded once and repeated from memory
# Samples every voice of one mix may keep for looping, together: 500 segments over one short source once
# held 25 MB each (12 GB). Past the budget a voice decodes its source again on each pass instead.
_LOOP_BUDGET = 4 * _LOOP_CACHE
_WINDOW = int(0.005 * SAMPLE_RATE) | 1  # the limiter's look-ahead
_MARGIN = 2 * _WINDOW  # context each side of a block, so block-wise limiting equals whole-mix limiting
PEAK_STEP = 256  # samples per peak value kept for the waveform picture


class _LoopBudget:
    """Samples the voices of one mix may hold as loop copies, all together."""

    def __init__(self, samples: int) -> None:
        self.left = samples

    def take(self, n: int) -> bool:
        if n > self.left:
            return False
        self.left -= n
        return True

    def give(self, n: int) -> None:
        self.left += n


class _Voice:
    """One segment's sound as a stream of samples on the timeline: looped (music) or once (clip sound),
    with its volume and fades. Holds at most a block, or a short loop within the mix's shared budget, in
    memory; a clip with a fade-out finds its length by a counting pass instead of buffering ahead."""

    def __init__(
        self,
        seg: Segment,
        path: Path,
        loop: bool,
        total: int,
        cancel: threading.Event | None,
        budget: _LoopBudget | None = None,
    ):
        self.seg, self.path, self.loop, self.cancel = seg, path, loop, cancel
        self.budget = budget if budget is not None else _LoopBudget(_LOOP_CACHE)
        self._held = 0  # samples of the budget this voice holds
        self.start = round(seg.start * SAMPLE_RATE)
        self.slot = max(0, min(round(seg.duration * SAMPLE_RATE), total - self.start))
        self.fade_in = int(seg.fade_in * SAMPLE_RATE)
        self.fade_out = int(seg.fade_out * SAMPLE_RATE)
        self.gain = np.float32(seg.volume)
        self.pos = 0  # clip samples handed out so far
        self.length: int | None = None  # the clip's length, once known
        self._buf: list[np.ndarray] = []
        self._buffered = 0
        self._gen: Generator[np.ndarray, None, None] | None = None
        self._pass = 0  # samples decoded in the current pass over the source
        self._first: list[np.ndarray] | None = [] if loop else None  # first pass, kept while short
        self._loop_audio: np.ndarray | None = None
        self._loop_at = 0
        self._end: int | None = None  # where a faded-out clip's sound ends, from the counting pass

    def close(self) -> None:
        if self._gen is not None:
            self._gen.close()
            self._gen = None

    def release(self) -> None:
        """The segment has played: drop its loop copy and give its budget back."""
        self.close()
        self._first = self._loop_audio = None
        self.budget.give(self._held)
        self._held = 0

    def _drop_first(self) -> None:
        self._first = None
        self.budget.give(self._held)
        self._held = 0

    def _clip_end(self) -> int:
        """min(clip length, slot) by decoding once without keeping anything: the fade-out must know where
        the clip ends, and buffering up to a fade-out of minutes ahead held hundreds of MB per voice."""
        if self._end is None:
            counted = 0
            gen = decoded(self.path, self.seg.source_offset, self.cancel)
            try:
                for chunk in gen:
                    counted += len(chunk)
                    if counted >= self.slot:
                        break
            finally:
                gen.close()
            self._end = min(counted, self.slot)
        return self._end

    def _next_chunk(self) -> np.ndarray | None:
        """The next decoded samples of the (looped) source; None when it has ended for good."""
        if self._loop_audio is not None:
            piece = self._loop_audio[self._loop_at : self._loop_at + BLOCK]
            self._loop_at = (self._loop_at + len(piece)) % len(self._loop_audio)
            return piece
        if self._gen is None:
            self._gen = decoded(self.path, self.seg.source_offset, self.cancel)
            self._pass = 0
        try:
            chunk: np.ndarray | None = next(self._gen)
        except StopIteration:
            chunk = None
        if chunk is not None:
            self._pass += len(chunk)
            if self._first is not None:
                if self._pass > _LOOP_CACHE or not self.budget.take(len(chunk)):
                    self._drop_first()  # too long to keep, or no budget left: later passes decode again
                else:
                    self._first.append(chunk)
                    self._held += len(chunk)
            return chunk
        self.close()
        if not self.loop or self._pass == 0:
            return None
        if self._first is not None:  # the whole source is short: repeat it from memory from now on
            self._loop_audio = np.concatenate(self._first)
            self._first = None
            self._loop_at = 0
        return self._next_chunk()

    def _fill(self, upto: int) -> None:
        """Decode until clip samples [pos, upto) are buffered or the clip has ended."""
        while self.length is None and self.pos + self._buffered < upto:
            _check(self.cancel)
            chunk = self._next_chunk()
            if chunk is None:
                self.length = self.pos + self._buffered
                break
            self._buf.append(chunk)
            self._buffered += len(chunk)
            if self.pos + self._buffered >= self.slot:
                self.length = self.slot
        if self.length is not None:
            self.length = min(self.length, self.slot)

    def take(self, n: int) -> np.ndarray:
        """The next ``n`` clip samples with gain and fades applied (zeros past the clip's end)."""
        end = self._clip_end() if not self.loop and self.fade_out > 0 else None
        self._fill(min(self.slot, self.pos + n))
        data = np.concatenate(self._buf) if self._buf else np.zeros((0, 2), dtype=np.float32)
        # a copy: a view of the rest would keep the whole block alive (3.5 MB per voice between blocks)
        got, rest = data[:n], data[n:].copy()
        self._buf, self._buffered = ([rest] if len(rest) else []), len(rest)
        length = self.length if self.length is not None else end if end is not None else self.slot
        got = got[: max(0, length - self.pos)]
        out = np.zeros((n, 2), dtype=np.float32)
        if len(got):
            # the envelope is worked out only where a fade is (most of a block has none): the same
            # values as over the whole block, ~3x less work for the mix of a minute
            head = max(0, min(len(got), min(self.fade_in, length) - self.pos)) if self.fade_in > 0 else 0
            tail = len(got)
            if self.fade_out > 0:
                tail = max(0, min(len(got), length - min(self.fade_out, length) - self.pos))
            for a, b in ((0, head), (tail, len(got))) if head <= tail else ((0, len(got)),):
                if b > a:
                    out[a:b] = (
                        got[a:b] * (self._envelope(self.pos + a, self.pos + b, length) * self.gain)[:, None]
                    )
            if tail > head:
                out[head:tail] = got[head:tail] * self.gain
        self.pos += n
        return out

    def _envelope(self, first: int, end: int, length: int) -> np.ndarray:
        """The fade gains of clip samples [first, end) of a clip ``length`` samples long."""
        idx = np.arange(first, end)
        env = np.ones(end - first, dtype=np.float32)
        if self.fade_in > 0:
            k = min(self.fade_in, length)
            ramp = idx < k
            env[ramp] = (idx[ramp] / max(1, k - 1)).astype(np.float32) if k > 1 else 0.0
        if self.fade_out > 0:
            k = min(self.fade_out, length)
            tail = idx >= length - k
            env[tail] *= ((length - 1 - idx[tail]) / max(1, k - 1)).astype(np.float32)
        return env


def _limit(x: np.ndarray) -> np.ndarray:
    """Keep a sum of loud sources under about -1 dBFS with a smooth look-ahead gain (no hard clipping)."""
    if len(x) == 0 or max(float(x.max()), -float(x.min())) <= _CEILING:
        return x
    peak = np.abs(x).max(axis=1)
    need = np.minimum(1.0, _CEILING / np.maximum(peak, 1e-9))
    gain = uniform_filter1d(minimum_filter1d(need, size=2 * _WINDOW - 1), size=_WINDOW)
    gain = np.minimum(gain, need)
    return (x * gain[:, None].astype(np.float32)).astype(np.float32)


safety_limit = _limit


def _raw_blocks(
    timeline: Timeline, resolve: Callable[[str], Path], cancel: threading.Event | None
) -> Iterator[np.ndarray]:
    total = round(timeline.duration * SAMPLE_RATE)
    voices: list[_Voice] = []
    budget = _LoopBudget(_LOOP_BUDGET)
    for seg in timeline.audio:
        assert seg.src is not None
        voices.append(_Voice(seg, resolve(seg.src), True, total, cancel, budget))
    for seg in timeline.video:
        if seg.volume > 0:
            assert seg.src is not None
            voices.append(_Voice(seg, resolve(seg.src), False, total, cancel, budget))
    try:
        for a in range(0, total, BLOCK):
            _check(cancel)
            b = min(total, a + BLOCK)
            mix = np.zeros((b - a, 2), dtype=np.float32)
            for v in voices:
                lo, hi = max(a, v.start), min(b, v.start + v.slot)
                if hi > lo and v.pos < v.slot:
                    mix[lo - a : hi - a] += v.take(hi - lo)
                    if v.pos >= v.slot:
                        v.release()  # done: no decoder or loop copy stays for a segment that has played
            yield mix
    finally:
        for v in voices:
            v.close()


def iter_mix(
    timeline: Timeline, resolve: Callable[[str], Path], cancel: threading.Event | None = None
) -> Iterator[np.ndarray]:
    """The mix as consecutive limited blocks, exactly the draft's duration in total. Each block is limited
    with ``_MARGIN`` samples of context on either side, which gives the same result as limiting it whole."""
    prev_tail = np.zeros((0, 2), dtype=np.float32)
    current: np.ndarray | None = None
    for block in _raw_blocks(timeline, resolve, cancel):
        if current is not None:
            ctx = np.concatenate([prev_tail, current, block[:_MARGIN]])
            yield _limit(ctx)[len(prev_tail) : len(prev_tail) + len(current)]
            prev_tail = np.concatenate([prev_tail, current])[-_MARGIN:]
        current = block
    if current is not None:
        ctx = np.concatenate([prev_tail, current])
        yield _limit(ctx)[len(prev_tail) :]


def mix_timeline(
    timeline: Timeline,
    resolve: Callable[[str], Path],
    cancel: threading.Event | None = None,
) -> np.ndarray:
    """The whole draft's audio as (n, 2) float32 at 44.1 kHz (for tests and short drafts; renders stream)."""
    blocks = list(iter_mix(timeline, resolve, cancel))
    return np.concatenate(blocks) if blocks else np.zeros((0, 2), dtype=np.float32)


def mix_to_sink(
    timeline: Timeline,
    sink: Callable[[bytes], None],
    resolve: Callable[[str], Path],
    cancel: threading.Event | None = None,
    progress: Callable[[float], None] | None = None,
) -> np.ndarray:
    """Hand the mix to ``sink`` as 16-bit stereo PCM, block by block; returns per-``PEAK_STEP`` peaks
    (m, 2) for the waveform picture (the full mix is never held in memory)."""
    total = max(1, round(timeline.duration * SAMPLE_RATE))
    peaks: list[np.ndarray] = []
    done = 0
    for block in iter_mix(timeline, resolve, cancel):
        sink(np.clip(np.round(block * 32767.0), -32768, 32767).astype("<i2").tobytes())
        # every 8th sample is plenty for a picture of the waveform, and 8x cheaper
        sparse = np.abs(block[:: PEAK_STEP // 32])
        usable = len(sparse) - len(sparse) % 32
        if usable:
            peaks.append(sparse[:usable].reshape(-1, 32, 2).max(axis=1))
        if len(sparse) > usable:
            peaks.append(sparse[usable:].max(axis=0, keepdims=True))
        done += len(block)
        if progress is not None:
            progress(done / total)
    return np.concatenate(peaks) if peaks else np.zeros((0, 2), dtype=np.float32)


def mix_to_wav(
    timeline: Timeline,
    wav_path: Path,
    resolve: Callable[[str], Path],
    cancel: threading.Event | None = None,
    progress: Callable[[float], None] | None = None,
) -> np.ndarray:
    """Write the mix as a 16-bit stereo WAV; returns the waveform peaks (see :func:`mix_to_sink`)."""
    with wave.open(str(wav_path), "wb") as fh:
        fh.setnchannels(2)
        fh.setsampwidth(2)
        fh.setframerate(SAMPLE_RATE)
        return mix_to_sink(timeline, fh.writeframes, resolve, cancel, progress)


# how ffmpeg reads the PCM of mix_to_sink from a pipe
PCM_INPUT = ["-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "2"]
