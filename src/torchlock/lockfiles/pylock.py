"""The native format: PEP 751 ``pylock.toml``, torchlock's facts in ``[tool.torchlock]``.

``render`` and ``parse`` are a pure pair: ``render(parse(text, path)) == text`` for every
file ``render`` wrote. ``render`` validates its output with packaging's PEP 751 model;
``parse`` names the file, the place in it and what is wrong for anything else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from torchlock.artifacts import is_safe_filename
from torchlock.errors import InputError, LockfileError
from torchlock.lockfiles.model import (
    CREATED_BY,
    LOCK_FORMAT,
    CondaPackage,
    Lock,
    LockedFile,
    LockedPackage,
    LockInputs,
    LockSelection,
    LockTarget,
)
from torchlock.target import Platform

if TYPE_CHECKING:
    from tomlkit.items import Array, InlineTable, Table

HEADER = (
    "This file is written by torchlock (`torchlock solve`); do not edit it by hand.",
    "Install it with any PEP 751 installer, or export it: `torchlock export --help`.",
)
LOCK_VERSION = "1.0"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_NAME = re.compile(r"^pylock(\.[^.]+)?\.toml$")

T = TypeVar("T")


def is_pylock_name(name: str) -> bool:
    """``pylock.toml`` or ``pylock.<name>.toml`` (PEP 751 file names)."""
    return bool(_NAME.match(name))


def check_output_name(output: str, hint: str) -> Path:
    """``output`` as a path; InputError when its file name is not a PEP 751 lock name."""
    path = Path(output)
    if not is_pylock_name(path.name):
        raise InputError(
            f"--output {output!r}: a lock is named pylock.toml or pylock.<name>.toml (PEP 751)",
            hint=hint,
        )
    return path


# --- render ---------------------------------------------------------------------------------


def render(lock: Lock) -> str:
    """The lock as PEP 751 TOML: sorted, LF, trailing newline, no timestamps of its own
    (a file's upload-time is the index's)."""
    import tomlkit

    doc = tomlkit.document()
    for line in HEADER:
        doc.add(tomlkit.comment(line))
    doc["lock-version"] = LOCK_VERSION
    doc["environments"] = _multiline([str(t.environment) for t in lock.targets])
    doc["requires-python"] = str(lock.requires_python)
    doc["created-by"] = CREATED_BY
    packages = tomlkit.aot()
    entries: dict[str, list[LockedPackage]] = {}
    for package in lock.packages:
        entries.setdefault(str(package.name), []).append(package)
    for package in lock.packages:
        packages.append(_package_table(package, entries))
    doc["packages"] = packages
    tool = tomlkit.table(is_super_table=True)
    tool.add("torchlock", _tool_table(lock))
    doc["tool"] = tool
    text = tomlkit.dumps(doc)
    _validate(text, "<rendered lock>")
    return text


def _multiline(values: list[Any]) -> Array:
    import tomlkit

    array = tomlkit.array()
    array.extend(values)
    if values:
        array.multiline(True)
    return array


def _inline(values: Mapping[str, Any]) -> InlineTable:
    import tomlkit

    table = tomlkit.inline_table()
    table.update({k: v for k, v in values.items() if v is not None})
    return table


def _file_table(file: LockedFile) -> InlineTable:
    return _inline(
        {
            "name": file.name,
            "url": file.url,
            "size": file.size,
            "upload-time": file.upload_time,
            "hashes": {"sha256": file.sha256},
        }
    )


def _dependency(
    name: str, package: LockedPackage, entries: Mapping[str, list[LockedPackage]]
) -> InlineTable:
    """PEP 751: "enough to identify the entry" -- the name, and the version when the lock
    holds the name more than once (torch 2.1.2 for Linux, 2.1.2+cu121 for Windows): the
    entry for the targets this package is installed on."""
    found = entries.get(name, [])
    if len(found) > 1:
        mine = [e for e in found if set(e.platforms) & set(package.platforms)]
        if len(mine) == 1:
            return _inline({"name": name, "version": str(mine[0].version)})
    return _inline({"name": name})


def _package_table(package: LockedPackage, entries: Mapping[str, list[LockedPackage]]) -> Table:
    import tomlkit

    table = tomlkit.table()
    table["name"] = package.name
    table["version"] = str(package.version)
    if package.marker is not None:
        table["marker"] = str(package.marker)
    if package.requires_python is not None:
        table["requires-python"] = str(package.requires_python)
    table["index"] = package.index
    if package.dependencies:
        table["dependencies"] = _multiline(
            [_dependency(d, package, entries) for d in package.dependencies]
        )
    if package.sdist is not None:
        table["sdist"] = _file_table(package.sdist)
    if package.wheels:
        table["wheels"] = _multiline([_file_table(w) for w in package.wheels])
    tool = tomlkit.table(is_super_table=True)
    ours = tomlkit.table()
    ours["platforms"] = list(package.platforms)
    tool.add("torchlock", ours)
    table["tool"] = tool
    return table


def _tool_table(lock: Lock) -> Table:
    import tomlkit

    table = tomlkit.table()
    table["format"] = LOCK_FORMAT
    table["inputs-digest"] = lock.inputs.digest
    table["content-digest"] = lock.content_digest
    inputs = tomlkit.table()
    for key, value in lock.inputs.document().items():
        inputs[key] = _multiline(value) if isinstance(value, list) and len(value) > 1 else value
    table["inputs"] = inputs
    selection = tomlkit.table()
    chosen = lock.selection
    selection["torch"] = str(chosen.torch)
    selection["variant"] = chosen.variant
    selection["policy"] = chosen.policy
    if chosen.driver is not None:
        selection["driver"] = chosen.driver
    if chosen.max_cuda is not None:
        selection["max-cuda"] = chosen.max_cuda
    selection["gpu-archs"] = list(chosen.gpu_archs)
    selection["reasons"] = _multiline(list(chosen.reasons))
    selection["warnings"] = _multiline(list(chosen.warnings))
    table["selection"] = selection
    targets = tomlkit.aot()
    for target in lock.targets:
        entry = tomlkit.table()
        entry["platform"] = target.platform
        entry["torch"] = str(target.torch)
        entry["variant"] = target.variant
        if target.cuda is not None:
            entry["cuda"] = target.cuda
        entry["torch-index"] = target.torch_index
        entry["default-index"] = target.default_index
        targets.append(entry)
    table["targets"] = targets
    if lock.conda:
        table["conda-packages"] = _conda_tables(lock)
    return table


def _conda_tables(lock: Lock) -> Any:
    """The conda base, one ``[[tool.torchlock.conda-packages]]`` per (target, package)."""
    import tomlkit

    packages = tomlkit.aot()
    for conda in lock.conda:
        entry = tomlkit.table()
        entry["platform"] = conda.platform
        entry["name"] = conda.name
        entry["version"] = conda.version
        entry["build"] = conda.build
        entry["subdir"] = conda.subdir
        entry["channel"] = conda.channel
        entry["url"] = conda.url
        if conda.size is not None:
            entry["size"] = conda.size
        entry["sha256"] = conda.sha256
        entry["md5"] = conda.md5
        depends = list(conda.depends)
        entry["depends"] = _multiline(depends) if len(depends) > 1 else depends
        packages.append(entry)
    return packages


def _validate(text: str, path: str) -> None:
    """Check ``text`` against packaging's PEP 751 model."""
    import tomlkit
    from packaging.pylock import Pylock, PylockValidationError

    try:
        Pylock.from_dict(tomlkit.parse(text).unwrap())
    except PylockValidationError as exc:
        raise LockfileError(
            path, f"not a valid PEP 751 lock: {exc.message}", place=exc.context
        ) from None


# --- parse ----------------------------------------------------------------------------------


def parse(text: str, path: str) -> Lock:
    """The lock in ``text`` (read from ``path``, named in every error)."""
    import tomlkit
    from tomlkit.exceptions import ParseError

    if not text.strip():
        raise LockfileError(path, "the file is empty", hint="run `torchlock solve` to write it")
    try:
        data = tomlkit.parse(text).unwrap()
    except ParseError as exc:
        raise LockfileError(
            path,
            f"not valid TOML: {_parse_message(exc, text)}",
            place=f"line {exc.line}, column {exc.col}",
            hint="the file may be truncated or hand-edited; run `torchlock solve` again",
        ) from None
    reader = _Reader(path)
    version = reader.get(data, "lock-version", str, "")
    if version != LOCK_VERSION:
        raise LockfileError(
            path,
            f"lock-version {version!r} is not supported (torchlock reads {LOCK_VERSION!r})",
            place="lock-version",
        )
    tool = reader.table(reader.table(data, "tool", ""), "torchlock", "tool")
    fmt = reader.get(tool, "format", int, "tool.torchlock")
    if fmt != LOCK_FORMAT:
        raise LockfileError(
            path,
            f"torchlock lock format {fmt} is not supported (this torchlock writes {LOCK_FORMAT})",
            place="tool.torchlock.format",
            hint="solve again with this torchlock, or use the torchlock that wrote it",
        )
    inputs = _inputs(reader, reader.table(tool, "inputs", "tool.torchlock"))
    selection = _selection(reader, reader.table(tool, "selection", "tool.torchlock"))
    targets = tuple(
        _target(reader, entry, f"tool.torchlock.targets[{i}]")
        for i, entry in enumerate(reader.tables(tool, "targets", "tool.torchlock"))
    )
    if not targets:
        raise LockfileError(path, "the lock has no target", place="tool.torchlock.targets")
    environments = reader.get(data, "environments", list, "")
    expected = [str(t.environment) for t in targets]
    if environments != expected:
        raise LockfileError(
            path,
            "environments do not match the targets of [tool.torchlock]",
            place="environments",
            evidence=[f"found: {environments}", f"targets: {expected}"],
        )
    requires_python = reader.get(data, "requires-python", str, "")
    python = requires_python.removeprefix("==").removesuffix(".*")
    if f"=={python}.*" != requires_python:
        raise LockfileError(
            path, f"requires-python {requires_python!r} is not ==X.Y.*", place="requires-python"
        )
    subdirs = tuple(t.platform for t in targets)
    packages = tuple(
        _package(reader, entry, f"packages[{i}]", subdirs)
        for i, entry in enumerate(reader.tables(data, "packages", ""))
    )
    conda_tables = (
        reader.tables(tool, "conda-packages", "tool.torchlock") if "conda-packages" in tool else []
    )
    conda = tuple(
        _conda(reader, entry, f"tool.torchlock.conda-packages[{i}]", subdirs)
        for i, entry in enumerate(conda_tables)
    )
    lock = Lock(
        python=python,
        inputs=inputs,
        selection=selection,
        targets=targets,
        packages=packages,
        conda=conda,
    )
    digest = reader.get(tool, "inputs-digest", str, "tool.torchlock")
    if digest != inputs.digest:
        raise LockfileError(
            path,
            "inputs-digest does not match [tool.torchlock.inputs]: the file was edited by hand",
            place="tool.torchlock.inputs-digest",
            hint="change the spec and run `torchlock solve` instead of editing the lock",
        )
    content = reader.get(tool, "content-digest", str, "tool.torchlock")
    if content != lock.content_digest:
        raise LockfileError(
            path,
            "content-digest does not match the packages: the file was edited by hand",
            place="tool.torchlock.content-digest",
            hint="run `torchlock solve` to write the lock again",
        )
    _validate(text, path)
    return lock


def _parse_message(exc: Exception, source: str) -> str:
    text = re.sub(r"\s+at line \d+ col \d+$", "", str(exc))
    if "'\\x00'" in text and "\x00" not in source:  # tomlkit's way of saying it ran out
        return "the file ends in the middle of a value"
    return text


class _Reader:
    """Typed access into the parsed document; every failure names the file and the place."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, place: str, problem: str) -> LockfileError:
        return LockfileError(self.path, problem, place=place or None)

    def _place(self, where: str, key: str) -> str:
        return f"{where}.{key}" if where else key

    def get(self, table: Mapping[str, Any], key: str, kind: type[T], where: str) -> T:
        if key not in table:
            raise self.fail(self._place(where, key), "missing")
        return self.check(table[key], kind, self._place(where, key))

    def optional(self, table: Mapping[str, Any], key: str, kind: type[T], where: str) -> T | None:
        if key not in table:
            return None
        return self.check(table[key], kind, self._place(where, key))

    def check(self, value: Any, kind: type[T], place: str) -> T:
        if kind is int and isinstance(value, bool):
            raise self.fail(place, f"expected an integer, found {value!r}")
        if not isinstance(value, kind):
            expected = {
                str: "a string",
                int: "an integer",
                bool: "true or false",
                list: "an array",
                dict: "a table",
            }
            raise self.fail(place, f"expected {expected.get(kind, kind.__name__)}, found {value!r}")
        return value

    def strings(self, table: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
        values = self.optional(table, key, list, where) or []
        place = self._place(where, key)
        return tuple(self.check(v, str, f"{place}[{i}]") for i, v in enumerate(values))

    def table(self, table: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
        if key not in table:
            hint = "the file may be truncated, or not written by torchlock"
            raise LockfileError(self.path, "missing", place=self._place(where, key), hint=hint)
        return self.check(table[key], dict, self._place(where, key))

    def tables(self, table: Mapping[str, Any], key: str, where: str) -> list[dict[str, Any]]:
        values = self.get(table, key, list, where)
        place = self._place(where, key)
        return [self.check(v, dict, f"{place}[{i}]") for i, v in enumerate(values)]

    def convert(self, value: str, kind: Any, place: str) -> Any:
        try:
            return kind(value)
        except (InvalidVersion, InvalidSpecifier, InvalidMarker, InvalidRequirement) as exc:
            raise self.fail(place, f"malformed value {value!r}: {exc}") from None


def _inputs(reader: _Reader, table: dict[str, Any]) -> LockInputs:
    where = "tool.torchlock.inputs"
    requirements = tuple(
        reader.convert(r, Requirement, f"{where}.requirements[{i}]")
        for i, r in enumerate(reader.strings(table, "requirements", where))
    )
    return LockInputs(
        python=reader.get(table, "python", str, where),
        platforms=reader.strings(table, "platforms", where),
        torch=reader.optional(table, "torch", str, where),
        variant=reader.optional(table, "variant", str, where),
        policy=reader.get(table, "policy", str, where),
        driver=reader.get(table, "driver", str, where),
        gpu_cc=reader.strings(table, "gpu-cc", where),
        family=reader.strings(table, "family", where),
        build_with_torch=_project_names(reader, table, "build-with-torch", where),
        requirements=requirements,
        index_url=reader.optional(table, "index-url", str, where),
        extra_index_urls=reader.strings(table, "extra-index-urls", where),
        mirror=reader.optional(table, "mirror", str, where),
        torch_index=reader.get(table, "torch-index", str, where),
        pytorch_index_url=reader.optional(table, "pytorch-index-url", str, where),
        conda_channels=reader.strings(table, "conda-channels", where),
        no_conda=reader.optional(table, "no-conda", bool, where) or False,
    )


def _project_names(reader: _Reader, table: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    from torchlock.matrix.request import parse_build_with_torch

    names = reader.strings(table, key, where)
    try:
        return parse_build_with_torch(names)
    except InputError as exc:
        raise reader.fail(f"{where}.{key}", str(exc).splitlines()[0]) from None


def _selection(reader: _Reader, table: dict[str, Any]) -> LockSelection:
    where = "tool.torchlock.selection"
    return LockSelection(
        torch=reader.convert(reader.get(table, "torch", str, where), Version, f"{where}.torch"),
        variant=reader.get(table, "variant", str, where),
        policy=reader.get(table, "policy", str, where),
        driver=reader.optional(table, "driver", str, where),
        max_cuda=reader.optional(table, "max-cuda", str, where),
        gpu_archs=reader.strings(table, "gpu-archs", where),
        reasons=reader.strings(table, "reasons", where),
        warnings=reader.strings(table, "warnings", where),
    )


def _target(reader: _Reader, table: dict[str, Any], where: str) -> LockTarget:
    platform = reader.get(table, "platform", str, where)
    try:
        canonical = Platform.parse(platform).conda_subdir
    except InputError:
        canonical = ""
    if canonical != platform:
        raise reader.fail(f"{where}.platform", f"unknown platform {platform!r}")
    return LockTarget(
        platform=platform,
        torch=reader.convert(reader.get(table, "torch", str, where), Version, f"{where}.torch"),
        variant=reader.get(table, "variant", str, where),
        cuda=reader.optional(table, "cuda", str, where),
        torch_index=reader.get(table, "torch-index", str, where),
        default_index=reader.get(table, "default-index", str, where),
    )


def _file(reader: _Reader, table: dict[str, Any], where: str) -> LockedFile:
    hashes = reader.get(table, "hashes", dict, where)
    sha256 = hashes.get("sha256")
    if sha256 is None:
        raise reader.fail(f"{where}.hashes", "no sha256 hash: every file is pinned by its sha256")
    if not isinstance(sha256, str) or not _HEX64.match(sha256):
        raise reader.fail(f"{where}.hashes.sha256", f"not a sha256 hex digest: {sha256!r}")
    url = reader.optional(table, "url", str, where)
    if url is None:
        raise reader.fail(f"{where}.url", "missing: torchlock locks files by URL and hash")
    name = reader.get(table, "name", str, where)
    if not is_safe_filename(name):
        # a lock comes from a repository anyone can send a pull request to: a name with a
        # path in it would steer create's download outside its cache
        raise reader.fail(f"{where}.name", f"not a plain file name: {name!r}")
    when = table.get("upload-time")
    if when is not None and not isinstance(when, datetime):
        raise reader.fail(f"{where}.upload-time", f"not a TOML datetime: {when!r}")
    return LockedFile(
        name=name,
        url=url,
        sha256=sha256,
        size=reader.optional(table, "size", int, where),
        upload_time=when,
    )


def _package(
    reader: _Reader, table: dict[str, Any], where: str, subdirs: tuple[str, ...]
) -> LockedPackage:
    name = reader.get(table, "name", str, where)
    label = f"{where} ({name})"
    version = reader.optional(table, "version", str, where)
    if version is None:
        raise reader.fail(f"{label}.version", "missing: every locked package has a version")
    marker = reader.optional(table, "marker", str, where)
    requires_python = reader.optional(table, "requires-python", str, where)
    dependencies: list[NormalizedName] = []
    for i, entry in enumerate(reader.optional(table, "dependencies", list, where) or []):
        dep = reader.check(entry, dict, f"{label}.dependencies[{i}]")
        dependencies.append(
            canonicalize_name(reader.get(dep, "name", str, f"{label}.dependencies[{i}]"))
        )
    wheels = tuple(
        _file(reader, reader.check(w, dict, f"{label}.wheels[{i}]"), f"{label}.wheels[{i}]")
        for i, w in enumerate(reader.optional(table, "wheels", list, where) or [])
    )
    sdist_table = reader.optional(table, "sdist", dict, where)
    sdist = None if sdist_table is None else _file(reader, sdist_table, f"{label}.sdist")
    if not wheels and sdist is None:
        raise reader.fail(label, "no file: torchlock locks wheels or an sdist for every package")
    tool = reader.table(reader.table(table, "tool", label), "torchlock", f"{label}.tool")
    platforms = reader.strings(tool, "platforms", f"{label}.tool.torchlock")
    unknown = [p for p in platforms if p not in subdirs]
    if unknown or not platforms:
        raise reader.fail(
            f"{label}.tool.torchlock.platforms",
            f"platforms {list(platforms)} are not among the lock's targets {list(subdirs)}",
        )
    return LockedPackage(
        name=canonicalize_name(name),
        version=reader.convert(version, Version, f"{label}.version"),
        index=reader.get(table, "index", str, label),
        platforms=platforms,
        marker=None if marker is None else reader.convert(marker, Marker, f"{label}.marker"),
        requires_python=None
        if requires_python is None
        else reader.convert(requires_python, SpecifierSet, f"{label}.requires-python"),
        dependencies=tuple(dependencies),
        wheels=wheels,
        sdist=sdist,
    )


def _conda(
    reader: _Reader, table: dict[str, Any], where: str, subdirs: tuple[str, ...]
) -> CondaPackage:
    name = reader.get(table, "name", str, where)
    label = f"{where} ({name})"
    platform = reader.get(table, "platform", str, label)
    if platform not in subdirs:
        raise reader.fail(
            f"{label}.platform", f"{platform!r} is not among the lock's targets {list(subdirs)}"
        )
    sha256 = reader.get(table, "sha256", str, label)
    if not _HEX64.match(sha256):
        raise reader.fail(f"{label}.sha256", f"not a sha256 hex digest: {sha256!r}")
    md5 = reader.get(table, "md5", str, label)
    if not _HEX32.match(md5):
        raise reader.fail(f"{label}.md5", f"not an md5 hex digest: {md5!r}")
    return CondaPackage(
        name=name,
        version=reader.get(table, "version", str, label),
        build=reader.get(table, "build", str, label),
        platform=platform,
        subdir=reader.get(table, "subdir", str, label),
        channel=reader.get(table, "channel", str, label),
        url=reader.get(table, "url", str, label),
        sha256=sha256,
        md5=md5,
        size=reader.optional(table, "size", int, label),
        depends=reader.strings(table, "depends", label),
    )
