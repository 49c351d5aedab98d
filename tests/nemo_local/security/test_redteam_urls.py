"""Red-team finding: IPv6 forms Python's `is_global` calls public although no public host lives there
passed the URL-upload check: the IPv4-translated form of 127.0.0.1 (SIIT, `::ffff:0:7f00:1`), the rest
of the reserved ::/8, the new documentation prefix 3fff::/20 and SRv6 SIDs 5f00::/16.

Checked in-process with a resolver that only parses literals: a server-level test would make the
unfixed code connect to those addresses, and tests send nothing beyond loopback."""

from __future__ import annotations

import ipaddress

import pytest

from nemo_local.ingest.urls import Address, URLRefused, check_url


def _literal(host: str, port: int) -> list[Address]:
    return [ipaddress.ip_address(host.strip("[]"))]


@pytest.mark.parametrize(
    "host",
    [
        "[::ffff:0:7f00:1]",  # IPv4-translated (SIIT) 127.0.0.1
        "[::ffff:0:a00:1]",  # IPv4-translated 10.0.0.1
        "[::ffff:0:0:7f00:1]",  # elsewhere in the reserved ::/8
        "[3fff::1]",  # documentation (RFC 9637)
        "[5f00::1]",  # SRv6 SIDs (RFC 9602)
    ],
)
def test_ipv6_forms_is_global_misses_are_refused(host: str) -> None:
    with pytest.raises(URLRefused, match="not public"):
        check_url(f"http://{host}/a.png", False, _literal)


def test_a_public_ipv6_address_still_passes() -> None:
    assert str(check_url("http://[2606:4700::1111]/a.png", False, _literal).address) == "2606:4700::1111"
