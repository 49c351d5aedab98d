"""The tracks page's FastAPI app, mounted by Airflow's api-server under ``/nemo``.

Plugin endpoints are not protected by Airflow by default, so every route here depends on Airflow's own
authentication (``get_user``: the UI's JWT cookie or a bearer token) and authorization (the auth
manager's DAG permissions). The list shows only DAGs the user may read; a single track and its media
need read access to that DAG's XComs. Media is located by task-instance identity through the catalogue;
no part of a request is used as a path.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse

from nemo_provider.links.urls import URL_PREFIX
from nemo_provider.plugins import catalogue, page
from nemo_provider.plugins.media import MediaError, locate, parse_range, response_headers, stream
from nemo_provider.plugins.reviews import pending_reviews


def _security() -> Any:
    from airflow.api_fastapi.core_api import security

    return security


async def _user(request: Request) -> Any:
    """Airflow's authenticated user; 401 (JSON, or an HTML page with a login link) otherwise."""
    security = _security()
    bearer = await security.bearer_scheme(request)
    try:
        return await security.get_user(request, None, bearer)
    except HTTPException as err:
        if "text/html" in request.headers.get("accept", ""):
            raise _LoginRequired(err.status_code, str(err.detail)) from err
        raise


class _LoginRequired(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _readable_dag_ids(user: Any) -> frozenset[str]:
    from airflow.api_fastapi.app import get_auth_manager

    return frozenset(get_auth_manager().get_authorized_dag_ids(user=user, method="GET"))


def _require_dag(user: Any, dag_id: str) -> None:
    """Read access to the DAG's XComs (where the track lives), or 403."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
    from airflow.models.dag import DagModel

    allowed = get_auth_manager().is_authorized_dag(
        method="GET",
        access_entity=DagAccessEntity.XCOM,
        details=DagDetails(id=dag_id, team_name=DagModel.get_team_name(dag_id)),
        user=user,
    )
    if not allowed:
        raise HTTPException(403, f"You may not read DAG {dag_id!r}.")


def _session() -> Iterator[Any]:
    from airflow.utils.session import create_session

    with create_session() as session:
        yield session


def _date(value: str | None, *, end: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        day = datetime.fromisoformat(value)
    except ValueError as err:
        raise HTTPException(422, f"{value!r} is not a date (YYYY-MM-DD).") from err
    if day.tzinfo is None:
        day = day.replace(tzinfo=timezone.utc)
    if end and len(value) <= 10:  # a whole day: include all of it
        day += timedelta(days=1)
    return day


User = Annotated[Any, Depends(_user)]
DB = Annotated[Any, Depends(_session)]


def _filter(
    user: Any, dag_id: str | None, run_id: str | None, q: str | None, since: str | None, until: str | None
) -> catalogue.TrackFilter:
    readable = _readable_dag_ids(user)
    if dag_id and dag_id not in readable:
        raise HTTPException(403, f"You may not read DAG {dag_id!r}.")
    return catalogue.TrackFilter(
        dag_ids=readable,
        dag_id=dag_id or None,
        run_id=run_id or None,
        q=(q or "").strip() or None,
        since=_date(since),
        until=_date(until, end=True),
    )


@dataclass(frozen=True)
class _Listing:
    """One page of the tracks a user may see, as the page and its JSON twin both ask for it."""

    flt: catalogue.TrackFilter
    tracks: list[catalogue.Track]
    total: int
    page_no: int
    per_page: int
    filters: dict[str, str | None]


def _listing(
    user: User,
    session: DB,
    dag_id: str | None = None,
    run_id: str | None = None,
    q: str | None = None,
    since: str | None = None,
    until: str | None = None,
    page_no: Annotated[int, Query(alias="page", ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=catalogue.MAX_PAGE_SIZE)] = catalogue.PAGE_SIZE,
) -> _Listing:
    flt = _filter(user, dag_id, run_id, q, since, until)
    tracks, total = catalogue.list_tracks(session, flt, page=page_no, page_size=per_page)
    filters = {"dag_id": dag_id, "run_id": run_id, "q": q, "since": since, "until": until}
    return _Listing(flt, tracks, total, page_no, per_page, filters)


def _delivered_track(
    user: User, session: DB, dag_id: str, run_id: str, task_id: str, map_index: int = -1
) -> catalogue.Track:
    """The track one task instance delivered, for a user who may read its DAG (the player and /media)."""
    _require_dag(user, dag_id)
    track = catalogue.get_track(session, dag_id, run_id, task_id, map_index)
    if track is None:
        raise HTTPException(404, "That task instance delivered no track.")
    return track


Listing = Annotated[_Listing, Depends(_listing)]
Delivered = Annotated[catalogue.Track, Depends(_delivered_track)]


def create_app() -> FastAPI:
    app = FastAPI(title="Nemo tracks", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(_LoginRequired)
    async def login_required(request: Request, exc: _LoginRequired) -> HTMLResponse:
        return HTMLResponse(page.login_required(_airflow_root(request), exc.detail), status_code=exc.status)

    @app.get("/icon.svg")
    def icon() -> Response:
        """The navigation icon (public, like the UI's own assets)."""
        return Response(page.ICON_SVG, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})

    @app.get("/tracks", response_class=HTMLResponse)
    def tracks_page(request: Request, session: DB, listing: Listing) -> HTMLResponse:
        flt = listing.flt
        reviews = pending_reviews(session, flt.dag_ids or frozenset(), dag_id=flt.dag_id)
        html = page.tracks_page(
            listing.tracks,
            total=listing.total,
            page_no=listing.page_no,
            per_page=listing.per_page,
            filters=listing.filters,
            dag_ids=sorted(flt.dag_ids or ()),
            reviews=reviews,
            prefix=request.scope.get("root_path", URL_PREFIX),
            airflow_root=_airflow_root(request),
        )
        return HTMLResponse(html)

    @app.get("/track", response_class=HTMLResponse)
    def track_page(request: Request, session: DB, track: Delivered) -> HTMLResponse:
        reviews = pending_reviews(
            session, frozenset({track.dag_id}), dag_id=track.dag_id, run_id=track.run_id
        )
        html = page.track_page(
            track,
            reviews=reviews,
            prefix=request.scope.get("root_path", URL_PREFIX),
            airflow_root=_airflow_root(request),
        )
        return HTMLResponse(html)

    @app.get("/api/tracks")
    def tracks_json(listing: Listing) -> JSONResponse:
        return JSONResponse(
            {
                "total": listing.total,
                "page": listing.page_no,
                "per_page": listing.per_page,
                "tracks": [t.as_dict() for t in listing.tracks],
            }
        )

    @app.get("/media")
    def media(request: Request, track: Delivered, download: bool = False) -> Response:
        if not track.path:
            raise HTTPException(404, "That task instance delivered no file.")
        try:
            found = locate(track.path, track.size)
        except MediaError as err:
            raise HTTPException(err.status, str(err)) from err
        try:
            span = parse_range(request.headers.get("range"), found.size)
        except MediaError as err:  # 416: the size in the header is the file's, whatever the XCom said
            raise HTTPException(
                err.status, str(err), headers={"Content-Range": f"bytes */{found.size}"}
            ) from err
        start, end = span if span is not None else (0, found.size - 1)
        return StreamingResponse(
            stream(found, start, end),
            status_code=206 if span is not None else 200,
            headers=response_headers(found, span, download),
            media_type=found.content_type,
        )

    return app


def _airflow_root(request: Request) -> str:
    """The api-server's root path as seen by this request (the mount point minus ``/nemo``)."""
    root = str(request.scope.get("root_path", ""))
    return root[: -len(URL_PREFIX)] if root.endswith(URL_PREFIX) else root
