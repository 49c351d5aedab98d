"""The agent's streamed reply reads as whole sentences in Airflow's words."""

from __future__ import annotations

import logging

import pytest

from nemo_provider.client.routing import rewrite_gui, translate_gui
from nemo_provider.operators._agent_log import AIRFLOW_WORDING, MAX_LINE, AgentLog

REPLY = (
    "Composing your track: 30.5 s of calm piano in G major. Preview it in the timeline, then click Export.\n"
    "Done! 好的，点击导出。下一步"
)


def _stream(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


@pytest.mark.parametrize("size", [1, 7, 24, 1000])
def test_fragments_become_whole_translated_lines(size: int, caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("agent-log-test")
    agent = AgentLog(log)
    with caplog.at_level(logging.INFO, logger="agent-log-test"):
        for fragment in _stream(REPLY, size):
            agent.feed(fragment)
        agent.close()
    assert agent.lines == [
        "Composing your track: 30.5 s of calm piano in G major.",
        f"{AIRFLOW_WORDING['state'][0].upper()}{AIRFLOW_WORDING['state'][1:]}, then {AIRFLOW_WORDING['export']}.",
        "Done!",
        f"好的，{AIRFLOW_WORDING['export']}。",
        "下一步",
    ]
    assert [r.getMessage() for r in caplog.records] == [f"Nemo: {line}" for line in agent.lines]
    assert not any("click" in line.lower() or "timeline," in line for line in agent.lines)


def test_a_number_split_across_fragments_is_not_a_sentence_end() -> None:
    agent = AgentLog(logging.getLogger("x"))
    for fragment in ("Tempo is 92", ".", "5 bpm now. ", "Next"):
        agent.feed(fragment)
    assert agent.lines == ["Tempo is 92.5 bpm now."]
    agent.close()
    assert agent.lines[-1] == "Next"


def test_a_very_long_line_is_logged_before_it_ends() -> None:
    agent = AgentLog(logging.getLogger("x"))
    agent.feed("word " * (MAX_LINE // 2))
    assert agent.lines and all(len(line) <= MAX_LINE for line in agent.lines)


def test_rewrite_uses_the_same_table_as_translate() -> None:
    text = "Open the project, drag the clip, then click Credits."
    actions = [a.action for a in translate_gui(text)]
    rewritten = rewrite_gui(text, lambda a: f"<{a.action}>")
    assert rewritten == "<state>, <message> the clip, then <credits>."  # "Open the project" is one phrase
    assert actions == ["state", "message", "credits"]
    assert rewrite_gui(text, lambda a: None) == text


def test_generate_operator_logs_sentences(monkeypatch: pytest.MonkeyPatch) -> None:
    """NemoGenerateOperator wires the buffer: a stream in fragments is logged as whole lines."""
    from types import SimpleNamespace

    from nemo_provider.hooks.nemo import NemoHook
    from nemo_provider.operators import _attempts
    from nemo_provider.operators import nemo as ops

    logged: list[str] = []

    class Client:
        def __enter__(self) -> Client:
            return self

        def __exit__(self, *exc: object) -> None: ...

        def state(self, session_id: str) -> SimpleNamespace:
            return SimpleNamespace(session_id=session_id, generated_media=[], draft=None)

        def credits(self) -> SimpleNamespace:
            return SimpleNamespace(available=100)

        def send_message(self, session_id: str, text: str, *, on_text, on_progress, timeout, before):  # type: ignore[no-untyped-def]
            for fragment in _stream("Composing your track. Preview it in the timeline", 5):
                on_text(fragment)
            raise RuntimeError("stream broke")

    monkeypatch.setattr(NemoHook, "get_client", lambda self, **kw: Client())
    monkeypatch.setattr(_attempts, "default_backend", _attempts.InMemoryBackend())
    op = ops.NemoGenerateOperator(task_id="g", prompt="calm piano", session_id="s1")
    monkeypatch.setattr(type(op.log), "info", lambda self, msg, *a: logged.append(msg % a), raising=False)
    ti = SimpleNamespace(dag_id="d", run_id="r", task_id="g", map_index=-1, try_number=1)
    with pytest.raises(RuntimeError):
        op.execute_nested({"ti": ti})  # type: ignore[typeddict-item]
    nemo_lines = [line for line in logged if line.startswith("Nemo: ")]
    assert nemo_lines == [
        "Nemo: Composing your track.",
        f"Nemo: {AIRFLOW_WORDING['state'][0].upper()}{AIRFLOW_WORDING['state'][1:]}",
    ]
