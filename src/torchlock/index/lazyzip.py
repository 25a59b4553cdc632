"""A read-only, seekable file over HTTP range requests (pure: the fetching is passed in).

:class:`RangeFile` is enough of a file for :mod:`zipfile`: reading a wheel's METADATA takes
the central directory (at the end of the archive) and one member, usually all within the
first tail fetched, so one or two requests instead of the whole wheel.
"""

from __future__ import annotations

import os
from collections.abc import Callable

# fetch(start, end_inclusive) -> exactly those bytes
RangeFetch = Callable[[int, int], bytes]

TAIL_BYTES = 64 * 1024
MIN_FETCH = 64 * 1024


def parse_content_range(value: str | None) -> tuple[int, int, int] | None:
    """(start, end inclusive, total) of a ``Content-Range: bytes a-b/n`` header."""
    if not value:
        return None
    unit, _, spec = value.strip().partition(" ")
    if unit.lower() != "bytes":
        return None
    span, _, total = spec.partition("/")
    start, _, end = span.partition("-")
    try:
        return int(start), int(end), int(total)
    except ValueError:
        return None


class RangeFile:
    """``size`` bytes, of which ``segments`` are known; the rest is fetched on first read."""

    def __init__(self, size: int, fetch: RangeFetch, segments: dict[int, bytes]) -> None:
        self._size = size
        self._fetch = fetch
        self._segments = dict(segments)
        self._pos = 0

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            position = offset
        elif whence == os.SEEK_CUR:
            position = self._pos + offset
        elif whence == os.SEEK_END:
            position = self._size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if position < 0:
            raise ValueError("negative seek position")
        self._pos = position
        return position

    def read(self, n: int = -1) -> bytes:
        start = self._pos
        end = self._size if n is None or n < 0 else min(self._size, start + n)
        if end <= start:
            return b""
        data = self._cached(start, end)
        if data is None:
            fetch_end = min(self._size, max(end, start + MIN_FETCH))
            chunk = self._fetch(start, fetch_end - 1)
            if len(chunk) != fetch_end - start:
                raise OSError(
                    f"range request for bytes {start}-{fetch_end - 1} gave {len(chunk)} bytes"
                )
            self._segments[start] = chunk
            data = chunk[: end - start]
        self._pos = end
        return data

    def _cached(self, start: int, end: int) -> bytes | None:
        for offset, chunk in self._segments.items():
            if offset <= start and end <= offset + len(chunk):
                return chunk[start - offset : end - offset]
        return None

    def close(self) -> None:
        self._segments.clear()
