"""Reviews waiting for someone to listen: Airflow's HITL details without a response, on readable DAGs.

The page shows them above the tracks with one button per option; a button answers through Airflow's own
HITL endpoint (``PATCH /api/v2/dags/…/hitlDetails``) with the user's session, so who may answer is
Airflow's decision (role, assigned users), not this plugin's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@dataclass(frozen=True)
class PendingReview:
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    subject: str
    body: str
    options: list[str]
    created_at: str | None


def pending_reviews(
    session: Session,
    dag_ids: frozenset[str],
    *,
    dag_id: str | None = None,
    run_id: str | None = None,
    limit: int = 50,
) -> list[PendingReview]:
    """Unanswered HITL requests of the given DAGs, oldest first (the first asked is the first to answer)."""
    if not dag_ids:
        return []
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance

    stmt = (
        select(
            HITLDetail, TaskInstance.dag_id, TaskInstance.run_id, TaskInstance.task_id, TaskInstance.map_index
        )
        .join(TaskInstance, TaskInstance.id == HITLDetail.ti_id)
        .where(HITLDetail.responded_at.is_(None), TaskInstance.dag_id.in_(sorted(dag_ids)))
        .order_by(HITLDetail.created_at)
        .limit(limit)
    )
    if dag_id:
        stmt = stmt.where(TaskInstance.dag_id == dag_id)
    if run_id:
        stmt = stmt.where(TaskInstance.run_id == run_id)
    found = []
    for detail, d, r, t, m in session.execute(stmt).all():
        options = detail.options if isinstance(detail.options, list) else list(detail.options or [])
        found.append(
            PendingReview(
                dag_id=d,
                run_id=r,
                task_id=t,
                map_index=m,
                subject=detail.subject,
                body=detail.body or "",
                options=[str(o) for o in options],
                created_at=detail.created_at.isoformat() if detail.created_at else None,
            )
        )
    return found
