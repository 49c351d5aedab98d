"""BlockFilter: a signal filtered as it arrives, in pieces of any size, is the whole-signal filtering
bit for bit; measure()'s streamed decode gives the samples decode() gives on its own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nemo_provider.quality import decode as decoding
from nemo_provider.quality import measuring
from nemo_provider.quality.filtering import _HOP, N_FFT, BlockFilter, Filtered, filter_signal

from .conftest import SR, ffmpeg


def _same(a: Filtered, b: Filtered) -> None:
    for name in ("samples", "weighted", "mono"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.shape == y.shape, name
        assert np.array_equal(x, y), name


@pytest.mark.parametrize(("capacity", "channels"), [(0, 2), (10**6, 2), (3 * _HOP + 5, 1)])
def test_pieces_of_any_size_filter_as_the_whole_signal(capacity: int, channels: int) -> None:
    """Pieces from 1 sample to several blocks, with ``run`` after some of them (so blocks are filtered
    while the rest is still to come) and buffers that grow past a wrong guess of the length."""
    rng = np.random.default_rng(capacity)
    n = 7 * N_FFT + 123
    x = rng.normal(0, 0.2, (n, channels)).astype(np.float32)
    whole = filter_signal(x, SR, 2)
    streamed = BlockFilter(channels, SR, 2, capacity)
    at = 0
    while at < n:
        k = int(rng.choice([1, 17, 1024, _HOP - 1, _HOP + 1, 3 * _HOP]))
        piece = np.ascontiguousarray(x[at : at + k].T)
        streamed.extend([piece[:, : k // 2], piece[:, k // 2 :]])
        at += k
        if rng.random() < 0.5:
            streamed.run()
    assert streamed.done > 0, "no block was filtered before the end"
    _same(streamed.close(), whole)


def test_close_splits_the_blocks_left_over_the_map() -> None:
    """Blocks left at ``close`` go to ``map`` in two spans that together cover them once."""
    x = np.random.default_rng(1).normal(0, 0.2, (5 * N_FFT, 2)).astype(np.float32)
    spans: list[tuple[int, int]] = []

    def spy(fn, items):  # type: ignore[no-untyped-def]
        items = list(items)
        spans.extend(items)
        return [fn(item) for item in items]

    f = BlockFilter(2, SR, 2, len(x))
    f.extend([np.ascontiguousarray(x.T)])
    f.run(2)
    _same(f.close(spy), filter_signal(x, SR, 2))
    (a, b), (c, d) = spans
    assert a == 2 and b == c and d == f.done and a <= b <= d


def test_an_empty_signal_filters_to_nothing() -> None:
    out = filter_signal(np.zeros((0, 2), np.float32), SR)
    assert out.samples.shape == out.weighted.shape == (0, 2)
    assert out.mono.shape == (0,)


@pytest.fixture(scope="module")
def music(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from nemo_local.composer import compose

    track = compose("upbeat corporate track", duration_s=12.0, seed=2)
    return track.write(tmp_path_factory.mktemp("streamed") / "music.wav")


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("aac.m4a", ["-c:a", "aac", "-b:a", "128k"]),
        ("aac.mkv", ["-c:a", "aac", "-b:a", "128k"]),  # the encoder's priming at negative times
        ("cbr.mp3", ["-c:a", "libmp3lame", "-b:a", "128k"]),
        ("s16.wav", ["-c:a", "pcm_s16le"]),  # resampled to float planes
    ],
)
def test_measure_streams_the_decode_into_the_filter_and_gets_decodes_samples(
    name: str, args: list[str], music: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / name
    ffmpeg("-i", str(music), *args, str(path))
    alone = decoding.decode(path)
    assert alone.audio is not None
    filters: list[BlockFilter] = []
    real = measuring._Streamed

    def spy(filter: BlockFilter, *rest):  # type: ignore[no-untyped-def]
        filters.append(filter)
        return real(filter, *rest)

    monkeypatch.setattr(measuring, "_Streamed", spy)
    report = measuring.measure(path)
    (streamed,) = filters
    assert streamed.n == len(alone.audio)
    assert np.array_equal(streamed.samples().T, alone.audio)
    assert report.audio is not None and report.audio.duration_s == len(alone.audio) / alone.sample_rate
    _same(streamed.close(), filter_signal(alone.audio, alone.sample_rate, streamed.decimation))


def test_priming_before_time_zero_is_dropped_across_pieces() -> None:
    got: list[np.ndarray] = []

    class Keep:
        def put(self, piece: np.ndarray) -> None:
            got.append(piece)

        def close(self) -> np.ndarray:
            return np.concatenate(got, axis=1)

    presented = decoding._Presented(Keep(), 1000)
    presented.start(-0.002)  # 2 ms at 1 kHz: two samples before time 0, in two pieces
    for i in range(4):
        presented.put(np.full((2, 1), float(i), np.float32))
    assert Keep().close()[0].tolist() == [2.0, 3.0]
    assert presented.first == -0.002


def test_a_decode_that_fails_midway_closes_the_stream(
    music: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The decoder raising after some samples went to the pool thread: measure() raises its clear
    error, and returns (a stream left open would keep the pool thread waiting, and its shutdown)."""
    import threading

    path = tmp_path / "track.m4a"
    ffmpeg("-i", str(music), "-c:a", "aac", str(path))
    real = decoding._decode_run

    def failing(ctx, packets, *rest):  # type: ignore[no-untyped-def]
        def cut_short():  # type: ignore[no-untyped-def]
            for i, packet in enumerate(packets):
                if i == 200:  # ~4.6 s in: past several batches of blocks
                    raise ValueError("Invalid data found when processing input")
                yield packet

        return real(ctx, cut_short(), *rest)

    monkeypatch.setattr(decoding, "_decode_run", failing)
    raised: list[BaseException] = []
    worker = threading.Thread(target=lambda: _catch(raised, measuring.measure, path), daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "measure() hung after a decode error"
    assert len(raised) == 1 and isinstance(raised[0], measuring.MediaUnreadableError), raised


def _catch(into: list[BaseException], fn, *args) -> None:  # type: ignore[no-untyped-def]
    try:
        fn(*args)
    except BaseException as err:  # the test inspects it
        into.append(err)
