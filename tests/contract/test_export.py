"""Export: the formats both sides state (client, nemo_local's API and its renderer, the contract's text),
and the render body the client sends, read by nemo_local's model with no key left over."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nemo_local.api.render import FORMATS as API_FORMATS
from nemo_local.api.render import CreateRender
from nemo_local.renderer.formats import FORMATS as RENDERER_FORMATS
from nemo_provider.client import NemoClient
from nemo_provider.client.constants import EXPORT_FORMATS

from .conftest import Recorder, contract_list


def test_one_list_of_export_formats() -> None:
    assert tuple(EXPORT_FORMATS) == tuple(API_FORMATS)
    assert tuple(RENDERER_FORMATS) == tuple(
        API_FORMATS
    )  # the API reads the renderer's table, in the contract's order
    assert contract_list(r"Output formats for export: ([a-z0-9, ]+) \(") == list(EXPORT_FORMATS)


def test_the_render_body_the_client_sends_is_the_one_the_server_reads(
    client: NemoClient, recorder: Recorder, sample_files: dict[str, Path]
) -> None:
    session_id = client.create_session().session_id
    client.upload(session_id, files=[sample_files["mp4"]])
    draft = client.state(session_id).draft
    assert draft is not None and draft.is_exportable
    started = client.create_render(session_id, draft, format="m4a", quality="low")
    try:
        assert started.status in ("pending", "processing", "completed")
        (request,) = recorder.sent("POST", "/api/render/proxy/lambda")
        parsed = CreateRender.model_validate(json.loads(request.content))
        assert set(json.loads(request.content)) == set(CreateRender.model_fields)  # no key the model drops
        assert (parsed.sessionId, parsed.id, parsed.output.format, parsed.output.quality) == (
            session_id,
            started.id,
            "m4a",
            "low",
        )
    finally:
        client.cancel_render(started.id)


def test_a_format_outside_the_list_is_refused_before_sending(client: NemoClient, recorder: Recorder) -> None:
    with pytest.raises(ValueError, match="Unsupported export format 'flac'"):
        client.create_render("123", {"t": [{"tt": 1, "sg": [{"id": "a", "s": 0, "d": 1000}]}]}, format="flac")
    assert not recorder.sent("POST", "/api/render/proxy/lambda")
    assert "flac" not in API_FORMATS
