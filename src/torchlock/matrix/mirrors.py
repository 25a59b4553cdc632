"""Package index mirrors: which mirror serves the general index and which serves PyTorch wheels.

The knowledge lives in ``data/mirrors.json`` (every entry cites its source). This module
is pure: :func:`build_catalog` turns the parsed JSON into values, :func:`load_catalog`
reads the shipped file once per process. Nothing here touches the network.

The general index torchlock uses by default is *not* one of these mirrors: it is read
from the user's pip configuration (see :mod:`torchlock.pipconfig`). Mirrors are offered
when the user asks for one by name.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from msgspec import Struct

from torchlock.errors import DataError, InputError
from torchlock.matrix.model import Variant

MIRRORS_FILE = "mirrors.json"
_VARIANT_FIELD = "{variant}"
_NAME = re.compile(r"^[a-z][a-z0-9-]*$")


class IndexLayout(enum.Enum):
    """How an index lists its files."""

    SIMPLE = "simple"  # PEP 503 simple repository: pip --index-url / --extra-index-url
    FLAT = "flat"  # one HTML page of links to files: pip --find-links


class Evidence(enum.Enum):
    """How strongly a mirror record is backed (see the notes in mirrors.json)."""

    HELP_PAGE = "help-page"  # the operator's own help text or sync code was read
    ISSUE = "issue"  # the operator's issue tracker shows it working
    IN_USE = "in-use"  # only seen used in public projects


class MirrorIndex(Struct, frozen=True, kw_only=True):
    """One concrete index URL and how to use it."""

    url: str
    layout: IndexLayout
    source: str
    evidence: Evidence | None = None


class PytorchMirror(Struct, frozen=True, kw_only=True):
    """Where a mirror serves the wheels of download.pytorch.org/whl/<variant>."""

    url_template: str  # contains "{variant}" once
    layout: IndexLayout
    source: str
    variants: frozenset[str] | None = None  # None: not enumerated, any variant is tried
    variants_note: str | None = None
    evidence: Evidence | None = None

    def carries(self, variant: Variant) -> bool:
        return self.variants is None or variant.name in self.variants

    def url_for(self, variant: Variant) -> str:
        return self.url_template.replace(_VARIANT_FIELD, variant.name)


class Mirror(Struct, frozen=True, kw_only=True):
    name: str
    title: str
    country: str
    pypi: MirrorIndex | None
    pytorch: PytorchMirror | None
    sources: tuple[str, ...]


class MirrorCatalog(Struct, frozen=True, kw_only=True):
    mirrors: tuple[Mirror, ...]
    official_pytorch: PytorchMirror
    notes: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.mirrors)


# --- public queries -------------------------------------------------------------------


@cache
def load_catalog() -> MirrorCatalog:
    """The mirror catalog shipped with this installation (read once per process)."""
    resource = resources.files("torchlock.matrix").joinpath("data").joinpath(MIRRORS_FILE)
    try:
        data = json.loads(resource.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DataError(f"data file {MIRRORS_FILE} is missing from the installation") from exc
    except (OSError, ValueError) as exc:
        raise DataError(f"data file {MIRRORS_FILE} is unreadable", evidence=[str(exc)]) from exc
    return build_catalog(data)


def mirror_names(catalog: MirrorCatalog | None = None) -> tuple[str, ...]:
    return _catalog(catalog).names


def mirror_by_name(name: str, catalog: MirrorCatalog | None = None) -> Mirror:
    """The mirror called ``name`` (case-insensitive); InputError naming the known ones."""
    catalog = _catalog(catalog)
    wanted = name.strip().lower()
    for mirror in catalog.mirrors:
        if mirror.name == wanted:
            return mirror
    raise InputError(
        f"unknown mirror {name!r}",
        evidence=[f"known mirrors: {', '.join(catalog.names)}"],
        hint="or give the index URL itself with --index-url",
    )


def pytorch_index_for(mirror: Mirror, variant: Variant | str) -> MirrorIndex | None:
    """The mirror's index for PyTorch wheels of ``variant``, or None where it has none."""
    parsed = _variant(variant)
    if mirror.pytorch is None or not mirror.pytorch.carries(parsed):
        return None
    return MirrorIndex(
        url=mirror.pytorch.url_for(parsed),
        layout=mirror.pytorch.layout,
        source=mirror.pytorch.source,
        evidence=mirror.pytorch.evidence,
    )


def official_pytorch_index(
    variant: Variant | str, catalog: MirrorCatalog | None = None
) -> MirrorIndex:
    """download.pytorch.org/whl/<variant>: a PEP 503 simple index."""
    official = _catalog(catalog).official_pytorch
    parsed = _variant(variant)
    return MirrorIndex(url=official.url_for(parsed), layout=official.layout, source=official.source)


def _catalog(catalog: MirrorCatalog | None) -> MirrorCatalog:
    return load_catalog() if catalog is None else catalog


def _variant(variant: Variant | str) -> Variant:
    return variant if isinstance(variant, Variant) else Variant.parse(variant)


# --- building from JSON ---------------------------------------------------------------


def build_catalog(data: Any) -> MirrorCatalog:
    """Validate parsed mirrors.json and turn it into values; DataError names the place."""
    top = _obj(data, "$")
    if top.get("schema") != 1:
        raise _fail("$.schema", f"unsupported schema {top.get('schema')!r} (expected 1)")
    notes = tuple(
        _text(n, f"$.notes[{i}]") for i, n in enumerate(_seq(top.get("notes", []), "$.notes"))
    )
    official = _pytorch(top.get("official_pytorch"), "$.official_pytorch")
    mirrors: list[Mirror] = []
    seen: set[str] = set()
    for i, raw in enumerate(_seq(top.get("mirrors"), "$.mirrors")):
        mirror = _mirror(raw, f"$.mirrors[{i}]")
        if mirror.name in seen:
            raise _fail(f"$.mirrors[{i}].name", f"duplicate mirror name {mirror.name!r}")
        seen.add(mirror.name)
        mirrors.append(mirror)
    return MirrorCatalog(mirrors=tuple(mirrors), official_pytorch=official, notes=notes)


def _mirror(value: Any, path: str) -> Mirror:
    raw = _obj(value, path)
    name = _text(raw.get("name"), f"{path}.name")
    if not _NAME.match(name):
        raise _fail(f"{path}.name", f"{name!r} is not a lower-case name")
    pypi = raw.get("pypi")
    pytorch = raw.get("pytorch")
    if pypi is None and pytorch is None:
        raise _fail(path, "a mirror needs 'pypi' or 'pytorch'")
    sources = tuple(
        _url(s, f"{path}.sources[{i}]")
        for i, s in enumerate(_seq(raw.get("sources"), f"{path}.sources"))
    )
    if not sources:
        raise _fail(f"{path}.sources", "every mirror cites at least one source")
    return Mirror(
        name=name,
        title=_text(raw.get("title"), f"{path}.title"),
        country=_text(raw.get("country"), f"{path}.country"),
        pypi=None if pypi is None else _index(pypi, f"{path}.pypi"),
        pytorch=None if pytorch is None else _pytorch(pytorch, f"{path}.pytorch"),
        sources=sources,
    )


def _index(value: Any, path: str) -> MirrorIndex:
    raw = _obj(value, path)
    return MirrorIndex(
        url=_url(raw.get("url"), f"{path}.url"),
        layout=_layout(raw.get("layout"), f"{path}.layout"),
        source=_url(raw.get("source"), f"{path}.source"),
        evidence=_evidence(raw.get("checked"), f"{path}.checked"),
    )


def _pytorch(value: Any, path: str) -> PytorchMirror:
    raw = _obj(value, path)
    template = _url(raw.get("url_template"), f"{path}.url_template")
    if template.count(_VARIANT_FIELD) != 1:
        raise _fail(f"{path}.url_template", f"must contain {_VARIANT_FIELD} exactly once")
    variants: frozenset[str] | None = None
    if raw.get("variants") is not None:
        names = [
            _text(v, f"{path}.variants[{i}]")
            for i, v in enumerate(_seq(raw["variants"], f"{path}.variants"))
        ]
        for i, v in enumerate(names):
            try:
                Variant.parse(v)
            except InputError as exc:
                raise _fail(f"{path}.variants[{i}]", exc.message) from exc
        variants = frozenset(names)
    note = raw.get("variants_note")
    return PytorchMirror(
        url_template=template,
        layout=_layout(raw.get("layout"), f"{path}.layout"),
        source=_url(raw.get("source"), f"{path}.source"),
        variants=variants,
        variants_note=None if note is None else _text(note, f"{path}.variants_note"),
        evidence=_evidence(raw.get("checked"), f"{path}.checked"),
    )


def _fail(path: str, problem: str) -> DataError:
    return DataError(f"{MIRRORS_FILE}: {path}: {problem}")


def _obj(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(path, "expected an object")
    return value


def _seq(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(path, "expected a list")
    return value


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, "expected a non-empty string")
    return value


def _url(value: Any, path: str) -> str:
    text = _text(value, path)
    if not text.startswith("https://"):
        raise _fail(path, f"{text!r} is not an https URL")
    return text


def _layout(value: Any, path: str) -> IndexLayout:
    try:
        return IndexLayout(value)
    except ValueError:
        known = ", ".join(layout.value for layout in IndexLayout)
        raise _fail(path, f"layout {value!r} is not one of {known}") from None


def _evidence(value: Any, path: str) -> Evidence | None:
    if value is None:
        return None
    try:
        return Evidence(value)
    except ValueError:
        known = ", ".join(e.value for e in Evidence)
        raise _fail(path, f"{value!r} is not one of {known}") from None
