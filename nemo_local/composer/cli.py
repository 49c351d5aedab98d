"""``nemo-local compose "<prompt>" [--duration S] [--seed N] [--loop] --out track.wav|.mp3``.

Prints the track's metadata as one JSON object on stdout; the server's CLI (nemo_local/cli.py) delegates
its ``compose`` sub-command here.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nemo_local.composer.prompt import parse_prompt
from nemo_local.composer.track import SUPPORTED_EXTENSIONS


def build_parser(prog: str = "nemo-local compose") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Compose a mastered background track from a text prompt."
    )
    parser.add_argument("prompt", help='what to compose, e.g. "calm lo-fi for a 2-minute product video"')
    parser.add_argument("--duration", type=float, default=None, help="seconds (overrides the prompt)")
    parser.add_argument("--seed", type=int, default=None, help="seed (same prompt + seed = same track)")
    parser.add_argument("--loop", action="store_true", default=None, help="make it loop seamlessly")
    parser.add_argument(
        "--out", "-o", type=Path, default=None, help=f"output file ({', '.join(SUPPORTED_EXTENSIONS)})"
    )
    parser.add_argument("--cover", type=Path, default=None, help="also write a PNG cover here")
    parser.add_argument("--plan-only", action="store_true", help="print the plan without composing")
    return parser


def compose_command(argv: list[str]) -> int:
    """Run the compose command; returns the process exit code (0 ok, 2 usage error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.out is None and not args.plan_only:
        parser.error("--out is required (or use --plan-only)")
    if args.out is not None and args.out.suffix.lower() not in SUPPORTED_EXTENSIONS:
        parser.error(f"--out must end in one of {', '.join(SUPPORTED_EXTENSIONS)}")
    plan = parse_prompt(args.prompt, duration_s=args.duration, seed=args.seed, loop=args.loop)
    if args.plan_only:
        print(json.dumps(plan.model_dump(), ensure_ascii=False))
        return 0
    from nemo_local.composer.engine import compose  # the synthesis stack: only when composing

    track = compose(plan)
    track.write(args.out)
    if args.cover is not None:
        track.write_cover(args.cover)
    print(json.dumps({**track.metadata, "path": str(args.out)}, ensure_ascii=False))
    return 0


def main() -> None:
    sys.exit(compose_command(sys.argv[1:]))
