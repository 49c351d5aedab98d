"""What parsing example_dags/ costs with the provider's operators, over the same DAG shapes built from
EmptyOperator (target: <= 50 ms more).

The DAG processor re-parses every file often, so operator modules must import nothing heavy at top
level. Each sample is a fresh interpreter that first imports what both variants share (airflow.sdk,
EmptyOperator), then times a DagBag fill of example_dags/. In the "empty" variant the module
``nemo_provider.operators.nemo`` is replaced by stand-ins derived from EmptyOperator with the same
templated fields, so the tasks and edges (including those made by XComArgs) are the same. Prints one
JSON line at the end.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TARGET_MS = 50.0
SAMPLES = 5
DAGS = Path(__file__).resolve().parent.parent / "example_dags"

PROBE = r"""
import json, os, sys, time, types
import airflow.sdk
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.dag_processing.dagbag import DagBag

FIELDS = {
    "NemoCreateSessionOperator": ("task_name", "language"),
    "NemoUploadOperator": ("session_id", "files", "urls"),
    "NemoGenerateOperator": ("prompt", "session_id", "task_name"),
    "NemoExportOperator": ("session_id", "format", "quality", "destination"),
    "NemoPromptOperator": ("text", "session_id", "files", "destination"),
}

if sys.argv[1] == "empty":
    stub = types.ModuleType("nemo_provider.operators.nemo")
    for name, fields in FIELDS.items():
        def __init__(self, *, _fields=fields, **kwargs):
            mine = {k: kwargs.pop(k) for k in list(kwargs) if k in _fields}
            for k in ("nemo_conn_id", "poll_interval", "timeout", "deferrable", "wait_for_completion",
                      "message_timeout", "settle_timeout", "resend_unconfirmed", "cancel_on_timeout",
                      "max_consecutive_errors", "export_format"):
                kwargs.pop(k, None)
            for k in _fields:
                setattr(self, k, mine.get(k))
            EmptyOperator.__init__(self, **kwargs)
        setattr(stub, name, type(name, (EmptyOperator,), {"template_fields": fields, "__init__": __init__}))
    import nemo_provider.operators  # the package itself is tiny; only the operators module is swapped
    sys.modules["nemo_provider.operators.nemo"] = stub

t0 = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[2])
t1 = time.perf_counter()
assert not bag.import_errors, bag.import_errors
shape = {d: sorted((t.task_id, sorted(t.upstream_task_ids)) for t in dag.tasks) for d, dag in bag.dags.items()}
print(json.dumps({"ms": (t1 - t0) * 1000, "shape": shape}))
"""


def sample(variant: str, env: dict[str, str]) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, variant, str(DAGS)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{variant} probe failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    home = tempfile.mkdtemp(prefix="nemo-bench-home-")
    env = {
        **os.environ,
        "AIRFLOW_HOME": home,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
    }
    sample("nemo", env)  # warm the file cache
    nemo, empty = [], []
    for _ in range(SAMPLES):  # interleaved, so drift on the machine hits both variants alike
        nemo.append(sample("nemo", env))
        empty.append(sample("empty", env))
    if nemo[0]["shape"] != empty[0]["shape"]:
        raise SystemExit(
            "the EmptyOperator variant does not have the same DAG shapes; the comparison is void"
        )
    n = statistics.median(s["ms"] for s in nemo)
    e = statistics.median(s["ms"] for s in empty)
    added = n - e
    tasks = sum(len(v) for v in nemo[0]["shape"].values())
    print(f"DAGs: {len(nemo[0]['shape'])}, tasks: {tasks} (same shapes in both variants)")
    print(f"parse with Nemo operators:   {n:8.1f} ms (median of {SAMPLES})")
    print(f"parse with EmptyOperator:    {e:8.1f} ms")
    print(f"added by the provider:       {added:8.1f} ms")
    print(
        json.dumps(
            {
                "bench": "dag_parse",
                "value": round(added, 2),
                "unit": "ms",
                "target": TARGET_MS,
                "baseline": round(e, 2),
                "ratio": round(n / e, 3) if e else None,
                "ok": added <= TARGET_MS,
            }
        )
    )


if __name__ == "__main__":
    main()
