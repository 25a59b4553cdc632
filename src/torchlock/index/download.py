"""Downloading whole files (for building environments), over the index client's HTTP stack."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from torchlock.errors import DownloadInterrupted, PackageIndexError
from torchlock.hosts import is_loopback
from torchlock.index.logins import NetrcLogins
from torchlock.index.urls import check_index_url, redact

if TYPE_CHECKING:
    from torchlock.index.transport import Session


class HttpFetcher:
    """Streams a file's bytes to a sink; proxies and certificates from the environment, as pip.

    ``http`` is a :class:`~torchlock.index.transport.Session` to use; by default one is made
    on the first fetch (trusting ``ca_file`` instead of the system's certificates, when
    given) and closed by :meth:`close`. A host with a login in the netrc file at
    ``netrc_path`` gets it (a private index serves its files to the same login).

    URLs from a lock follow the rules of index URLs (a lock comes from a repository anyone
    can send a pull request to): https, or plain http only to loopback or a host in
    ``trusted_hosts``, and a netrc login only ever over https or to loopback.
    """

    def __init__(
        self,
        http: Session | None = None,
        *,
        timeout: float = 60.0,
        ca_file: str | os.PathLike[str] | None = None,
        netrc_path: Path | None = None,
        trusted_hosts: Iterable[str] = (),
    ) -> None:
        self._http = http
        self._own: Session | None = None
        self._timeout = timeout
        self._ca_file = ca_file
        self._logins = NetrcLogins(netrc_path)
        self._trusted = frozenset(h.strip().lower() for h in trusted_hosts)

    def _client(self) -> Session:
        if self._http is not None:
            return self._http
        if self._own is None:
            from torchlock.index.transport import Session

            self._own = Session(
                connect_timeout=15.0, read_timeout=self._timeout, ca_file=self._ca_file
            )
        return self._own

    def fetch(
        self,
        url: str,
        sink: Callable[[bytes], None],
        *,
        start: int = 0,
        restart: Callable[[], None] = lambda: None,
    ) -> None:
        """Stream ``url`` to ``sink``; from byte ``start`` on with a Range request, calling
        ``restart`` first when the server sends the whole file instead."""
        from torchlock.index import transport

        shown = redact(url)
        parts = check_index_url(url, self._trusted)  # before any connection
        try:
            # identity: the bytes hashed are the file's own, whatever a server might compress
            login = None
            if parts.scheme.lower() == "https" or is_loopback(parts.hostname or ""):
                # never a password in the clear to a host a lock named
                login = self._logins.for_host(parts.hostname or "")
            headers = {"Accept-Encoding": "identity"}
            if start:
                headers["Range"] = f"bytes={start}-"
            with self._client().stream(url, headers, auth=login) as response:
                if start and response.status == 206:
                    begins = response.headers.get("content-range", "").partition(" ")[2]
                    if not begins.startswith(f"{start}-"):
                        raise PackageIndexError(
                            f"cannot resume downloading {shown}",
                            evidence=[f"asked for bytes {start}-, got {begins or 'no range'}"],
                        )
                elif response.status == 200:
                    if start:
                        restart()
                else:
                    raise PackageIndexError(
                        f"cannot download {shown}",
                        evidence=[f"HTTP {response.status} {response.reason}".strip()],
                    )
                for chunk in response.iter_bytes():
                    sink(chunk)
        except transport.TransportError as exc:
            if exc.lasting:
                from torchlock.index.client import lasting_failure

                raise lasting_failure("download", url, exc) from None
            raise DownloadInterrupted(
                f"cannot download {shown}: {type(exc).__name__}",
                evidence=[redact(str(exc))] if str(exc) else [],
                hint="check the network (and HTTPS_PROXY), or use another --mirror",
            ) from None

    def close(self) -> None:
        if self._own is not None:
            self._own.close()
            self._own = None

    def abort(self) -> None:
        """End the downloads in flight at once (Ctrl-C); later fetches fail."""
        self._client().abort()
