"""URL helpers (pure): credentials split off and redacted, loopback and plain-http checks."""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

from torchlock.credentials import REDACTED as REDACTED
from torchlock.credentials import redact as redact
from torchlock.credentials import split_credentials as split_credentials
from torchlock.errors import PackageIndexError
from torchlock.hosts import is_loopback as is_loopback
from torchlock.hosts import plain_http_allowed as plain_http_allowed

# the URL credential helpers live in torchlock.credentials (the lock model needs them too)


def origin(url: str) -> str:
    """scheme://host[:port] of ``url``, lower-cased, userinfo dropped."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # not a port number: the request itself will say so
        port = ""
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme.lower()}://{host}{port}"


def check_index_url(url: str, trusted_hosts: frozenset[str], *, local: bool = False) -> SplitResult:
    """The parsed URL when torchlock may fetch from it; PackageIndexError before any connection.

    https always; plain http only to loopback or to a host the user trusts; with ``local``
    (an index URL the user gave, never one a page or a lock names) a ``file:`` simple index
    too, as pip takes one.
    """
    if local and url[:5].lower() == "file:":
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise PackageIndexError(
                f"unsupported package index URL {redact(url)}",
                evidence=[f"a file: URL names a local folder, not the host {parts.netloc!r}"],
                hint="give file:///PATH/TO/simple",
            )
        return parts
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError as exc:  # a port out of range or not a number, a broken [IPv6]
        raise PackageIndexError(
            f"malformed package index URL {redact(url)}",
            evidence=[str(exc)],
            hint="give a URL such as https://HOST[:PORT]/simple",
        ) from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme == "https" and host:
        return parts
    if scheme == "http" and host:
        if plain_http_allowed(parts, trusted_hosts):
            return parts
        raise PackageIndexError(
            f"refusing plain-http package index {redact(url)}",
            evidence=[f"{host} is not a loopback address and not a trusted host"],
            hint=f"use https, or pass --trusted-host {host} if you trust this network",
        )
    raise PackageIndexError(
        f"unsupported package index URL {redact(url)}",
        evidence=[f"scheme {parts.scheme or '(none)'!r}, host {host or '(none)'!r}"],
        hint="give an https:// URL (or a local folder of wheels as --find-links)",
    )
