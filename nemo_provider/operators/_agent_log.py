"""The agent's streamed reply as task-log sentences, in Airflow's words.

The SSE stream hands the reply over in fragments of ~24 characters; logging each one gives lines like
"Nemo:  s of calm piano in G ma". :class:`AgentLog` buffers fragments and logs whole lines: at a
newline, at a sentence end followed by more text, when the buffer grows too long, and whatever is left
when the message ends. Each line's GUI phrases ("click Export", "Preview it in the timeline") are
rewritten with :func:`nemo_provider.client.routing.rewrite_gui` (the one place that knows which phrase
means which action) into what a user of this provider does in Airflow instead.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from nemo_provider.client.routing import rewrite_gui

if TYPE_CHECKING:
    from nemo_provider.client.routing import GuiAction

#: What each GUI action means for someone reading an Airflow task log.
AIRFLOW_WORDING: dict[str, str] = {
    "export": "the export task (NemoExportOperator) renders it",
    "state": "the timeline summary is in this task's XCom (timeline_summary)",
    "upload": "add files with NemoUploadOperator",
    "credits": "check the balance with NemoPromptOperator('credits')",
    "message": "describe the change in the next prompt",
}

#: A line longer than this is logged even without a sentence end (one very long sentence, a list).
MAX_LINE = 400

# A sentence ends at . ! ? (followed by whitespace) or at a CJK full stop/exclamation/question mark.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])")


def airflow_wording(action: GuiAction) -> str | None:
    """The Airflow phrase for one GUI action (None keeps the agent's words)."""
    return AIRFLOW_WORDING.get(action.action)


def to_airflow_terms(line: str) -> str:
    """One line of the agent's reply with its GUI phrases rewritten for an Airflow user."""
    return rewrite_gui(line, airflow_wording)


class AgentLog:
    """Collects streamed text fragments and logs them as whole, translated lines.

    Use ``feed`` as the client's ``on_text`` callback and call ``close`` when the message ends (also on
    failure, so a half sentence is not lost).
    """

    def __init__(self, log: Any, prefix: str = "Nemo: ") -> None:
        self._log = log
        self._prefix = prefix
        self._buffer = ""
        self.lines: list[str] = []  # what was logged, for callers and tests

    def feed(self, fragment: str) -> None:
        self._buffer += fragment
        self._drain(final=False)

    def close(self) -> None:
        self._drain(final=True)

    def _drain(self, *, final: bool) -> None:
        while True:
            cut = self._next_cut()
            if cut is None:
                break
            line, self._buffer = self._buffer[:cut], self._buffer[cut:]
            self._emit(line)
        if final and self._buffer.strip():
            self._emit(self._buffer)
            self._buffer = ""
        elif final:
            self._buffer = ""

    def _next_cut(self) -> int | None:
        """Where the first complete line of the buffer ends, or None while it is still incomplete."""
        newline = self._buffer.find("\n")
        sentence = _SENTENCE_END.search(self._buffer)
        # a sentence end must be followed by more text: "30." may still become "30.5 s"
        ends = [newline + 1] if newline >= 0 else []
        if sentence is not None and sentence.end() < len(self._buffer):
            ends.append(sentence.end())
        if ends:
            return min(ends)
        if len(self._buffer) > MAX_LINE:
            space = self._buffer.rfind(" ", 0, MAX_LINE)
            return space + 1 if space > 0 else MAX_LINE
        return None

    def _emit(self, line: str) -> None:
        text = line.strip()
        if not text:
            return
        text = to_airflow_terms(text)
        self.lines.append(text)
        self._log.info("%s%s", self._prefix, text)
