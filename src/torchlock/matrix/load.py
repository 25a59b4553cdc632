"""Read the shipped data files into a :class:`~torchlock.matrix.model.Matrix`.

The files are plain JSON so that loading them costs a few milliseconds: a quick
command such as ``torchlock matrix`` reads them on every run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from torchlock.errors import DataError, InputError
from torchlock.matrix.model import (
    ArchList,
    CudaFamily,
    CudaToolkit,
    Matrix,
    Release,
    Variant,
)
from torchlock.target import DriverVersion, PythonVersion

DATA_FILES = ("cuda.json", "releases.json", "builds.json")


def read_data_file(name: str) -> Any:
    """The parsed JSON of one shipped data file."""
    # beside this module: importlib.resources would cost more to import than reading takes
    resource = Path(__file__).parent / "data" / name
    try:
        return json.loads(resource.read_bytes())
    except FileNotFoundError as exc:
        raise DataError(f"compatibility data file {name} is missing from the installation") from exc
    except (OSError, ValueError) as exc:
        raise DataError(
            f"compatibility data file {name} is unreadable", evidence=[str(exc)]
        ) from exc


@cache
def load_matrix() -> Matrix:
    """The matrix shipped with this installation (read once per process)."""
    return build_matrix(
        cuda=read_data_file("cuda.json"),
        releases=read_data_file("releases.json"),
        builds=read_data_file("builds.json"),
    )


class _Where:
    """Builds DataErrors that name the file and the place in it."""

    def __init__(self, file: str) -> None:
        self.file = file
        # The same few values repeat across ~30 releases: parse each once.
        self._arch: dict[str, ArchList] = {}
        self._variant: dict[str, Variant] = {}
        self._python: dict[str, PythonVersion] = {}

    def fail(self, path: str, problem: str) -> DataError:
        return DataError(f"{self.file}: {path}: {problem}")

    def obj(self, value: Any, path: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(path, "expected an object")
        return value

    def seq(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(path, "expected a list")
        return value

    def text(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(path, "expected a non-empty string")
        return value

    def version(self, value: Any, path: str) -> Version:
        try:
            return Version(self.text(value, path))
        except InvalidVersion:
            raise self.fail(path, f"not a version: {value!r}") from None

    def driver(self, value: Any, path: str) -> DriverVersion | None:
        if value is None:
            return None
        try:
            return DriverVersion.parse(self.text(value, path))
        except InputError:
            raise self.fail(path, f"not a driver version: {value!r}") from None

    def python(self, value: Any, path: str) -> PythonVersion:
        known = self._python.get(value) if isinstance(value, str) else None
        if known is not None:
            return known
        try:
            self._python[value] = PythonVersion.parse(self.text(value, path))
            return self._python[value]
        except InputError:
            raise self.fail(path, f"not a Python version: {value!r}") from None

    def variant(self, value: Any, path: str) -> Variant:
        known = self._variant.get(value) if isinstance(value, str) else None
        if known is not None:
            return known
        try:
            self._variant[value] = Variant.parse(self.text(value, path))
            return self._variant[value]
        except InputError:
            raise self.fail(path, f"not a variant name: {value!r}") from None

    def arch(self, value: Any, path: str) -> ArchList:
        known = self._arch.get(value) if isinstance(value, str) else None
        if known is not None:
            return known
        try:
            self._arch[value] = ArchList.parse(self.text(value, path))
            return self._arch[value]
        except ValueError as exc:
            raise self.fail(path, str(exc)) from None


def build_matrix(*, cuda: Any, releases: Any, builds: Any) -> Matrix:
    """Validate the three data documents and combine them."""
    toolkits, families = _cuda(cuda)
    return Matrix(toolkits=toolkits, families=families, releases=_releases(releases, builds))


def _cuda(doc: Any) -> tuple[tuple[CudaToolkit, ...], tuple[CudaFamily, ...]]:
    w = _Where("cuda.json")
    root = w.obj(doc, "$")
    toolkits = []
    for i, raw in enumerate(w.seq(root.get("toolkits"), "toolkits")):
        at = f"toolkits[{i}]"
        item = w.obj(raw, at)
        toolkits.append(
            CudaToolkit(
                version=w.version(item.get("version"), f"{at}.version"),
                name=w.text(item.get("name"), f"{at}.name"),
                linux=w.driver(item.get("linux"), f"{at}.linux"),
                windows=w.driver(item.get("windows"), f"{at}.windows"),
                source=w.text(item.get("source"), f"{at}.source"),
            )
        )
    families = []
    for i, raw in enumerate(w.seq(root.get("families"), "families")):
        at = f"families[{i}]"
        item = w.obj(raw, at)
        major = item.get("major")
        if not isinstance(major, int):
            raise w.fail(f"{at}.major", "expected an integer")
        families.append(
            CudaFamily(
                major=major,
                linux=w.driver(item.get("linux"), f"{at}.linux"),
                windows=w.driver(item.get("windows"), f"{at}.windows"),
                source=w.text(item.get("source"), f"{at}.source"),
            )
        )
    toolkits.sort(key=lambda t: t.version)
    return tuple(toolkits), tuple(sorted(families, key=lambda f: f.major))


def _releases(releases_doc: Any, builds_doc: Any) -> tuple[Release, ...]:
    wr = _Where("releases.json")
    wb = _Where("builds.json")
    builds = wb.obj(wb.obj(builds_doc, "$").get("releases"), "releases")
    out = []
    for i, raw in enumerate(wr.seq(wr.obj(releases_doc, "$").get("releases"), "releases")):
        at = f"releases[{i}]"
        item = wr.obj(raw, at)
        torch = wr.version(item.get("torch"), f"{at}.torch")
        companions = {}
        for name in ("torchvision", "torchaudio"):
            value = item.get(name)
            companions[name] = None if value is None else wr.version(value, f"{at}.{name}")
        python = {
            key: tuple(sorted(wr.python(v, f"{at}.python.{key}") for v in wr.seq(vals, key)))
            for key, vals in wr.obj(item.get("python", {}), f"{at}.python").items()
        }
        default_variant = {
            key: wr.variant(value, f"{at}.default_variant.{key}").name
            for key, value in wr.obj(
                item.get("default_variant", {}), f"{at}.default_variant"
            ).items()
        }
        build = builds.get(str(torch))
        notes: list[str] = []
        if build is None:
            # Not researched yet: all we know is what the default index serves.
            variants = {
                key: tuple(
                    sorted({Variant.parse("cpu"), Variant.parse(name)}, key=Variant.sort_key)
                )
                for key, name in default_variant.items()
            }
            arch: dict[str, ArchList] = {}
            overrides: dict[str, dict[str, ArchList]] = {}
            sources: tuple[str, ...] = ()
            notes.append("variants on the PyTorch index not recorded; default index builds only")
        else:
            bt = f"releases.{torch}"
            b = wb.obj(build, bt)
            variants = {
                key: tuple(
                    sorted(
                        (wb.variant(v, f"{bt}.variants.{key}") for v in wb.seq(vals, key)),
                        key=Variant.sort_key,
                    )
                )
                for key, vals in wb.obj(b.get("variants", {}), f"{bt}.variants").items()
            }
            arch = {
                name: wb.arch(text, f"{bt}.arch.{name}")
                for name, text in wb.obj(b.get("arch", {}), f"{bt}.arch").items()
            }
            overrides = {
                key: {
                    name: wb.arch(text, f"{bt}.arch_overrides.{key}.{name}")
                    for name, text in wb.obj(per, f"{bt}.arch_overrides.{key}").items()
                }
                for key, per in wb.obj(b.get("arch_overrides", {}), f"{bt}.arch_overrides").items()
            }
            sources = tuple(
                wb.text(s, f"{bt}.sources") for s in wb.seq(b.get("sources", []), f"{bt}.sources")
            )
        released = item.get("released")
        out.append(
            Release(
                torch=torch,
                torchvision=companions["torchvision"],
                torchaudio=companions["torchaudio"],
                released=released if isinstance(released, str) else None,
                python=python,
                default_variant=default_variant,
                variants=variants,
                arch=arch,
                arch_overrides=overrides,
                sources=sources,
                notes=tuple(notes),
            )
        )
    out.sort(key=lambda r: r.torch)
    return tuple(out)
