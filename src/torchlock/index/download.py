"""Downloading whole files (for building environments), over the index client's HTTP stack."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torchlock.errors import PackageIndexError
from torchlock.index.client import import_httpx
from torchlock.index.urls import redact


class HttpFetcher:
    """Streams a file's bytes to a sink; proxies and certificates from the environment, as pip.

    ``http`` is an httpx.Client to use (tests may hand one); by default one is made on the
    first fetch and closed by :meth:`close`.
    """

    def __init__(self, http: Any = None, *, timeout: float = 60.0) -> None:
        self._http = http
        self._own: Any = None
        self._timeout = timeout

    def _client(self) -> Any:
        if self._http is not None:
            return self._http
        if self._own is None:
            httpx = import_httpx()
            self._own = httpx.Client(
                timeout=httpx.Timeout(self._timeout, connect=15.0), follow_redirects=True
            )
        return self._own

    def fetch(self, url: str, sink: Callable[[bytes], None]) -> None:
        httpx = import_httpx()
        shown = redact(url)
        try:
            with self._client().stream("GET", url) as response:
                if response.status_code != 200:
                    raise PackageIndexError(
                        f"cannot download {shown}",
                        evidence=[f"HTTP {response.status_code} {response.reason_phrase}".strip()],
                    )
                for chunk in response.iter_bytes():
                    sink(chunk)
        except httpx.HTTPError as exc:
            raise PackageIndexError(
                f"cannot download {shown}: {type(exc).__name__}",
                evidence=[redact(str(exc))] if str(exc) else [],
                hint="check the network (and HTTPS_PROXY), or use another --mirror",
            ) from None

    def close(self) -> None:
        if self._own is not None:
            self._own.close()
            self._own = None
