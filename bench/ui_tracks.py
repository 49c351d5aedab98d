"""The Nemo tracks page with 1,000 delivered tracks: how long one (paginated) page takes to answer.

Builds a throw-away Airflow metadata database (SQLite) holding 1,000 export task instances with their
XComs (tests/plugins/seed.py: the rows the export and generate operators leave), mounts the plugin in
Airflow's real api-server app (in process, authenticated as a viewer through the auth manager), and
times the HTML page, the JSON list, a prompt-text search and the last page. Baseline, same run and
database: Airflow's own paginated XCom list (``GET /api/v2/dags/~/dagRuns/~/taskInstances/~/xcomEntries``)
for the same 25 rows. Target: the page's median < 300 ms. Prints ONE JSON line at the end.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TRACKS = 1000
TARGET_MS = 300.0
ROUNDS = 15

_home = Path(tempfile.mkdtemp(prefix="nemo-bench-ui-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_home / 'airflow.db'}",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "viewer:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    }
)
sys.path.insert(0, str(REPO))


def _median_ms(call, rounds: int = ROUNDS) -> float:  # type: ignore[no-untyped-def]
    call()  # warm: first-use imports and query plans are not what a user waits for twice
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    from airflow.api_fastapi.app import create_app, get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.utils import db
    from airflow.utils.session import create_session
    from fastapi.testclient import TestClient

    from tests.plugins.seed import seed_tracks

    db.resetdb()
    with create_session() as session:
        seed_tracks(session, "nemo_bench", count=TRACKS, runs=40)
    app = create_app(apps="core")
    with TestClient(app, base_url="http://127.0.0.1") as http:
        token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="viewer", role="viewer"))
        h = {"Authorization": f"Bearer {token}"}

        def get(url: str, **params: object) -> None:
            r = http.get(url, params=params, headers=h)
            assert r.status_code == 200, r.text

        listing = http.get("/nemo/api/tracks", headers=h).json()
        assert listing["total"] == TRACKS and len(listing["tracks"]) == 25, listing["total"]
        page = _median_ms(lambda: get("/nemo/tracks"))
        api = _median_ms(lambda: get("/nemo/api/tracks"))
        search = _median_ms(lambda: get("/nemo/tracks", q="#999"))
        last = _median_ms(lambda: get("/nemo/tracks", page=TRACKS // 25))
        baseline = _median_ms(lambda: get("/api/v2/dags/~/dagRuns/~/taskInstances/~/xcomEntries", limit=25))
    print(f"tracks page (25 of {TRACKS}):   {page:7.1f} ms")
    print(f"JSON list (25 of {TRACKS}):     {api:7.1f} ms")
    print(f"prompt search:                {search:7.1f} ms")
    print(f"last page:                    {last:7.1f} ms")
    print(f"baseline: Airflow's XCom list {baseline:7.1f} ms (25 rows)")
    worst = max(page, search, last)
    print(
        json.dumps(
            {
                "bench": "ui_tracks_page_1000",
                "value": round(page, 1),
                "unit": "ms",
                "target": TARGET_MS,
                "baseline": round(baseline, 1),
                "ratio": round(page / baseline, 2),
                "ok": worst < TARGET_MS,
            }
        )
    )


if __name__ == "__main__":
    main()
