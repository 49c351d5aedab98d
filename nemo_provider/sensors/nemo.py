"""NemoRenderSensor: wait for a render someone else started (e.g. NemoExportOperator with
``wait_for_completion=False``), in poke, reschedule or deferrable mode."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from nemo_provider._compat import AirflowException, AirflowFailException, conf

if TYPE_CHECKING:
    from airflow.sdk import Context

    from nemo_provider.client.errors import TransientErrorBudget


def _seconds(value: float | timedelta) -> float:
    return float(value.total_seconds() if isinstance(value, timedelta) else value)


class NemoRenderSensor(BaseSensorOperator):
    """Succeed when the render completes; fail (not time out) when it fails or is cancelled.

    Returns the render's status (``{id, status, progress, url, size, duration, error}``) as XCom.
    In deferrable mode the wait runs in the triggerer until ``timeout`` (wall clock, kept across
    triggerer restarts); at that deadline the sensor times out without cancelling the render, since
    a sensor observes work it does not own (set ``cancel_on_timeout=True`` to cancel anyway).

    :param render_id: the render to wait for (templated).
    :param deferrable: wait in the triggerer (default: ``[operators] default_deferrable``).
    :param max_consecutive_errors: transient poll errors (network, 5xx, 429) ridden out in a row before
        the sensor fails. In ``reschedule`` mode each reschedule starts counting afresh: the sensor's
        ``timeout`` is then what bounds a service that stays down.
    """

    template_fields: Sequence[str] = ("render_id",)
    ui_color = "#f7d9a8"

    def __init__(
        self,
        *,
        render_id: str,
        nemo_conn_id: str = "nemo_default",
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        cancel_on_timeout: bool = False,
        max_consecutive_errors: int = 3,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.render_id = render_id
        self.nemo_conn_id = nemo_conn_id
        self.deferrable = deferrable
        self.cancel_on_timeout = cancel_on_timeout
        self.max_consecutive_errors = max_consecutive_errors
        self._errors: TransientErrorBudget | None = None  # made on the worker: the client stays unimported

    def poke(self, context: Context) -> PokeReturnValue | bool:
        from nemo_provider.client.errors import TransientErrorBudget
        from nemo_provider.hooks.nemo import NemoHook

        if self._errors is None:
            self._errors = TransientErrorBudget(self.max_consecutive_errors)

        try:
            with NemoHook(self.nemo_conn_id).get_client() as client:
                status = client.render_status(self.render_id)
                NemoHook.register_acquired_token(client)
        except Exception as err:
            # The same tolerance as the trigger's, so poke and deferrable modes fail alike.
            if not self._errors.tolerate(err):
                raise
            self.log.warning(
                "Polling render %s failed (%s/%s in a row), trying again: %s",
                self.render_id,
                self._errors.count,
                self.max_consecutive_errors,
                err,
            )
            return False
        self._errors.reset()
        return self._judge(status.model_dump(mode="json"))

    def _judge(self, render: dict[str, Any]) -> PokeReturnValue | bool:
        state = render.get("status")
        if state == "completed":
            return PokeReturnValue(is_done=True, xcom_value=render)
        if state in ("failed", "cancelled"):
            reason = render.get("error") or "no reason given"
            # Terminal: a retry of the sensor cannot change the outcome, so do not retry.
            raise AirflowFailException(f"Render {self.render_id} {state}: {reason}")
        self.log.info("Render %s: %s, %s%%", self.render_id, state, render.get("progress"))
        return False

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        # Answer at once if the render is already over; otherwise hand the wait to the triggerer.
        result = self.poke(context)
        if isinstance(result, PokeReturnValue) and result.is_done:
            return result.xcom_value
        from nemo_provider.triggers.nemo import NemoRenderTrigger

        timeout = _seconds(self.timeout)
        self.defer(
            trigger=NemoRenderTrigger(
                render_id=self.render_id,
                end_time=time.time() + timeout,
                nemo_conn_id=self.nemo_conn_id,
                poll_interval=_seconds(self.poke_interval),
                max_consecutive_errors=self.max_consecutive_errors,
                cancel_on_timeout=self.cancel_on_timeout,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=timeout + 60),
        )
        return None

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """Map the trigger's event onto the sensor's outcome."""
        from nemo_provider._compat import AirflowSensorTimeout

        status = event["status"]
        if status == "success":
            return event["render"]
        if status == "timeout":
            raise AirflowSensorTimeout(event["message"])
        if status in ("failed", "cancelled"):
            raise AirflowFailException(event["message"])
        raise AirflowException(event["message"])
