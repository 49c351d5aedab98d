"""Red-team finding: JSON integers have no size limit, and a draft value of 400 digits (`"d": 1000…0`)
overflowed `float()` in the draft check: HTTP 500 "internal error (OverflowError)" and a traceback in the
log, for every number the check reads. Such a number is now refused like Infinity, naming its field."""

from __future__ import annotations

import uuid

import pytest

from tests.nemo_local.security.conftest import Client, envelope

HUGE = "1" + "0" * 400  # a valid JSON integer that no float can hold


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"t":[{"tt":7,"sg":[{"s":0,"d":HUGE,"txt":"x"}]}]}', "draft.t[0].sg[0].d"),
        ('{"t":[{"tt":7,"sg":[{"s":HUGE,"d":1,"txt":"x"}]}]}', "draft.t[0].sg[0].s"),
        ('{"t":[{"tt":1,"sg":[{"s":0,"d":1,"src":"x","v":-HUGE}]}]}', "draft.t[0].sg[0].v"),
        ('{"t":[{"tt":7,"sg":[{"s":0,"d":1,"txt":"x","fi":HUGE}]}]}', "draft.t[0].sg[0].fi"),
        ('{"d":HUGE,"t":[{"tt":7,"sg":[{"s":0,"d":1,"txt":"x"}]}]}', "draft.d"),
        ('{"m":{"width":HUGE},"t":[{"tt":7,"sg":[{"s":0,"d":1,"txt":"x"}]}]}', "draft.m.width"),
    ],
)
def test_a_400_digit_number_in_a_draft_is_a_422_naming_its_field(
    strict: Client, raw: str, field: str
) -> None:
    user = strict.user()
    sid = user.new_session()
    rid = f"r_{uuid.uuid4().hex[:8]}"
    content = f'{{"id":"{rid}","sessionId":"{sid}","draft":{raw.replace("HUGE", HUGE)}}}'
    resp = user.post(
        "/api/render/proxy/lambda", content=content, headers={"Content-Type": "application/json"}
    )
    body = envelope(resp, 422)
    assert body["data"]["field"] == field, body
    assert "finite" in body["message"] and len(body["message"]) < 300, body["message"]
    assert user.get(f"/api/render/proxy/lambda/{rid}").status_code == 404  # no render was created
    assert "OverflowError" not in strict.server.log()
