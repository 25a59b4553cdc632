"""Reads back the YAML subset that :mod:`torchlock.lockfiles.yamlout` writes, and no more.

The subset: ``#`` comment lines at the top, then block mappings and block sequences
indented by two spaces per level, plain keys, and scalars that are ``null``, ``true``,
``false``, an integer, a double-quoted (JSON-escaped) string, ``{}`` or ``[]``. Anything
else (tabs, flow collections, anchors, single quotes, plain strings, blank lines) is
rejected with the file and the line: exports are read back to check them, not to accept
arbitrary YAML.

The caller then compares the typed document it builds with the text (see
:func:`check_canonical`), so whatever parses also renders back to the same bytes.
"""

from __future__ import annotations

import json
import re
from typing import Any

from msgspec import Struct

from torchlock.errors import LockfileError

_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_INT = re.compile(r"-?(0|[1-9][0-9]*)")
_HINT = "the file may be truncated or hand-edited; export it again with `torchlock export`"


class _Line(Struct, frozen=True, kw_only=True):
    number: int  # 1-based, in the file
    indent: int
    text: str  # without the indentation


class _Parser:
    def __init__(self, lines: list[_Line], source: str) -> None:
        self.lines = lines
        self.source = source
        self.at = 0

    def fail(self, line: _Line | int, problem: str) -> LockfileError:
        number = line if isinstance(line, int) else line.number
        return LockfileError(self.source, problem, place=f"line {number}", hint=_HINT)

    def block(self, indent: int) -> Any:
        line = self.lines[self.at]
        if line.indent != indent:
            raise self.fail(line, f"expected indentation {indent}, found {line.indent}")
        if line.text == "-" or line.text.startswith("- "):
            return self.sequence(indent)
        return self.mapping(indent)

    def sequence(self, indent: int) -> list[Any]:
        items: list[Any] = []
        while self.at < len(self.lines):
            line = self.lines[self.at]
            if line.indent < indent:
                break
            if line.indent > indent:
                raise self.fail(line, f"unexpected indentation {line.indent} (expected {indent})")
            if not line.text.startswith("- "):
                raise self.fail(line, f"expected a list item '- ', found {line.text!r}")
            rest = line.text[2:]
            if rest.startswith("- ") or _is_key_line(rest):
                # a collection inside the item: its first line follows the dash
                self.lines[self.at] = _Line(number=line.number, indent=indent + 2, text=rest)
                items.append(self.block(indent + 2))
            else:
                items.append(self.scalar(line, rest))
                self.at += 1
        return items

    def mapping(self, indent: int) -> dict[str, Any]:
        found: dict[str, Any] = {}
        while self.at < len(self.lines):
            line = self.lines[self.at]
            if line.indent < indent:
                break
            if line.indent > indent:
                raise self.fail(line, f"unexpected indentation {line.indent} (expected {indent})")
            if line.text.startswith("- "):
                raise self.fail(line, "a list item where a key was expected")
            if not _is_key_line(line.text):
                raise self.fail(line, f"expected 'key: value', found {line.text!r}")
            key, _, rest = line.text.partition(":")
            if key in found:
                raise self.fail(line, f"duplicate key {key!r}")
            self.at += 1
            if rest:
                found[key] = self.scalar(line, rest[1:])
                continue
            if self.at >= len(self.lines) or self.lines[self.at].indent <= indent:
                raise self.fail(line, f"{key!r} has no value (the file may be truncated)")
            found[key] = self.block(indent + 2)
        return found

    def scalar(self, line: _Line, token: str) -> Any:
        if token in ("null", "true", "false", "{}", "[]"):
            return {"null": None, "true": True, "false": False, "{}": {}, "[]": []}[token]
        if _INT.fullmatch(token):
            return int(token)
        if token.startswith('"'):
            try:
                value = json.loads(token)
            except json.JSONDecodeError as exc:
                raise self.fail(line, f"malformed string {token!r}: {exc.msg}") from None
            if isinstance(value, str):
                return value
        raise self.fail(
            line,
            f"unsupported value {token!r}: torchlock writes null, true, false, integers, "
            "double-quoted strings, {} and []",
        )


def _is_key_line(text: str) -> bool:
    key, colon, rest = text.partition(":")
    return bool(colon) and _KEY.fullmatch(key) is not None and (not rest or rest.startswith(" "))


def load(text: str, *, source: str) -> tuple[list[str], Any]:
    """The leading comment lines (without ``#``) and the value of ``text``."""
    if not text.strip():
        raise LockfileError(source, "the file is empty", hint=_HINT)
    if "\r" in text:
        raise LockfileError(source, "carriage return in the file (torchlock writes LF)", hint=_HINT)
    if not text.endswith("\n"):
        number = text.count("\n") + 1
        raise LockfileError(
            source, "the last line has no newline: the file looks truncated", place=f"line {number}"
        )
    comments: list[str] = []
    lines: list[_Line] = []
    for number, raw in enumerate(text[:-1].split("\n"), start=1):
        if raw.startswith("#") and not lines:
            comments.append(raw[1:].removeprefix(" "))
            continue
        body = raw.lstrip(" ")
        indent = len(raw) - len(body)
        if not body.strip():
            problem = "blank line" if not raw else "line of only whitespace"
            raise LockfileError(source, problem, place=f"line {number}", hint=_HINT)
        if "\t" in raw:
            raise LockfileError(source, "tab character", place=f"line {number}", hint=_HINT)
        if body.startswith("#"):
            raise LockfileError(source, "comment after the header", place=f"line {number}")
        if body != body.rstrip():
            raise LockfileError(source, "trailing whitespace", place=f"line {number}")
        lines.append(_Line(number=number, indent=indent, text=body))
    if not lines:
        raise LockfileError(source, "the file has only comments", hint=_HINT)
    parser = _Parser(lines, source)
    value = parser.block(0)
    if parser.at < len(lines):
        raise parser.fail(lines[parser.at], f"unexpected {lines[parser.at].text!r}")
    return comments, value


def check_canonical(text: str, rendered: str, *, source: str) -> None:
    """Fail, at the first line that differs, when ``text`` is not ``rendered`` byte for byte."""
    if text == rendered:
        return
    found, expected = text.split("\n"), rendered.split("\n")
    pairs = zip(found, expected, strict=False)
    same = next((i for i, (a, b) in enumerate(pairs) if a != b), None)
    number = 1 + (min(len(found), len(expected)) if same is None else same)
    at = number - 1
    raise LockfileError(
        source,
        "not in the form torchlock writes",
        place=f"line {number}",
        evidence=[
            f"found:    {found[at] if at < len(found) else '(end of file)'!r}",
            f"expected: {expected[at] if at < len(expected) else '(end of file)'!r}",
        ],
        hint=_HINT,
    )


_KINDS = {
    str: "a string",
    int: "an integer",
    bool: "true or false",
    list: "a list",
    dict: "a mapping",
}


class Reader:
    """Typed access into a loaded document; failures name the file and a key path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, place: str, problem: str, *, hint: str | None = None) -> LockfileError:
        return LockfileError(self.source, problem, place=place or None, hint=hint)

    def check(self, value: Any, kind: type[Any], place: str) -> Any:
        if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
            raise self.fail(place, f"expected {_KINDS[kind]}, found {value!r}")
        return value

    def mapping(
        self, value: Any, place: str, *, required: tuple[str, ...], optional: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """``value`` as a mapping with every ``required`` key and no key outside both."""
        found: dict[str, Any] = self.check(value, dict, place)
        for key in required:
            if key not in found:
                raise self.fail(_join(place, key), "missing", hint=_HINT)
        for key in found:
            if key not in required and key not in optional:
                raise self.fail(_join(place, key), "unknown key (torchlock does not write it)")
        return found

    def get(self, table: dict[str, Any], key: str, kind: type[Any], place: str) -> Any:
        return self.check(table[key], kind, _join(place, key))

    def strings(self, value: Any, place: str) -> tuple[str, ...]:
        items = self.check(value, list, place)
        return tuple(self.check(v, str, f"{place}[{i}]") for i, v in enumerate(items))


def _join(place: str, key: str) -> str:
    return f"{place}.{key}" if place else key


_EXPORTED = re.compile(r"Exported by torchlock from (?P<source>.+); do not edit by hand\.")


def exported_from(comments: list[str], instruction: str, *, kind: str, source: str) -> str:
    """The lock a YAML export names in its header (yamlout.header); LockfileError when the
    comments are not that header."""
    found = _EXPORTED.fullmatch(comments[0]) if comments else None
    if found is None or comments[1:] != [instruction]:
        raise LockfileError(
            source,
            f"not a torchlock {kind} export: the header comments are not its own",
            place="line 1",
        )
    return found["source"]
