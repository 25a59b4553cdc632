"""Logins for package hosts from a netrc file, read once, on first use."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger("torchlock.index")


class NetrcLogins:
    """(login, password) per host from the netrc file at ``path`` (None: no file).

    A missing file means no logins; an unreadable one is reported once as a warning and
    ignored, as pip does. Safe to share between threads.
    """

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._parsed: Any = None  # a netrc.netrc, False when there is none, None: not read

    def for_host(self, host: str) -> tuple[str, str] | None:
        if self._path is None or not host:
            return None
        import netrc

        with self._lock:
            if self._parsed is None:
                try:
                    self._parsed = netrc.netrc(str(self._path))
                except FileNotFoundError:
                    self._parsed = False
                except (netrc.NetrcParseError, OSError) as exc:
                    log.warning("ignoring unreadable netrc file %s: %s", self._path, exc)
                    self._parsed = False
            parsed = self._parsed
        if parsed is False:
            return None
        entry = parsed.authenticators(host)
        if not entry:
            return None
        login, account, password = entry
        return (login or account or "", password or "")
