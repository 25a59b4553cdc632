"""Credentials in URLs (pure): split off, left out, or redacted for messages.

Index URLs may carry them (``https://user:token@host/simple``). They are used for that
host and never shown, stored in a lock, or written to the cache.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit, urlunsplit

REDACTED = "***"

# scheme://user:secret@host  or  scheme://token@host (anywhere inside a longer text)
_USERINFO_RE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#@\s]+)@")


def _redact_match(match: re.Match[str]) -> str:
    user, sep, _ = match.group("userinfo").partition(":")
    if sep:
        return f"{match.group('scheme')}{user}:{REDACTED}@"
    return f"{match.group('scheme')}{REDACTED}@"  # a lone token is the secret itself


def redact(text: str) -> str:
    """``text`` with the password (or lone token) of every URL in it replaced by ``***``."""
    return _USERINFO_RE.sub(_redact_match, text)


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """(the URL without userinfo, (user, password) or None); both parts percent-decoded."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    clean = urlunsplit(parts._replace(netloc=hostport))
    return clean, (unquote(user), unquote(password))


def without_credentials(url: str) -> str:
    """The URL with its userinfo left out (anything that is not a URL unchanged)."""
    if "://" not in url:
        return url  # a name (conda-forge) or a path
    return split_credentials(url)[0]
