"""How much `import nemo_provider.hooks.nemo` adds on top of `import airflow.sdk` (target: <= 50 ms).

Every DAG file that uses the provider pays this on every parse, so the hook module must not import
httpx, pydantic models or the client at top level. Each sample is a fresh interpreter (imports are
cached per process); the median of several samples is reported. Prints one JSON line at the end.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

TARGET_MS = 50.0
SAMPLES = 7

PROBE = """
import json, sys, time
t0 = time.perf_counter()
import airflow.sdk
t1 = time.perf_counter()
before = set(sys.modules)
import nemo_provider.hooks.nemo
t2 = time.perf_counter()
new = sorted(set(sys.modules) - before)
heavy = [m for m in new if m.split(".")[0] in ("httpx", "httpx_sse", "pydantic") or m.startswith("nemo_provider.client")]
print(json.dumps({"sdk_ms": (t1 - t0) * 1000, "hook_ms": (t2 - t1) * 1000, "heavy": heavy}))
"""


def sample() -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    sample()  # warm the OS file cache and any bytecode compilation
    runs = [sample() for _ in range(SAMPLES)]
    sdk = statistics.median(r["sdk_ms"] for r in runs)
    hook = statistics.median(r["hook_ms"] for r in runs)
    print(f"import airflow.sdk:               {sdk:8.1f} ms (median of {SAMPLES} fresh interpreters)")
    print(f"+ import nemo_provider.hooks.nemo: {hook:8.1f} ms")
    print(f"heavy modules the hook import pulled in: {runs[-1]['heavy'] or 'none'}")
    print(
        json.dumps(
            {
                "bench": "import_cost",
                "value": round(hook, 2),
                "unit": "ms",
                "target": TARGET_MS,
                "baseline": round(sdk, 2),
                "ratio": round(hook / TARGET_MS, 3),
                "ok": hook <= TARGET_MS,
            }
        )
    )


if __name__ == "__main__":
    main()
