"""HTML of the tracks page: server-rendered (no build step, no bundle), every value escaped.

Each card has the player (``<audio>``, or ``<video>`` for video formats), a waveform drawn in the
browser from the same media endpoint (only when the card scrolls into view), the metadata, the quality
result where there is one, links to the DAG run and task in Airflow's UI, and a download link. Links to
Airflow open in the top window, so they work both inside the UI's plugin frame and on their own.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from nemo_provider.links.urls import media_url, player_url, tracks_url

if TYPE_CHECKING:
    from nemo_provider.plugins.catalogue import Track
    from nemo_provider.plugins.reviews import PendingReview

ICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="currentColor" '
    'stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><path d="M9 18V5l12-2v13"/>'
    '<circle cx="6" cy="18" r="3"/><circle cx="18" cy="16" r="3"/></svg>'
)

_CSS = """
:root { color-scheme: light dark; --fg:#1a202c; --muted:#5a6577; --bg:#fff; --card:#f7f9fc; --line:#d9e0ea;
  --accent:#017cee; }
@media (prefers-color-scheme: dark) { :root { --fg:#e6e9ef; --muted:#a3adbd; --bg:#141820; --card:#1d2330;
  --line:#2e3646; } }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); margin: 0; padding: 16px 20px; }
h1 { font-size: 20px; margin: 0 0 12px; } h2 { font-size: 16px; margin: 18px 0 8px; }
a { color: var(--accent); }
form.filters { display: flex; flex-wrap: wrap; gap: 8px; align-items: end; margin-bottom: 12px; }
form.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); }
input, select, button { font: inherit; padding: 4px 8px; border: 1px solid var(--line); border-radius: 6px;
  background: var(--bg); color: var(--fg); }
button { cursor: pointer; } button.primary { background: var(--accent); color: #fff; border-color: var(--accent); }
.count { color: var(--muted); margin: 4px 0 12px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 12px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px; }
.card h3 { font-size: 15px; margin: 0 0 4px; }
.prompt { color: var(--muted); margin: 0 0 8px; font-style: italic; }
canvas.wave { width: 100%; height: 56px; display: block; background: transparent; }
audio, video { width: 100%; margin: 6px 0; } video { max-height: 240px; background: #000; border-radius: 6px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 10px; margin: 6px 0; font-size: 13px; }
dt { color: var(--muted); } dd { margin: 0; }
.links { display: flex; gap: 12px; flex-wrap: wrap; font-size: 13px; margin-top: 6px; }
.badge { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 12px; border: 1px solid var(--line); }
.pass { color: #0a7d32; border-color: #0a7d32; } .fail { color: #c0262d; border-color: #c0262d; }
.review { border-left: 4px solid var(--accent); padding: 8px 12px; margin: 8px 0; background: var(--card); }
.review .body { white-space: pre-wrap; margin: 4px 0 8px; }
.pager { display: flex; gap: 10px; margin: 14px 0; align-items: center; }
.empty { color: var(--muted); padding: 24px 0; }
"""

_JS = """
const drawn = new WeakSet();
async function drawWave(canvas) {
  if (drawn.has(canvas)) return; drawn.add(canvas);
  try {
    const data = await (await fetch(canvas.dataset.src, {credentials: 'same-origin'})).arrayBuffer();
    const ctx = new (window.OfflineAudioContext || window.webkitOfflineAudioContext)(1, 2, 44100);
    const audio = await ctx.decodeAudioData(data);
    const ch = audio.getChannelData(0), w = canvas.width = canvas.clientWidth * devicePixelRatio,
      h = canvas.height = canvas.clientHeight * devicePixelRatio, g = canvas.getContext('2d');
    const step = Math.max(1, Math.floor(ch.length / w));
    g.fillStyle = getComputedStyle(document.documentElement).getPropertyValue('--accent') || '#017cee';
    for (let x = 0; x < w; x++) {
      let peak = 0; for (let i = x * step, e = Math.min(ch.length, i + step); i < e; i++) peak = Math.max(peak, Math.abs(ch[i]));
      const bar = Math.max(1, peak * h); g.fillRect(x, (h - bar) / 2, 1, bar);
    }
    canvas.dataset.drawn = '1';
  } catch (err) { canvas.dataset.drawn = 'error'; canvas.title = 'No waveform: ' + err; }
}
const seen = new IntersectionObserver(es => es.forEach(e => e.isIntersecting && drawWave(e.target)));
document.querySelectorAll('canvas.wave').forEach(c => seen.observe(c));
document.querySelectorAll('button[data-hitl]').forEach(b => b.addEventListener('click', async () => {
  const box = b.closest('.review'), out = box.querySelector('.result');
  box.querySelectorAll('button').forEach(x => x.disabled = true);
  const r = await fetch(b.dataset.hitl, {method: 'PATCH', credentials: 'same-origin',
    headers: {'Content-Type': 'application/json'}, body: JSON.stringify({chosen_options: [b.dataset.option], params_input: {}})});
  if (r.ok) { out.textContent = 'Answered: ' + b.dataset.option + '. The run continues.'; box.dataset.answered = b.dataset.option; }
  else { let msg = r.status + ''; try { msg += ': ' + (await r.json()).detail; } catch (e) {}
    out.textContent = 'Not answered (' + msg + ')'; box.querySelectorAll('button').forEach(x => x.disabled = false); }
}));
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    total = round(float(seconds))
    return f"{total // 60}:{total % 60:02d}"


def _size(size: int | None) -> str:
    if size is None:
        return "?"
    return f"{size / 1_000_000:.2f} MB" if size >= 100_000 else f"{size / 1000:.1f} kB"


def _ui_task_url(root: str, dag_id: str, run_id: str, task_id: str, map_index: int) -> str:
    url = (
        f"{root}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}/tasks/{quote(task_id, safe='')}"
    )
    return url + (f"/mapped/{map_index}" if map_index >= 0 else "")


def _quality(quality: dict[str, Any] | None) -> str:
    """The quality gate's verdict (``QualityResult.as_dict()``: passed, summary, measured), if any."""
    if not quality:
        return ""
    passed = quality.get("passed")
    label = "passed" if passed else "failed" if passed is not None else "checked"
    details = [str(quality["summary"])] if quality.get("summary") else []
    raw = quality.get("measured")
    measured: dict[str, Any] = raw if isinstance(raw, dict) else {}
    for name in ("lufs", "true_peak", "duration_s"):
        if measured.get(name) is not None:
            details.append(f"{name} {measured[name]}")
    css = "pass" if passed else "fail" if passed is not None else ""
    return (
        f'<dt>Quality</dt><dd data-field="quality"><span class="badge {css}">{label}</span> '
        f"{_e(' · '.join(details))}</dd>"
    )


def track_card(track: Track, prefix: str, airflow_root: str) -> str:
    where = (track.dag_id, track.run_id, track.task_id, track.map_index)
    media = media_url(*where, base=airflow_root)
    if track.is_animation:  # an animated GIF has no sound: a picture, not a player
        player = f'<img class="animation" src="{_e(media)}" alt="{_e(track.title or "animation")}">'
    elif track.is_video:
        player = f'<video controls preload="metadata" src="{_e(media)}" data-duration="{_e(track.duration)}"></video>'
    else:
        player = (
            f'<canvas class="wave" data-src="{_e(media)}" aria-label="waveform"></canvas>'
            f'<audio controls preload="metadata" src="{_e(media)}" data-duration="{_e(track.duration)}"></audio>'
        )
    rows = [
        ("Duration", _duration(track.duration)),
        ("BPM", track.bpm),
        ("Key", track.key),
        ("Mood", track.mood),
        ("Loudness", f"{track.lufs:.1f} LUFS" if isinstance(track.lufs, int | float) else None),
        ("Format", f"{(track.format or '?').upper()} · {_size(track.size)}"),
        ("Credits", track.credits_spent),
        ("Seed", track.seed),
        (
            "Delivered",
            (track.delivered_at or "")[:19].replace("T", " ") + " UTC" if track.delivered_at else None,
        ),
    ]
    meta = "".join(
        f"<dt>{_e(k)}</dt><dd data-field='{_e(k.lower())}'>{_e(v)}</dd>" for k, v in rows if v is not None
    )
    run_url = f"{airflow_root}/dags/{quote(track.dag_id, safe='')}/runs/{quote(track.run_id, safe='')}"
    task_url = _ui_task_url(airflow_root, track.dag_id, track.run_id, track.task_id, track.map_index)
    task_label = track.task_id + (f" [{track.map_index}]" if track.map_index >= 0 else "")
    return f"""
<article class="card track" id="{_e(track.dag_id)}--{_e(track.run_id)}--{_e(track.task_id)}--{track.map_index}"
  data-dag-id="{_e(track.dag_id)}" data-run-id="{_e(track.run_id)}" data-task-id="{_e(track.task_id)}"
  data-map-index="{track.map_index}" data-format="{_e(track.format)}" data-size="{_e(track.size)}">
  <h3>{_e(track.title or track.task_id)}</h3>
  <p class="prompt">{_e(track.prompt or "")}</p>
  {player}
  <dl>{meta}{_quality(track.quality)}</dl>
  <div class="links">
    <a target="_top" href="{_e(run_url)}">Run {_e(track.run_id)}</a>
    <a target="_top" href="{_e(task_url)}">Task {_e(task_label)}</a>
    <a href="{_e(media_url(*where, download=True, base=airflow_root))}" download class="download">Download</a>
    <a target="_blank" href="{_e(player_url(*where, base=airflow_root))}">Player page</a>
  </div>
</article>"""


_URL = re.compile(r"https?://[^\s)\]>\"']+")


_BOLD = re.compile(r"\*\*(.+?)\*\*")


def _text(text: str) -> str:
    """Escaped text with Markdown's **bold** kept (the only markup HITL bodies here use besides links)."""
    return _BOLD.sub(r"<strong>\1</strong>", _e(text))


def _linkify(text: str) -> str:
    out, last = [], 0
    for match in _URL.finditer(text):
        out.append(_text(text[last : match.start()]))
        out.append(f'<a target="_blank" href="{_e(match.group(0))}">{_e(match.group(0))}</a>')
        last = match.end()
    out.append(_text(text[last:]))
    return "".join(out)


def review_box(review: PendingReview, airflow_root: str) -> str:
    endpoint = (
        f"{airflow_root}/api/v2/dags/{quote(review.dag_id, safe='')}/dagRuns/{quote(review.run_id, safe='')}"
        f"/taskInstances/{quote(review.task_id, safe='')}/{review.map_index}/hitlDetails"
    )
    buttons = "".join(
        f'<button class="{"primary" if i == 0 else ""}" data-hitl="{_e(endpoint)}" data-option="{_e(o)}">{_e(o)}</button> '
        for i, o in enumerate(review.options)
    )
    task_url = _ui_task_url(airflow_root, review.dag_id, review.run_id, review.task_id, review.map_index)
    return f"""
<div class="review" data-dag-id="{_e(review.dag_id)}" data-run-id="{_e(review.run_id)}" data-task-id="{_e(review.task_id)}">
  <strong>{_e(review.subject)}</strong> · <a target="_top" href="{_e(task_url)}">{_e(review.dag_id)} / {_e(review.task_id)}</a>
  <div class="body">{_linkify(review.body)}</div>
  {buttons}<span class="result"></span>
</div>"""


def _shell(title: str, content: str) -> str:
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{_e(title)}</title>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{_CSS}</style></head>"
        f"<body>{content}<script>{_JS}</script></body></html>"
    )


def tracks_page(
    tracks: Sequence[Track],
    *,
    total: int,
    page_no: int,
    per_page: int,
    filters: dict[str, str | None],
    dag_ids: Sequence[str],
    reviews: Sequence[PendingReview],
    prefix: str,
    airflow_root: str,
) -> str:
    options = "".join(
        f'<option value="{_e(d)}"{" selected" if d == filters.get("dag_id") else ""}>{_e(d)}</option>'
        for d in dag_ids
    )
    form = f"""
<form class="filters" method="get" action="{_e(prefix)}/tracks">
  <label>DAG<select name="dag_id"><option value="">All DAGs</option>{options}</select></label>
  <label>Run id<input name="run_id" value="{_e(filters.get("run_id"))}" placeholder="manual__…"></label>
  <label>Prompt contains<input name="q" value="{_e(filters.get("q"))}" placeholder="piano"></label>
  <label>From<input type="date" name="since" value="{_e(filters.get("since"))}"></label>
  <label>To<input type="date" name="until" value="{_e(filters.get("until"))}"></label>
  <button class="primary" type="submit">Filter</button> <a href="{_e(prefix)}/tracks">Reset</a>
</form>"""
    review_html = ""
    if reviews:
        review_html = f"<h2>Waiting for review ({len(reviews)})</h2>" + "".join(
            review_box(r, airflow_root) for r in reviews
        )
    cards = "".join(track_card(t, prefix, airflow_root) for t in tracks)
    if not cards:
        cards = '<p class="empty">No delivered tracks match. Run a DAG with NemoExportOperator, then come back.</p>'
    pages = max(1, -(-total // per_page))
    first = (page_no - 1) * per_page + 1 if total else 0
    last = min(total, page_no * per_page)
    query = {k: v for k, v in filters.items() if v}

    def page_link(n: int, label: str) -> str:
        return f'<a rel="{label.lower()}" href="{_e(prefix)}/tracks?{_e(urlencode({**query, "page": n, "per_page": per_page}))}">{label}</a>'

    pager = '<nav class="pager">'
    pager += page_link(page_no - 1, "Previous") if page_no > 1 else ""
    pager += f"<span>Page {page_no} of {pages}</span>"
    pager += page_link(page_no + 1, "Next") if page_no < pages else ""
    pager += "</nav>"
    body = (
        f"<h1>Nemo tracks</h1>{form}{review_html}"
        f'<p class="count" data-total="{total}">{first}–{last} of {total} delivered tracks, newest first</p>'
        f'<section class="grid">{cards}</section>{pager}'
    )
    return _shell("Nemo tracks", body)


def track_page(track: Track, *, reviews: Sequence[PendingReview], prefix: str, airflow_root: str) -> str:
    review_html = "".join(review_box(r, airflow_root) for r in reviews)
    back = f'<p><a href="{_e(prefix)}/tracks">← All tracks</a></p>'
    body = f"<h1>{_e(track.title or track.task_id)}</h1>{back}{review_html}<section class='grid'>{track_card(track, prefix, airflow_root)}</section>"
    return _shell(f"{track.title or track.task_id} · Nemo tracks", body)


def login_required(airflow_root: str, detail: str) -> str:
    login = f"{airflow_root}/auth/login/?next={quote(tracks_url(base=airflow_root), safe='')}"
    return _shell(
        "Log in · Nemo tracks",
        f"<h1>Nemo tracks</h1><p>{_e(detail)}. <a target='_top' href='{_e(login)}'>Log in to Airflow</a> to see "
        "and hear the tracks of the DAGs you may read.</p>",
    )
