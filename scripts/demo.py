"""The demo behind scripts/demo.sh: nemo_local + a throwaway Airflow home + `airflow dags test`.

Steps: start `nemo_local` on 127.0.0.1 (temp data dir), point `nemo_default` at it with an environment
connection, migrate a temporary SQLite Airflow home, run `airflow dags test
nemo_weekly_background_tracks`, stop the server, and list the exported files (probed with PyAV).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


def start_server(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    """Start nemo_local on a free port and wait until /healthz answers."""
    import httpx

    proc = subprocess.Popen(
        [sys.executable, "-m", "nemo_local", "serve", "--host", "127.0.0.1", "--port", "0",
         "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO, bufsize=1,
    )  # fmt: skip
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    base_url = None
    seen: list[str] = []
    while time.monotonic() < deadline and base_url is None:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        if match := LISTENING.search(line):
            base_url = match.group(1)
    if base_url is None:
        proc.kill()
        raise SystemExit("nemo_local did not start:\n" + "".join(seen))
    log = data_dir / "server.log"

    def drain() -> None:
        assert proc.stdout is not None
        with log.open("a") as out:
            for line in proc.stdout:
                out.write(line)

    threading.Thread(target=drain, daemon=True).start()
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return proc, base_url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"nemo_local at {base_url} never answered /healthz")


def stop_server(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def describe(path: Path) -> str:
    import av

    with av.open(str(path)) as container:
        seconds = (container.duration or 0) / 1_000_000
        video = [s for s in container.streams if s.type == "video"]
        size = f", {video[0].codec_context.width}x{video[0].codec_context.height}" if video else ""
    return f"{path}  ({path.stat().st_size / 1e6:.2f} MB, {seconds:.1f} s{size})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=15, help="seconds per track (default 15)")
    parser.add_argument("--prompt", action="append", help="a prompt (repeat for several; default: four)")
    parser.add_argument("--out", type=Path, help="where the files go (default: a new temp folder)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="nemo-demo-"))
    out = (args.out or work / "exports").resolve()
    out.mkdir(parents=True, exist_ok=True)
    home = work / "airflow-home"
    home.mkdir()
    print(f"demo folder: {work}")

    print("starting nemo_local …")
    proc, base_url = start_server(work / "nemo-data")
    print(f"nemo_local on {base_url}")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "example_dags"),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW_CONN_NEMO_DEFAULT": json.dumps({"conn_type": "nemo", "host": base_url}),
        "NEMO_EXPORT_DIR": str(out),
    }
    env.pop("NEMO_TOKEN", None)
    airflow = str(Path(sys.executable).parent / "airflow")
    conf: dict[str, object] = {"duration_s": args.duration, "output_dir": str(out)}
    if args.prompt:
        conf["prompts"] = args.prompt
    try:
        print("migrating a throwaway Airflow database …")
        subprocess.run([airflow, "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
        print("running: airflow dags test nemo_weekly_background_tracks (this renders real files) …")
        started = time.monotonic()
        run = subprocess.run(
            [airflow, "dags", "test", "nemo_weekly_background_tracks", "--conf", json.dumps(conf)],
            env=env, cwd=REPO, stdout=(work / "dags-test.log").open("w"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        elapsed = time.monotonic() - started
    finally:
        stop_server(proc)
        print("nemo_local stopped")

    files = sorted(p for p in out.rglob("*") if p.suffix in (".mp3", ".mp4"))
    expected = 2 * len(args.prompt or [1, 2, 3, 4])
    if run.returncode != 0 or len(files) < expected:
        print(
            f"the DAG run failed (exit {run.returncode}, {len(files)}/{expected} files); log: {work / 'dags-test.log'}"
        )
        return 1
    print(f"\nDAG run succeeded in {elapsed:.0f} s. Your tracks (play them with any media player):")
    for path in files:
        print("  " + describe(path))
    print(f"\nlog of the run: {work / 'dags-test.log'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
