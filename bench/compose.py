"""Benchmark: compose + synthesize + master a 60 s track (target: <= 1 s, i.e. >= 60x real time).

Runs several styles (their costs differ: sustained pads and dense comping hold more synthesizer voices),
three seeds each. Per style the fastest run counts (the timeit convention: on a shared machine the
least-disturbed run is the best estimate of the work itself; medians are printed too); the figure is the
mean over styles. Also printed: each stage's share, CPU time per track and the load average.

    python bench/compose.py [--duration 60] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from nemo_local.composer import compose

PROMPTS = (
    "chill lo-fi",
    "upbeat corporate",
    "epic cinematic",
    "calm ambient",
    "energetic electronic",
    "happy acoustic",
    "romantic piano",
)
STAGES = ("arrange", "synthesize", "effects", "master")
TARGET_S = 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    compose("warm up", duration_s=2.0, seed=0)  # imports, SoundFont bytes, filter designs
    per_style: dict[str, float] = {}
    stage_totals = dict.fromkeys(STAGES, 0.0)
    cpu: list[float] = []
    for prompt in PROMPTS:
        runs = []
        for i in range(args.repeat):
            t0 = time.perf_counter()
            c0 = time.process_time()
            track = compose(prompt, duration_s=args.duration, seed=100 + i)
            runs.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            for stage in STAGES:
                stage_totals[stage] += track.timings.get(stage, 0.0)
        per_style[prompt] = min(runs)
        print(
            f"{prompt:22s} best {min(runs):.3f} s, median {statistics.median(runs):.3f} s"
            f"  (runs: {', '.join(f'{r:.3f}' for r in runs)})"
            f"  {track.metadata['bpm']} BPM, lufs {track.metadata['lufs']}, tp {track.metadata['true_peak']}"
        )
    total = sum(stage_totals.values()) or 1.0
    print("stage shares: " + ", ".join(f"{s} {100 * v / total:.0f}%" for s, v in stage_totals.items()))
    value = statistics.mean(per_style.values())
    worst = max(per_style.values())
    print(
        f"load average during the run: {os.getloadavg()[0]:.2f} (2 cores); CPU time per track: median {statistics.median(cpu):.3f} s"
    )
    print(
        f"mean over styles {value:.3f} s for {args.duration:g} s of audio ({args.duration / value:.0f}x real time); worst style {worst:.3f} s"
    )
    print(
        json.dumps(
            {
                "bench": f"compose_{args.duration:g}s_track",
                "value": round(value, 3),
                "unit": "s",
                "target": TARGET_S,
                "baseline": args.duration,
                "ratio": round(value / args.duration, 4),
                "ok": value <= TARGET_S,
            }
        )
    )


if __name__ == "__main__":
    main()
