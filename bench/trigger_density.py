"""1,000 NemoRenderTriggers vs 1,000 HttpSensorTriggers in one event loop: CPU per 1,000 polls and RSS
per trigger (target: Nemo <= 1/2 of the http provider's figure on both).

Both variants poll the same nemo_local route, GET /api/render/proxy/lambda/<id>, at the same interval,
in the same run, each in a fresh interpreter (so RSS is its own):
- Nemo: real renders held in "processing" by the server's --fault-render-stuck switch; every poll
  parses the render status.
- http: HttpSensorTrigger only keeps polling while the answer is 404 (its one waiting mode), so it
  polls the ids of renders that do not exist (yet) — the same handler on the server, less client work.
Each variant: start the triggers, let them settle for a few intervals, then measure process CPU time
and polls over a fixed window and RSS growth over the process before the triggers were created.
Prints one JSON line at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

N = 1000
INTERVAL = 5.0
WARMUP = 12.0
WINDOW = 30.0
TARGET = 0.5
REPO = Path(__file__).resolve().parent.parent
LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


# --------------------------------------------------------------------------------------------- setup
def start_server(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "nemo_local", "serve", "--host", "127.0.0.1", "--port", "0",
         "--data-dir", str(data_dir), "--fault-render-stuck", "--anon-ip-limit", "100000",
         "--max-renders-per-user", str(2 * N)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO, bufsize=1,
    )  # fmt: skip
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if match := LISTENING.search(line):
            threading.Thread(target=lambda: [None for _ in proc.stdout or []], daemon=True).start()
            return proc, match.group(1)
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise SystemExit("nemo_local did not start")


def make_renders(base_url: str, client_id: str, n: int) -> tuple[str, list[str]]:
    """One composed track, then n renders of it that the server keeps in 'processing'."""
    from nemo_provider.client import AsyncNemoClient, NemoClient

    with NemoClient(base_url=base_url, client_id=client_id, timeout=120) as client:
        session = client.create_session(task_name="density bench")
        client.send_message(session.session_id, "Generate calm background music, 4 seconds long.")
        draft = client.state(session.session_id).draft
        assert draft is not None and draft.is_exportable, "the bench needs a track to render"
        token = client.token
        assert token

    async def create_all() -> list[str]:
        gate = asyncio.Semaphore(8)
        async with AsyncNemoClient(base_url=base_url, token=token, timeout=120) as aclient:

            async def one(i: int) -> str:
                async with gate:
                    rid = f"render_{int(time.time() * 1000)}{i:04d}"
                    status = await aclient.create_render(
                        session.session_id, draft, format="mp3", render_id=rid
                    )
                    return status.id

            return list(await asyncio.gather(*(one(i) for i in range(n))))

    return token, asyncio.run(create_all())


# --------------------------------------------------------------------------------------------- probe
def rss_bytes() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


async def probe(variant: str, ids: list[str], token: str) -> dict[str, float]:
    counter = {"polls": 0}
    if variant == "nemo":
        from nemo_provider.triggers.nemo import NemoRenderTrigger

        original = NemoRenderTrigger._poll

        async def counted(self, client):  # type: ignore[no-untyped-def]
            counter["polls"] += 1
            return await original(self, client)

        NemoRenderTrigger._poll = counted  # type: ignore[method-assign]

        def make(i: int):  # type: ignore[no-untyped-def]
            return NemoRenderTrigger(render_id=ids[i], end_time=time.time() + 3600, poll_interval=INTERVAL)
    else:
        from airflow.providers.http.hooks.http import HttpAsyncHook
        from airflow.providers.http.triggers.http import HttpSensorTrigger

        original_run = HttpAsyncHook.run

        async def counted_run(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            counter["polls"] += 1
            return await original_run(self, *args, **kwargs)

        HttpAsyncHook.run = counted_run  # type: ignore[method-assign]
        headers = {"Authorization": f"Bearer {token}"}

        def make(i: int):  # type: ignore[no-untyped-def]
            return HttpSensorTrigger(
                endpoint=f"api/render/proxy/lambda/render_missing_{i}", http_conn_id="http_bench",
                headers=headers, poke_interval=INTERVAL,
            )  # fmt: skip

    async def drive(trigger) -> None:  # type: ignore[no-untyped-def]
        async for event in trigger.run():
            raise RuntimeError(f"a trigger fired during the bench: {event}")

    import gc

    gc.collect()
    rss0 = rss_bytes()
    tasks = []
    for i in range(N):
        tasks.append(asyncio.create_task(drive(make(i))))
        await asyncio.sleep(INTERVAL / N)  # spread the starts over one interval, as a triggerer would
    await asyncio.sleep(WARMUP)
    failed = [t for t in tasks if t.done()]
    if failed:
        raise SystemExit(f"{len(failed)} triggers ended early: {failed[0].exception()!r}")
    cpu0, polls0 = time.process_time(), counter["polls"]
    await asyncio.sleep(WINDOW)
    cpu1, polls1 = time.process_time(), counter["polls"]
    rss1 = rss_bytes()
    return {"cpu_s": cpu1 - cpu0, "polls": polls1 - polls0, "rss_growth": rss1 - rss0, "triggers": N}


def run_probe(variant: str, env: dict[str, str], ids_file: Path, token: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--probe", variant, "--ids", str(ids_file)],
        env={**env, "BENCH_TOKEN": token}, capture_output=True, text=True, cwd=REPO, check=False,
    )  # fmt: skip
    if out.returncode != 0:
        raise SystemExit(f"{variant} probe failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--probe", choices=["nemo", "http"])
    parser.add_argument("--ids", type=Path)
    args = parser.parse_args()
    if args.probe:
        ids = json.loads(args.ids.read_text())
        # Never cancel the task objects at the end: a reason-less cancel is a "killed task" to our
        # trigger, which would cancel the remote renders. Print and leave.
        result = asyncio.run(probe(args.probe, ids, os.environ["BENCH_TOKEN"]))
        print(json.dumps(result), flush=True)
        os._exit(0)

    work = Path(tempfile.mkdtemp(prefix="nemo-density-"))
    proc, base_url = start_server(work / "data")
    try:
        home = work / "airflow-home"
        home.mkdir()
        client_id = str(uuid.uuid4())
        host, port = base_url.removeprefix("http://").split(":")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
            "AIRFLOW_CONN_NEMO_DEFAULT": json.dumps(
                {"conn_type": "nemo", "host": base_url, "extra": {"client_id": client_id}}
            ),
            "AIRFLOW_CONN_HTTP_BENCH": json.dumps(
                {"conn_type": "http", "host": host, "port": int(port), "schema": "http"}
            ),
        }
        print(f"creating {N} renders that stay in processing on {base_url} …", flush=True)
        token, ids = make_renders(base_url, client_id, N)
        ids_file = work / "ids.json"
        ids_file.write_text(json.dumps(ids))
        print(f"running {N} triggers per variant, interval {INTERVAL:g}s, window {WINDOW:g}s …", flush=True)
        nemo = run_probe("nemo", env, ids_file, token)
        http = run_probe("http", env, ids_file, token)
    finally:
        proc.terminate()
        proc.wait(timeout=15)

    def per_1000(r: dict[str, float]) -> float:
        return r["cpu_s"] / r["polls"] * 1000

    cpu_n, cpu_h = per_1000(nemo), per_1000(http)
    rss_n, rss_h = nemo["rss_growth"] / N, http["rss_growth"] / N
    cpu_ratio, rss_ratio = cpu_n / cpu_h, rss_n / rss_h
    print(f"NemoRenderTrigger:  {cpu_n:6.3f} CPU s per 1,000 polls ({nemo['polls']:.0f} polls), "
          f"{rss_n / 1024:7.1f} KiB RSS per trigger")  # fmt: skip
    print(f"HttpSensorTrigger:  {cpu_h:6.3f} CPU s per 1,000 polls ({http['polls']:.0f} polls), "
          f"{rss_h / 1024:7.1f} KiB RSS per trigger")  # fmt: skip
    print(f"ratios (Nemo / http): CPU {cpu_ratio:.3f}, RSS {rss_ratio:.3f}; target <= {TARGET} on both")
    worst = max(cpu_ratio, rss_ratio)
    print(
        json.dumps(
            {
                "bench": "trigger_density",
                "value": round(worst, 3),
                "unit": "ratio (worst of CPU per 1,000 polls and RSS per trigger, Nemo / http)",
                "target": TARGET,
                "baseline": 1.0,
                "ratio": round(worst / TARGET, 3),
                "ok": cpu_ratio <= TARGET and rss_ratio <= TARGET,
            }
        )
    )


if __name__ == "__main__":
    main()
