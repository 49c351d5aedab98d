"""URL safety without the network: schemes, credentials, literal internal addresses."""

from __future__ import annotations

import pytest

from nemo_local.ingest.urls import URLRefused, check_url


@pytest.mark.parametrize(
    "url",
    ["gopher://x/", "http://127.0.0.2/", "http://0.0.0.0/", "http://[fe80::1]/", "http://[::ffff:127.0.0.1]/",
     "http://172.16.0.1/", "http://100.64.0.1/", "http://169.254.169.254/", "http://metadata/", "http:///nohost"],
)  # fmt: skip
def test_refused(url: str) -> None:
    with pytest.raises(URLRefused):
        check_url(url, allow_private=False)


def test_allow_flag_lets_loopback_through_but_never_other_schemes() -> None:
    check_url("http://127.0.0.1:8000/a.mp4", allow_private=True)
    with pytest.raises(URLRefused):
        check_url("file:///etc/passwd", allow_private=True)


def test_public_literal_address_is_allowed() -> None:
    check_url("https://93.184.216.34/a.mp4", allow_private=False)
