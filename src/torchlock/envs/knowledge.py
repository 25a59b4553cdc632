"""The known-failures knowledge base: message patterns, their cause, the fix and sources.

The entries are data (``data/failures.json``); this module validates them and matches
texts (exception messages, warnings, the words of failed checks) against them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any

from msgspec import Struct

from torchlock.errors import DataError

DATA_FILE = "failures.json"


class KnownFailure(Struct, frozen=True, kw_only=True):
    id: str
    title: str
    patterns: tuple[re.Pattern[str], ...]
    cause: str
    fix: str
    sources: tuple[str, ...]
    # An older build (older CUDA variant, older torch) can get past it: what
    # `torchlock create --fallback` walks down the candidates for.
    fallback: bool = False

    def search(self, text: str) -> str | None:
        """The part of ``text`` that one of the patterns matches, or None."""
        for pattern in self.patterns:
            found = pattern.search(text)
            if found:
                return found.group(0)
        return None


class Match(Struct, frozen=True, kw_only=True):
    failure: KnownFailure
    matched: str  # the text the pattern found


class KnowledgeBase(Struct, frozen=True, kw_only=True):
    failures: tuple[KnownFailure, ...]

    def match(self, texts: Iterable[str]) -> tuple[Match, ...]:
        """Each known failure that one of ``texts`` shows, in the base's order, once."""
        pool = [text for text in texts if text]
        found: list[Match] = []
        for failure in self.failures:
            for text in pool:
                matched = failure.search(text)
                if matched is not None:
                    found.append(Match(failure=failure, matched=matched))
                    break
        return tuple(found)

    def get(self, failure_id: str) -> KnownFailure | None:
        for failure in self.failures:
            if failure.id == failure_id:
                return failure
        return None


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{DATA_FILE}: {where}: expected a non-empty string")
    return value


def _texts(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise DataError(f"{DATA_FILE}: {where}: expected a non-empty list of strings")
    return tuple(_text(item, f"{where}[{i}]") for i, item in enumerate(value))


def build_knowledge(document: Any) -> KnowledgeBase:
    """Validate the parsed ``failures.json`` document."""
    if not isinstance(document, dict) or not isinstance(document.get("failures"), list):
        raise DataError(f"{DATA_FILE}: $: expected an object with a 'failures' list")
    failures: list[KnownFailure] = []
    seen: set[str] = set()
    for i, raw in enumerate(document["failures"]):
        at = f"failures[{i}]"
        if not isinstance(raw, dict):
            raise DataError(f"{DATA_FILE}: {at}: expected an object")
        failure_id = _text(raw.get("id"), f"{at}.id")
        if failure_id in seen:
            raise DataError(f"{DATA_FILE}: {at}.id: {failure_id!r} appears twice")
        seen.add(failure_id)
        patterns = []
        for j, text in enumerate(_texts(raw.get("patterns"), f"{at}.patterns")):
            try:
                patterns.append(re.compile(text))
            except re.error as exc:
                raise DataError(f"{DATA_FILE}: {at}.patterns[{j}]: bad pattern: {exc}") from None
        sources = _texts(raw.get("sources"), f"{at}.sources")
        for j, source in enumerate(sources):
            if not source.startswith("https://"):
                raise DataError(f"{DATA_FILE}: {at}.sources[{j}]: expected an https URL")
        fallback = raw.get("fallback", False)
        if not isinstance(fallback, bool):
            raise DataError(f"{DATA_FILE}: {at}.fallback: expected true or false")
        failures.append(
            KnownFailure(
                id=failure_id,
                title=_text(raw.get("title"), f"{at}.title"),
                patterns=tuple(patterns),
                cause=_text(raw.get("cause"), f"{at}.cause"),
                fix=_text(raw.get("fix"), f"{at}.fix"),
                sources=sources,
                fallback=fallback,
            )
        )
    return KnowledgeBase(failures=tuple(failures))


@cache
def load_knowledge() -> KnowledgeBase:
    """The knowledge base shipped with this installation (read once per process)."""
    resource = resources.files("torchlock.envs").joinpath("data").joinpath(DATA_FILE)
    try:
        document = json.loads(resource.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DataError(
            f"known-failures file {DATA_FILE} is missing from the installation"
        ) from exc
    except (OSError, ValueError) as exc:
        raise DataError(
            f"known-failures file {DATA_FILE} is unreadable", evidence=[str(exc)]
        ) from exc
    return build_knowledge(document)
