"""The Nemo tracks page, the review step and the connection form in a real browser on a real Airflow.

Debian's Chromium (scripts/install-browser.sh) driven by Playwright through ``executable_path``;
``airflow standalone`` (api-server, scheduler, dag-processor, triggerer) started once for the module
with users who differ in access; the example DAGs run for real against nemo_local. Screenshots go to
build/test-artifacts/ui/ (docs/ui.md shows copies).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._helpers import fake_token
from tests.e2e.airflow_env import wait_for
from tests.ui.stack import PASSWORDS, REPO, Stack, airflow_stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

ARTIFACTS = REPO / "build" / "test-artifacts" / "ui"
UI_DAG, REVIEW_DAG = "nemo_generate_from_ui", "nemo_review_tracks"
TRACK_S = 6


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, "Chromium is missing: scripts/test.sh installs it with scripts/install-browser.sh"
    return path


@pytest.fixture(scope="module")
def stack(nemo_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # a token of our own: the anonymous users of the session's server have 100 credits, shared with
    # every test that ran before this module
    issued = subprocess.run(
        [sys.executable, "-m", "nemo_local", "token", "create", "--credits", "2000", "--name", "ui-tests",
         "--data-dir", str(nemo_server.data_dir)],
        capture_output=True, text=True, check=True, cwd=REPO,
    )  # fmt: skip
    token = issued.stdout.strip()
    with airflow_stack(nemo_server.base_url, tmp_path_factory.mktemp("ui-stack"), token) as running:
        yield running


@pytest.fixture(scope="module")
def delivered(stack: Stack) -> dict[str, Any]:
    """One audio and one video run of the form DAG, and a review run (left waiting for a person)."""
    form = {"mood": "calm", "duration_s": TRACK_S, "loop": False, "output_dir": ""}
    mp3 = stack.trigger(UI_DAG, {**form, "prompt": "soft piano for a product demo", "output_format": "mp3"})
    mp4 = stack.trigger(
        UI_DAG, {**form, "prompt": "cinematic build-up", "mood": "epic", "output_format": "mp4"}
    )
    review = stack.trigger(
        REVIEW_DAG, {"prompt": "warm acoustic guitar for a travel vlog", "duration_s": TRACK_S}
    )
    for run_id in (mp3, mp4):
        assert stack.wait_run(UI_DAG, run_id) == "success", stack.server.log()[-4000:]
    return {
        "mp3": {"run_id": mp3, "export": stack.xcom(UI_DAG, mp3, "export"), "generate": stack.xcom(UI_DAG, mp3, "generate")},
        "mp4": {"run_id": mp4, "export": stack.xcom(UI_DAG, mp4, "export"), "generate": stack.xcom(UI_DAG, mp4, "generate")},
        "review_run": review,
    }  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=_chromium(),
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required", "--mute-audio"],
        )
        yield chromium
        chromium.close()


def _login(browser: Any, stack: Stack, user: str) -> Any:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{stack.base}/auth/login/")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORDS[user])
    page.click("button[type=submit]")
    page.wait_for_url(f"{stack.base}/")
    return page


@pytest.fixture(scope="module")
def admin(browser: Any, stack: Stack) -> Iterator[Any]:
    page = _login(browser, stack, "admin")
    yield page
    page.context.close()


def _shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def _card(page: Any, run_id: str, task_id: str = "export") -> Any:
    return page.locator(f'article.track[data-run-id="{run_id}"][data-task-id="{task_id}"]')


# -- the page --------------------------------------------------------------------------------------
def test_the_navigation_opens_the_tracks_page_inside_the_ui(
    admin: Any, stack: Stack, delivered: dict
) -> None:
    admin.goto(f"{stack.base}/")
    admin.get_by_role("link", name=re.compile("Nemo tr")).first.click()
    admin.wait_for_url(re.compile(r".*/plugin/nemo-tracks.*"))
    frame = admin.frame_locator("iframe").first
    frame.locator("article.track").first.wait_for()
    assert frame.locator("h1").inner_text() == "Nemo tracks"
    frame.locator("canvas.wave[data-drawn='1']").first.wait_for()  # the picture is drawn from the media
    frame.locator("video").first.evaluate(
        "v => v.readyState >= 1 || new Promise(r => v.onloadedmetadata = r)"
    )
    _shot(admin, "tracks-in-airflow")


def test_every_delivered_track_is_listed_with_its_metadata(admin: Any, stack: Stack, delivered: dict) -> None:
    admin.goto(f"{stack.base}/nemo/tracks?dag_id={UI_DAG}")
    for kind in ("mp3", "mp4"):
        card = _card(admin, delivered[kind]["run_id"])
        assert card.count() == 1, f"the {kind} track is not listed"
        media = delivered[kind]["generate"]["generated_media"][-1]
        export = delivered[kind]["export"]
        assert card.locator("h3").inner_text() == media["title"]
        assert card.get_attribute("data-size") == str(export["size"])
        text = card.inner_text()
        assert media["key"] in text and str(media["bpm"]) in text and "LUFS" in text
        assert media["prompt"] in text
        assert card.locator("a", has_text="Download").count() == 1
        assert (
            card.locator("a", has_text=f"Run {delivered[kind]['run_id']}").get_attribute("target") == "_top"
        )
    total = int(admin.locator("p.count").get_attribute("data-total"))
    with stack.api() as api:
        runs = api.get(f"/api/v2/dags/{UI_DAG}/dagRuns").json()["dag_runs"]
    assert total == len([r for r in runs if r["state"] == "success"])
    _shot(admin, "tracks-page")


def test_a_dag_run_has_a_tracks_tab(admin: Any, stack: Stack, delivered: dict) -> None:
    run_id = delivered["mp3"]["run_id"]
    admin.goto(f"{stack.base}/dags/{UI_DAG}/runs/{run_id}")
    admin.get_by_role("link", name="Nemo tracks").last.click()
    frame = admin.frame_locator("iframe").first
    frame.locator("article.track").first.wait_for()
    assert frame.locator("article.track").count() == 1
    assert frame.locator("article.track").get_attribute("data-run-id") == run_id


def test_audio_plays_for_its_whole_length_and_seeks(admin: Any, stack: Stack, delivered: dict) -> None:
    import av

    export = delivered["mp3"]["export"]
    with av.open(export["path"]) as container:
        file_duration = container.duration / 1_000_000
    ranges: list[int] = []
    admin.on("response", lambda r: ranges.append(r.status) if "/nemo/media" in r.url else None)
    admin.goto(f"{stack.base}/nemo/tracks?dag_id={UI_DAG}")
    audio = _card(admin, delivered["mp3"]["run_id"]).locator("audio")
    audio.evaluate("a => a.play()")
    admin.wait_for_function("a => a.currentTime > 0.5", arg=audio.element_handle(), timeout=20_000)
    duration = audio.evaluate("a => a.duration")
    assert abs(duration - file_duration) < 0.3, (duration, file_duration)
    audio.evaluate("a => { a.pause(); a.currentTime = 4.0; }")
    admin.wait_for_function(
        "a => !a.seeking && a.currentTime >= 4.0", arg=audio.element_handle(), timeout=10_000
    )
    audio.evaluate("a => a.play()")
    admin.wait_for_function("a => a.currentTime > 4.2", arg=audio.element_handle(), timeout=10_000)
    assert 206 in ranges, f"the browser's media requests were not answered with ranges: {ranges}"
    wave = _card(admin, delivered["mp3"]["run_id"]).locator("canvas.wave")
    admin.wait_for_function("c => c.dataset.drawn === '1'", arg=wave.element_handle(), timeout=20_000)


def test_video_plays(admin: Any, stack: Stack, delivered: dict) -> None:
    admin.goto(f"{stack.base}/nemo/tracks?dag_id={UI_DAG}")
    video = _card(admin, delivered["mp4"]["run_id"]).locator("video")
    video.scroll_into_view_if_needed()
    video.evaluate("v => { v.muted = true; return v.play(); }")
    admin.wait_for_function("v => v.currentTime > 0.5", arg=video.element_handle(), timeout=20_000)
    assert video.evaluate("v => [v.videoWidth, v.videoHeight]") == [1920, 1080]
    assert abs(video.evaluate("v => v.duration") - delivered["mp4"]["export"]["duration"]) < 0.5
    _shot(admin, "video-playing")


def test_download_is_the_delivered_file(admin: Any, stack: Stack, delivered: dict, tmp_path: Path) -> None:
    export = delivered["mp3"]["export"]
    admin.goto(f"{stack.base}/nemo/tracks?dag_id={UI_DAG}")
    with admin.expect_download() as info:
        _card(admin, delivered["mp3"]["run_id"]).locator("a.download").click()
    saved = tmp_path / "downloaded.mp3"
    info.value.save_as(saved)
    expected = hashlib.sha256(Path(export["path"]).read_bytes()).hexdigest()
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == expected


def test_the_extra_links_open_the_player_through_airflow(admin: Any, stack: Stack, delivered: dict) -> None:
    run_id = delivered["mp3"]["run_id"]
    with stack.api() as api:
        links = api.get(f"/api/v2/dags/{UI_DAG}/dagRuns/{run_id}/taskInstances/export/links").json()[
            "extra_links"
        ]
    listen = links["Listen (Nemo tracks)"]
    assert listen.startswith(f"{stack.base}/nemo/track?") and "127.0.0.1:" + str(stack.server.port) in listen
    assert "/files/" not in listen and links["Download"].startswith(f"{stack.base}/nemo/media?")
    admin.goto(listen)
    assert _card(admin, run_id).count() == 1


# -- listen and approve ----------------------------------------------------------------------------
def _wait_review(stack: Stack, run_id: str, task_id: str) -> dict[str, Any]:
    def pending() -> dict[str, Any] | None:
        with stack.api() as api:
            if api.get(f"/api/v2/dags/{REVIEW_DAG}/dagRuns/{run_id}").json()["state"] == "failed":
                raise AssertionError(f"the review run failed before {task_id} asked")
            r = api.get(f"/api/v2/dags/{REVIEW_DAG}/dagRuns/{run_id}/taskInstances/{task_id}/-1/hitlDetails")
        if r.status_code != 200:
            return None
        body = r.json()
        return None if body.get("response_received") else body

    try:
        detail = dict(wait_for(f"{task_id} to ask for a review", pending, 240, interval=2))
    except (AssertionError, TimeoutError) as err:
        with stack.api() as api:
            tis = api.get(f"/api/v2/dags/{REVIEW_DAG}/dagRuns/{run_id}/taskInstances").json()[
                "task_instances"
            ]
        states = {t["task_id"]: t["state"] for t in tis}
        raise AssertionError(
            f"{err}; task states: {states}; scheduler log: {stack.server.log()[-3000:]}"
        ) from err
    # Airflow 3.3 races when the answer comes before the scheduler has seen the parked task's process
    # exit ("finished with state success, but the task instance's state attribute is queued"): a person
    # never answers that fast, this test does, so it waits for that executor event first.
    parked = (
        "Received executor event with state success for task instance TaskInstanceKey("
        f"dag_id='{REVIEW_DAG}', task_id='{task_id}', run_id='{run_id}'"
    )
    wait_for(f"the scheduler to see {task_id} parked", lambda: parked in stack.server.log(), 60)
    return detail


def test_regenerate_then_publish_from_the_tracks_page(admin: Any, stack: Stack, delivered: dict) -> None:
    run_id = delivered["review_run"]
    _wait_review(stack, run_id, "review_0")
    assert stack.ti_state(REVIEW_DAG, run_id, "review_0") != "running", (
        "a waiting review must not hold a worker"
    )
    admin.goto(f"{stack.base}/nemo/tracks?dag_id={REVIEW_DAG}")
    box = admin.locator(f'.review[data-run-id="{run_id}"][data-task-id="review_0"]')
    listen = box.locator(".body a").first.get_attribute("href")
    assert listen and "task_id=export_0" in listen
    _shot(admin, "review-pending")
    box.get_by_role("button", name="Regenerate").click()
    admin.wait_for_function(
        "b => b.dataset.answered === 'Regenerate'", arg=box.element_handle(), timeout=15_000
    )

    _wait_review(stack, run_id, "review_1")  # a new track, with a new seed, asks again
    first = stack.xcom(REVIEW_DAG, run_id, "message_0")
    second = stack.xcom(REVIEW_DAG, run_id, "message_1")
    assert first["seed"] != second["seed"]
    admin.goto(listen.replace("export_0", "export_1"))
    box = admin.locator(f'.review[data-run-id="{run_id}"][data-task-id="review_1"]')
    box.get_by_role("button", name="Publish").click()
    admin.wait_for_function("b => b.dataset.answered === 'Publish'", arg=box.element_handle(), timeout=15_000)

    assert stack.wait_run(REVIEW_DAG, run_id) == "success"
    assert stack.ti_state(REVIEW_DAG, run_id, "publish_1") == "success"
    assert stack.ti_state(REVIEW_DAG, run_id, "publish_0") == "skipped"
    assert stack.ti_state(REVIEW_DAG, run_id, "message_2") == "skipped"
    with stack.api() as api:
        events = api.get("/api/v2/assets/events", params={"source_run_id": run_id}).json()["asset_events"]
    (event,) = events
    assert (
        event["extra"]["player"].startswith(f"{stack.base}/nemo/track?")
        and "export_1" in event["extra"]["player"]
    )
    assert event["extra"]["seed"] == second["seed"]


# -- access ----------------------------------------------------------------------------------------
def test_a_user_without_access_gets_nothing(browser: Any, stack: Stack, delivered: dict) -> None:
    page = _login(browser, stack, "outsider")
    try:
        page.goto(f"{stack.base}/nemo/tracks")
        assert page.locator("article.track").count() == 0
        assert page.locator("p.count").get_attribute("data-total") == "0"
        _shot(page, "outsider")
        export = delivered["mp3"]
        media = (
            f"{stack.base}/nemo/media?dag_id={UI_DAG}&run_id={export['run_id']}&task_id=export&map_index=-1"
        )
        assert page.request.get(media).status == 403
        assert page.request.get(f"{stack.base}/nemo/api/tracks?dag_id={UI_DAG}").status == 403
    finally:
        page.context.close()
    assert httpx.get(media, timeout=10).status_code == 401
    assert httpx.get(f"{stack.base}/nemo/tracks", timeout=10).status_code == 401


# -- connection form -------------------------------------------------------------------------------
def _test_result(page: Any, conn_id: str) -> dict[str, Any]:
    page.goto(f"{stack_base(page)}/connections")
    row = page.locator("tr", has_text=conn_id)
    with page.expect_response(lambda r: r.url.endswith("/api/v2/connections/test")) as answer:
        row.get_by_role("button", name="Test Connection").click()
    return {"status": answer.value.status, "body": answer.value.json()}


def stack_base(page: Any) -> str:
    return re.match(r"^(https?://[^/]+)", page.url).group(1)  # type: ignore[union-attr]


def test_connection_form_and_test_button(admin: Any, stack: Stack, nemo_server: Any) -> None:
    admin.goto(f"{stack.base}/connections")
    admin.get_by_role("button", name=re.compile("Add Connection", re.I)).click()
    admin.fill("input[name=connection_id]", "nemo_ui")
    admin.get_by_role("combobox").click()
    admin.keyboard.type("Nemo")
    admin.get_by_role("option", name="Nemo", exact=True).click()
    labels = admin.locator("label").all_inner_texts()
    assert "API base URL" in labels and "API token" in labels
    assert not any(label.strip() in ("Port", "Login", "Schema") for label in labels)
    admin.fill("input[name=host]", nemo_server.base_url)  # as docs/connection.md: URL in Host, no port
    _shot(admin, "connection-form")
    admin.get_by_role("button", name="Save").click()
    admin.locator("tr", has_text="nemo_ui").wait_for()

    ok = _test_result(admin, "nemo_ui")
    assert ok["status"] == 200 and ok["body"]["status"] is True, ok
    assert "credits available" in ok["body"]["message"]
    admin.get_by_text(re.compile("Connected with an anonymous token")).first.wait_for()
    _shot(admin, "connection-test-ok")

    with stack.api() as api:
        bad = {"connection_id": "nemo_bad_token", "conn_type": "nemo", "host": nemo_server.base_url,
               "password": fake_token("bad")}  # fmt: skip
        assert api.post("/api/v2/connections", json=bad).status_code == 201
    failed = _test_result(admin, "nemo_bad_token")
    assert failed["status"] == 200 and failed["body"]["status"] is False, failed
    assert "'nemo_bad_token'" in failed["body"]["message"], failed
    assert bad["password"] not in json.dumps(failed)
