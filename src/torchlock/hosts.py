"""Which hosts torchlock may reach over plain http: loopback, and those the user trusts.

Package indexes and conda channels follow the same rule (repodata and project pages read
over an open network could be changed on the way, and the hashes a lock pins come from
them); the proxy rules use the loopback test too.
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import SplitResult


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    if name == "::1":
        return True
    parts = name.split(".")
    if len(parts) == 4 and parts[0] == "127" and all(_octet(p) for p in parts):
        return True  # the common literal, without ipaddress
    if name[:1].isalpha() and ":" not in name:
        return False  # a host name; ipaddress (a costly import) only for other literals
    import ipaddress

    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _octet(text: str) -> bool:
    return text.isdigit() and int(text) <= 255 and (text == "0" or not text.startswith("0"))


def plain_http_allowed(parts: SplitResult, trusted_hosts: Collection[str]) -> bool:
    """Whether plain http to this URL's host is allowed: loopback, or a host (or
    host:port) the user named as trusted; anything else could be tampered with on the way."""
    host = (parts.hostname or "").lower()
    hostport = f"{host}:{parts.port}" if parts.port else host
    return is_loopback(host) or host in trusted_hosts or hostport in trusted_hosts
