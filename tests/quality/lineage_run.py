"""Run example DAGs under dag.test() with OpenLineage's file transport (a fresh process: OpenLineage
reads its configuration once per process). Usage: python lineage_run.py <events.jsonl> <dag_id>=<conf json>...

Prints one JSON line per DAG run: {"dag_id", "state", "run_id"}.
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils import db

    db.resetdb()
    bag = DagBag(safe_mode=False)
    assert not bag.import_errors, bag.import_errors
    for arg in sys.argv[2:]:
        dag_id, _, conf = arg.partition("=")
        dr = bag.get_dag(dag_id).test(run_conf=json.loads(conf))
        print(json.dumps({"dag_id": dag_id, "state": str(dr.state), "run_id": dr.run_id}), flush=True)


if __name__ == "__main__":
    main()
