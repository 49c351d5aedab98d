"""URL uploads without server-side request forgery: only http(s), and never to loopback, private,
link-local or cloud-metadata addresses unless the operator explicitly allowed it."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

METADATA_HOSTS = {"metadata.google.internal", "metadata", "instance-data"}


class URLRefused(ValueError):
    """The URL may not be fetched by this server."""


def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise URLRefused(f"cannot resolve host {host!r}") from exc
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def _is_internal(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return (
        addr.is_loopback
        or addr.is_private
        or addr.is_link_local
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
        or str(addr) in {"169.254.169.254", "fd00:ec2::254", "100.100.100.200"}
        or addr in ipaddress.ip_network("100.64.0.0/10")
    )


def check_url(url: str, allow_private: bool) -> None:
    """Raise URLRefused unless `url` is http(s) to a public address (or private ones are allowed)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise URLRefused(f"only http and https URLs can be uploaded, not {parts.scheme or 'no scheme'!r}")
    host = parts.hostname
    if not host:
        raise URLRefused("the URL has no host")
    if parts.username or parts.password:
        raise URLRefused("URLs with credentials are refused")
    if allow_private:
        return
    if host.lower().rstrip(".") in METADATA_HOSTS:
        raise URLRefused("cloud metadata addresses are refused")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    for addr in _addresses(host, port):
        if _is_internal(addr):
            raise URLRefused(f"address {addr} is internal (loopback, private, link-local or metadata)")
