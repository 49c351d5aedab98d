"""One export's render across a task's tries: resume the recorded one or start one, poll it, settle it.

A render costs the service work, so a retry resumes the render its previous try started instead of
paying for a second one. The transitions (docs/retries-timeouts-cancellation.md):

* **resume**: a record for the same session, format and quality names a render; its status decides:
  running or completed -> resume it; failed, cancelled or unknown (``is_missing_render``) -> erase the
  record and start anew; unreadable (auth, network, 429) -> fail the try and keep the record, since the
  render may well exist;
* **plan / start**: read the timeline (an empty one fails without rendering), pick the id, record it
  *before* the create request (a crash there must not cost a second render), then create it (the
  deferrable export hands the planned create to the trigger instead);
* **poll**: every ``poll_interval`` until a terminal status or the wall-clock deadline (then cancel when
  asked, erase the record, fail); transient read errors are ridden out up to ``max_consecutive_errors``;
* **settle**: a failed or cancelled render erases the record and fails with the service's reason; a
  completed one erases the record once the file is delivered (``done``).

No operator is needed: the client, the record store and the log are passed in (unit tests use fakes).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nemo_provider._compat import AirflowException, AirflowFailException
from nemo_provider.operators._attempts import RecordStore


@dataclass
class RenderJob:
    """One export's render as seen by one try; the store carries its id to the next try."""

    client: Any
    store: RecordStore
    log: logging.Logger | Any
    session_id: str
    format: str
    quality: str
    #: replaceable in tests (None: ``time.time`` / ``time.sleep``, looked up when called)
    clock: Callable[[], float] | None = None
    sleep: Callable[[float], None] | None = None
    #: called once the first request of this try went out (the hook masks an acquired token)
    on_first_read: Callable[[], None] = lambda: None
    render_id: str | None = field(default=None, init=False)
    #: the session's media and timeline, from the state read with the draft (``_media.session_facts``)
    facts: dict[str, Any] | None = field(default=None, init=False)
    #: True once the render needs nothing more from this task (on_kill then leaves it alone)
    finished: bool = field(default=False, init=False)

    def _now(self) -> float:
        return (self.clock or time.time)()

    def _sleep(self, seconds: float) -> None:
        (self.sleep or time.sleep)(seconds)

    @property
    def job(self) -> dict[str, str]:
        return {"session_id": self.session_id, "format": self.format, "quality": self.quality}

    # -- resume ------------------------------------------------------------------------------------
    def resume(self) -> Any:
        """The previous try's render when it can be resumed, else None (the record is then erased)."""
        record = self.store.load()
        if not record:
            return None
        if {k: record.get(k) for k in self.job} != self.job:
            self.log.info(
                "The export's parameters changed since try %s; starting anew.", record["try_number"]
            )
            self.store.clear()
            return None
        try:
            status = self.client.render_status(record["render_id"])
        except Exception as err:
            from nemo_provider.client.errors import is_missing_render

            if not is_missing_render(err):
                # the render may well exist: fail this try (the record stays) rather than start a second
                raise AirflowException(
                    f"Could not read render {record['render_id']} started by try {record['try_number']}: {err}. "
                    "The next try resumes it."
                ) from err
            self.log.info(
                "Render %s from try %s is unknown (%s).", record["render_id"], record["try_number"], err
            )
            self.store.clear()
            return None
        if status.status in ("failed", "cancelled"):
            self.log.info(
                "Render %s from try %s ended %s; starting a new one.",
                status.id,
                record["try_number"],
                status.status,
            )
            self.store.clear()
            return None
        self.log.info(
            "Resuming render %s started by try %s (%s).", status.id, record["try_number"], status.status
        )
        self.render_id = status.id
        return status

    # -- plan / start ------------------------------------------------------------------------------
    def read_timeline(self) -> Any:
        """The session's draft (and ``facts``); an empty timeline fails the task without rendering."""
        from nemo_provider.operators._media import session_facts

        state = self.client.state(self.session_id)
        self.on_first_read()
        self.facts = session_facts(state)
        draft = state.draft
        if draft is None or not getattr(draft, "is_exportable", True):
            raise AirflowFailException(
                f"Session {self.session_id} has nothing to export yet: its timeline is empty. "
                "Generate music or upload media first."
            )
        self.log.info("Exporting %s", draft.summary())
        return draft

    def plan(self) -> str:
        """Pick the render id and record it: everything but starting the render."""
        # the client's one id scheme (render_<digits>); a rename on a duplicate id comes from it too
        from nemo_provider.client import new_render_id

        planned = new_render_id()
        self.store.save(
            {**self.job, "render_id": planned}
        )  # before creating: a crash here must not cost a 2nd
        self.render_id = planned
        return planned

    def planned_create(self, draft: Any) -> dict[str, Any]:
        """What the deferrable export hands the trigger to start (JSON-safe: the draft's wire form)."""
        return {**self.job, "draft": draft.to_wire()}

    def start(self, draft: Any) -> Any:
        planned = self.plan()
        status = self.client.create_render(
            self.session_id, draft, format=self.format, quality=self.quality, render_id=planned
        )
        self.renamed(status.id)
        self.log.info("Started render %s (%s, %s).", status.id, self.format, self.quality)
        return status

    def renamed(self, render_id: str) -> None:
        """The service (or the trigger) gave the render another id than planned: record that one."""
        if render_id != self.render_id:
            self.store.save({**self.job, "render_id": render_id})
        self.render_id = render_id

    # -- poll --------------------------------------------------------------------------------------
    def poll(
        self,
        *,
        deadline: float,
        poll_interval: float,
        max_consecutive_errors: int,
        cancel_on_timeout: bool,
        timeout_s: float,
    ) -> Any:
        """Read the status every ``poll_interval`` until it is terminal; fail at ``deadline`` (wall clock)."""
        from nemo_provider.client.errors import TransientErrorBudget

        assert self.render_id is not None
        errors = TransientErrorBudget(max_consecutive_errors)
        last_progress = -1.0
        while True:
            remaining = deadline - self._now()
            if remaining <= 0:
                if cancel_on_timeout:
                    cancel_quietly(self.client, self.render_id, self.log)
                self.done()
                raise AirflowException(
                    f"Render {self.render_id} did not finish within {timeout_s:.0f}s"
                    + ("; it was cancelled." if cancel_on_timeout else ".")
                )
            self._sleep(min(poll_interval, remaining))
            try:
                status = self.client.render_status(self.render_id)
                errors.reset()
            except Exception as err:
                if not errors.tolerate(err):
                    raise
                self.log.warning(
                    "Polling render %s failed (%d in a row): %s", self.render_id, errors.count, err
                )
                continue
            if status.is_terminal:
                return status
            if status.progress != last_progress:
                self.log.info("Render %s: %s, %.0f%%", status.id, status.status, status.progress)
                last_progress = status.progress

    # -- settle ------------------------------------------------------------------------------------
    def settle(self, status: Any) -> None:
        """A terminal status that is not ``completed`` fails the task with the service's reason."""
        if status.status != "completed":
            self.done()
            raise AirflowException(f"Render {status.id} {status.status}: {status.error or 'no reason given'}")

    def settle_event(self, event: dict[str, Any], *, cancel_on_timeout: bool) -> None:
        """The trigger's event (docs/operators.md, NemoRenderTrigger); returns only on ``success``."""
        self.render_id = event["render_id"]
        kind = event["status"]
        if kind == "success":
            return
        if kind in ("timeout", "failed", "cancelled"):
            if kind == "timeout" and cancel_on_timeout and not event.get("cancelled"):
                cancel_quietly(self.client, self.render_id, self.log)  # the trigger could not
            self.done()
        # "error": the render may still be running; the record stays so a retry resumes it
        raise AirflowException(event["message"])

    def done(self) -> None:
        """Nothing is left to resume: erase the record."""
        self.store.clear()
        self.finished = True


def cancel_quietly(client: Any, render_id: str, log: logging.Logger | Any) -> None:
    """Cancel a render, logging (not raising) a failure: called on the way out of a failing task."""
    try:
        client.cancel_render(render_id)
        log.info("Cancelled render %s.", render_id)
    except Exception as err:
        log.warning("Could not cancel render %s: %s", render_id, err)
