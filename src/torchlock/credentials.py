"""Credentials in URLs (pure): split off, left out, or redacted for messages.

Index URLs may carry them (``https://user:token@host/simple``). They are used for that
host and never shown, stored in a lock, or written to the cache.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit, urlunsplit

REDACTED = "***"

# Where a URL in a longer text ends: whitespace, or a quote or bracket around it.
_URL_END = re.compile(r"[\s\"'<>()\[\]{}]")
# Tokens carried in the path or query rather than the userinfo: Anaconda's
# /t/<token>/ and ?token= (or &token=, access_token=, api_key=) query parameters.
_PATH_TOKEN = re.compile(r"/t/[^/\s]+")
_QUERY_TOKEN = re.compile(r"(?i)([?&](?:token|access_token|api_key|apikey)=)[^&#\s]*")


def _redact_url(url: str) -> str:
    """One URL (``scheme://...`` up to where it ends) with its secrets replaced."""
    head, _, rest = url.partition("://")
    # The userinfo ends at the last "@" before the host: a password may hold an unencoded
    # "@" or "/" (people paste them so), and leaking its tail is worse than hiding more.
    at = rest.rfind("@")
    if at >= 0:
        user, sep, _ = rest[:at].partition(":")
        shown = f"{user}:{REDACTED}" if sep and "/" not in user else REDACTED
        rest = f"{shown}@{rest[at + 1 :]}"
    rest = _PATH_TOKEN.sub(f"/t/{REDACTED}", rest)
    rest = _QUERY_TOKEN.sub(lambda m: m.group(1) + REDACTED, rest)
    return f"{head}://{rest}"


def redact(text: str) -> str:
    """``text`` with the secrets of every URL in it replaced by ``***``: the password (or
    lone token) of its userinfo, an Anaconda ``/t/<token>/`` and ``?token=`` values.

    Linear in the length of ``text``: each URL is found from its ``://`` and read once.
    """
    if "://" not in text:
        return text
    out: list[str] = []
    done = 0
    start = text.find("://")
    while start >= 0:
        # back over the scheme (letters, digits, + . -), at most 32 characters of it
        begin = start
        while (
            begin > done
            and start - begin < 32
            and (text[begin - 1].isalnum() or text[begin - 1] in "+.-")
        ):
            begin -= 1
        end_match = _URL_END.search(text, start + 3)
        end = len(text) if end_match is None else end_match.start()
        out.append(text[done:begin])
        out.append(_redact_url(text[begin:end]))
        done = end
        start = text.find("://", end)
    out.append(text[done:])
    return "".join(out)


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
