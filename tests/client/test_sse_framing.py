"""The /run_sse reader keeps every text in arrival order and shows none twice, whatever ids the partial
chunks and the final aggregate carry (real ADK: one id for both; the service's framing is unpublished)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nemo_provider.client.models import MessageResult
from nemo_provider.client.sse import parse_stream


def _event(text: str, eid: str, *, partial: bool, author: str = "nemo_agent") -> dict[str, Any]:
    event: dict[str, Any] = {
        "content": {"parts": [{"text": text}], "role": "model"},
        "invocationId": "inv",
        "author": author,
        "id": eid,
    }
    if partial:
        event["partial"] = True
    return event


def _tool_call(eid: str, author: str = "nemo_agent") -> dict[str, Any]:
    call = {"id": f"call-{eid}", "name": "compose_music", "args": {}}
    return {"content": {"parts": [{"functionCall": call}], "role": "model"}, "author": author, "id": eid}


def _body(events: list[dict[str, Any]]) -> str:
    return "".join(f"data: {json.dumps(e)}\n\n" for e in events)


def _read(events: list[dict[str, Any]]) -> tuple[MessageResult, list[str]]:
    shown: list[str] = []
    return parse_stream(_body(events), on_text=shown.append), shown


#: How one text of chunks is framed: ids of the chunks (None: no chunks) and of the final (None: no final).
FRAMINGS = {
    "same id (real ADK)": lambda n, k: ([f"e{n}"] * k, f"e{n}"),
    "final has another id": lambda n, k: ([f"p{n}"] * k, f"f{n}"),
    "each chunk its own id": lambda n, k: ([f"p{n}.{i}" for i in range(k)], f"f{n}"),
    "chunks without ids": lambda n, k: ([""] * k, ""),
    "final without chunks": lambda n, k: (None, f"f{n}"),
    "chunks without final": lambda n, k: ([f"p{n}"] * k, None),
}


def _framed(n: int, chunks: list[str], framing: str, author: str = "nemo_agent") -> list[dict[str, Any]]:
    chunk_ids, final_id = FRAMINGS[framing](n, len(chunks))
    events = []
    if chunk_ids is not None:
        events += [_event(c, i, partial=True, author=author) for c, i in zip(chunks, chunk_ids, strict=True)]
    if final_id is not None:
        events.append(_event("".join(chunks), final_id, partial=False, author=author))
    else:  # without a final the text ends when its author sends a whole event (here: a tool call)
        events.append(_tool_call(f"t{n}", author))
    return events


@pytest.mark.parametrize("first", list(FRAMINGS))
@pytest.mark.parametrize("second", list(FRAMINGS))
def test_two_texts_keep_their_order_and_are_shown_once(first: str, second: str) -> None:
    events = _framed(1, ["Composing ", "your ", "track."], first) + _framed(
        2, ["Added it", " to the timeline."], second
    )
    result, shown = _read(events)
    assert result.texts == ["Composing your track.", "Added it to the timeline."]
    assert "".join(shown) == "Composing your track.Added it to the timeline."


def test_the_reported_bug_chunks_with_own_ids_are_not_appended_after_later_text() -> None:
    events = [
        _event("Hel", "p1", partial=True),
        _event("lo", "p2", partial=True),
        _event("Hello", "f1", partial=False),
        _event("Bye", "f2", partial=False),
    ]
    result, shown = _read(events)
    assert result.texts == ["Hello", "Bye"]
    assert shown == ["Hel", "lo", "Bye"]


def test_repeated_identical_chunks_are_all_shown() -> None:
    events = [
        _event("ha", "e1", partial=True),
        _event("ha", "e1", partial=True),
        _event("haha", "e1", partial=False),
    ]
    result, shown = _read(events)
    assert shown == ["ha", "ha"] and result.texts == ["haha"]


def test_a_final_that_rewrites_its_chunks_replaces_them_without_showing_them_again() -> None:
    events = [_event("Hello  wor", "e1", partial=True), _event("Hello world.", "e1", partial=False)]
    result, shown = _read(events)
    assert shown == ["Hello  wor"] and result.texts == ["Hello world."]


def test_a_different_final_of_the_same_author_is_a_new_text_after_the_open_one() -> None:
    events = [_event("Working", "p1", partial=True), _event("Done.", "f9", partial=False)]
    result, shown = _read(events)
    assert result.texts == ["Working", "Done."] and shown == ["Working", "Done."]


def test_interleaved_authors_each_keep_their_text_in_first_arrival_order() -> None:
    events = [
        _event("Hel", "a1", partial=True, author="composer"),
        _event("Wor", "b1", partial=True, author="editor"),
        _event("lo", "a2", partial=True, author="composer"),
        _event("World", "b9", partial=False, author="editor"),
        _event("Hello", "a9", partial=False, author="composer"),
    ]
    result, shown = _read(events)
    assert result.texts == ["Hello", "World"]
    assert shown == ["Hel", "Wor", "lo", "ld"]


def test_interleaved_authors_with_shared_ids() -> None:
    events = [
        _event("A1 ", "a", partial=True, author="composer"),
        _event("B1 ", "b", partial=True, author="editor"),
        _event("A2", "a", partial=True, author="composer"),
        _event("A1 A2", "a", partial=False, author="composer"),
        _event("B2", "b", partial=True, author="editor"),
        _event("B1 B2", "b", partial=False, author="editor"),
    ]
    result, shown = _read(events)
    assert result.texts == ["A1 A2", "B1 B2"] and shown == ["A1 ", "B1 ", "A2", "B2"]


_piece = st.text(alphabet="abc xyz.", min_size=1, max_size=6)


@settings(max_examples=150, deadline=None)
@given(
    texts=st.lists(
        st.tuples(
            st.lists(_piece, min_size=1, max_size=5),
            st.sampled_from(sorted(FRAMINGS)),
            st.sampled_from(["composer", "editor"]),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_any_mix_of_framings_gives_each_text_once_in_order(texts: list[tuple[list[str], str, str]]) -> None:
    events: list[dict[str, Any]] = []
    for n, (chunks, framing, author) in enumerate(texts):
        events += _framed(n, chunks, framing, author)
    result, shown = _read(events)
    wanted = ["".join(chunks) for chunks, _, _ in texts]
    assert result.texts == wanted
    assert "".join(shown) == "".join(wanted)


def test_a_rewriting_final_with_the_last_chunks_own_id_is_still_that_texts_aggregate() -> None:
    events = [
        _event("Hello  wor", "p1", partial=True),
        _event("ld", "p2", partial=True),
        _event("Hello world.", "p2", partial=False),
    ]
    result, shown = _read(events)
    assert shown == ["Hello  wor", "ld"] and result.texts == ["Hello world."]
