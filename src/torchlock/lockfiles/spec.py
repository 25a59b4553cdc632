"""The project spec: ``[tool.torchlock]`` in ``pyproject.toml``, or a ``torchlock.toml``.

What a project asks for (Python, torch, extra requirements, target platforms, policy,
indexes, conda channels) and where its lock lives. ``parse`` and ``render`` are pure;
``find_spec`` looks for one in a folder.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from msgspec import Struct
from packaging.requirements import InvalidRequirement, Requirement

from torchlock.errors import InputError, LockfileError
from torchlock.target import Platform

if TYPE_CHECKING:
    from torchlock.lockfiles.model import LockInputs

SPEC_FILE = "torchlock.toml"
PYPROJECT = "pyproject.toml"
DEFAULT_LOCK = "pylock.toml"
_STRINGS = (
    "python",
    "torch",
    "variant",
    "policy",
    "driver",
    "index-url",
    "mirror",
    "torch-index",
    "pytorch-index-url",
    "lock",
)
_LISTS = (
    "gpu-cc",
    "platforms",
    "family",
    "build-with-torch",
    "requirements",
    "extra-index-urls",
    "conda-channels",
)
_FLAGS = ("project-dependencies", "no-conda")
KEYS = frozenset((*_STRINGS, *_LISTS, *_FLAGS))


class ProjectSpec(Struct, frozen=True, kw_only=True):
    """None and () mean 'not set': the command's default (often: from this host)."""

    python: str | None = None
    torch: str | None = None
    variant: str | None = None
    policy: str | None = None
    driver: str | None = None
    gpu_cc: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    family: tuple[str, ...] = ()  # torch family members to lock; empty: all the matrix pairs
    build_with_torch: tuple[str, ...] = ()  # projects whose sdist builds against the torch
    requirements: tuple[Requirement, ...] = ()
    project_dependencies: bool = False  # add [project].dependencies of pyproject.toml
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()  # asked, in order, for what the default lacks
    mirror: str | None = None
    torch_index: str | None = None
    pytorch_index_url: str | None = None
    conda_channels: tuple[str, ...] = ()  # names (conda-forge) or URLs; empty: conda-forge
    no_conda: bool = False  # lock without the conda base (Python, pip from conda channels)
    lock: str | None = None  # the lock's file name, next to the spec

    @property
    def lock_name(self) -> str:
        return self.lock or DEFAULT_LOCK

    def table(self) -> dict[str, Any]:
        """The TOML table of the spec (keys in a fixed order, unset ones left out)."""
        values: dict[str, Any] = {
            "python": self.python,
            "platforms": list(self.platforms) or None,
            "torch": self.torch,
            "variant": self.variant,
            "policy": self.policy,
            "driver": self.driver,
            "gpu-cc": list(self.gpu_cc) or None,
            "family": list(self.family) or None,
            "build-with-torch": list(self.build_with_torch) or None,
            "requirements": [str(r) for r in self.requirements] or None,
            "project-dependencies": self.project_dependencies or None,
            "index-url": self.index_url,
            "extra-index-urls": list(self.extra_index_urls) or None,
            "mirror": self.mirror,
            "torch-index": self.torch_index,
            "pytorch-index-url": self.pytorch_index_url,
            "conda-channels": list(self.conda_channels) or None,
            "no-conda": self.no_conda or None,
            "lock": self.lock,
        }
        return {k: v for k, v in values.items() if v is not None}


class LoadedSpec(Struct, frozen=True, kw_only=True):
    path: Path
    spec: ProjectSpec
    project_dependencies: tuple[Requirement, ...] = ()  # [project].dependencies, when asked

    @property
    def lock_path(self) -> Path:
        return self.path.parent / self.spec.lock_name

    @property
    def requirements(self) -> tuple[Requirement, ...]:
        return (*self.spec.requirements, *self.project_dependencies)


def parse(text: str, path: str) -> LoadedSpec | None:
    """The spec in ``text``; None for a ``pyproject.toml`` without ``[tool.torchlock]``."""
    data = _read_toml(text, path)
    if "lock-version" in data and "packages" in data:  # PEP 751's own keys
        raise LockfileError(
            path,
            "this is a lockfile, not a project spec",
            hint="a project spec is torchlock.toml or [tool.torchlock] in pyproject.toml; "
            "a lock is given with --lock",
        )
    is_pyproject = Path(path).name == PYPROJECT
    where = "tool.torchlock" if is_pyproject else ""
    if is_pyproject:
        table = data.get("tool", {}).get("torchlock")
        if table is None:
            return None
        if not isinstance(table, dict):
            raise LockfileError(path, "expected a table", place=where)
    else:
        table = data.get("tool", {}).get("torchlock", data) if "tool" in data else data
        if table is not data:
            where = "tool.torchlock"
    spec = _spec(table, path, where)
    project: tuple[Requirement, ...] = ()
    if spec.project_dependencies:
        if not is_pyproject:
            raise LockfileError(
                path,
                "project-dependencies needs [project].dependencies of a pyproject.toml",
                place=_place(where, "project-dependencies"),
            )
        dependencies = data.get("project", {}).get("dependencies", [])
        project = tuple(
            _requirement(d, path, f"project.dependencies[{i}]")
            for i, d in enumerate(_strings(dependencies, path, "project.dependencies"))
        )
    return LoadedSpec(path=Path(path), spec=spec, project_dependencies=project)


def _read_toml(text: str, path: str) -> dict[str, Any]:
    """The TOML document as plain values: tomllib where there is one (Python 3.11+: a
    fraction of tomlkit's import and parse time; a spec is read on every solve), tomlkit
    on 3.10. Rendering keeps tomlkit, which preserves the user's formatting."""
    if sys.version_info >= (3, 11):
        import tomllib

        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            import re

            message = str(exc)
            at = re.search(r"\(at line (\d+), column (\d+)\)", message)
            place = f"line {at[1]}, column {at[2]}" if at else None
            reason = message[: at.start()].strip() if at else message
            raise LockfileError(path, f"not valid TOML: {reason}", place=place) from None
    import tomlkit
    from tomlkit.exceptions import ParseError

    try:
        data: dict[str, Any] = tomlkit.parse(text).unwrap()
    except ParseError as exc:
        raise LockfileError(
            path, f"not valid TOML: {exc}", place=f"line {exc.line}, column {exc.col}"
        ) from None
    return data


def _place(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _strings(value: Any, path: str, place: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise LockfileError(path, f"expected an array of strings, found {value!r}", place=place)
    return tuple(value)


def _requirement(text: str, path: str, place: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        raise LockfileError(path, f"malformed requirement {text!r}: {exc}", place=place) from None


def _spec(table: Mapping[str, Any], path: str, where: str) -> ProjectSpec:
    unknown = sorted(set(table) - KEYS)
    if unknown:
        raise LockfileError(
            path,
            f"unknown key {unknown[0]!r}",
            place=_place(where, unknown[0]),
            hint="known keys: " + ", ".join(sorted(KEYS)),
        )
    values: dict[str, Any] = {}
    for key in _STRINGS:
        if key in table:
            value = table[key]
            if not isinstance(value, str):
                raise LockfileError(
                    path, f"expected a string, found {value!r}", place=_place(where, key)
                )
            values[key.replace("-", "_")] = value
    for key in _LISTS:
        if key in table:
            values[key.replace("-", "_")] = _strings(table[key], path, _place(where, key))
    for key in _FLAGS:
        if key in table:
            flag = table[key]
            if not isinstance(flag, bool):
                raise LockfileError(
                    path, f"expected true or false, found {flag!r}", place=_place(where, key)
                )
            values[key.replace("-", "_")] = flag
    if "requirements" in values:
        place = _place(where, "requirements")
        values["requirements"] = tuple(
            _requirement(r, path, f"{place}[{i}]") for i, r in enumerate(values["requirements"])
        )
    for i, platform in enumerate(values.get("platforms", ())):
        try:
            Platform.parse(platform)
        except InputError as exc:
            raise LockfileError(
                path, exc.message, place=f"{_place(where, 'platforms')}[{i}]", hint=exc.hint
            ) from None
    _check_values(values, path, where)
    lock = values.get("lock")
    if lock is not None:
        from torchlock.lockfiles.pylock import is_pylock_name

        if not is_pylock_name(lock):
            raise LockfileError(
                path,
                f"lock file name {lock!r} is not pylock.toml or pylock.<name>.toml (PEP 751)",
                place=_place(where, "lock"),
            )
    return ProjectSpec(**values)


def _check_values(values: Mapping[str, Any], path: str, where: str) -> None:
    """Each value as the command that takes it would check it, named by its key in the spec
    (a bad value found later would read like a bad flag the user never gave)."""
    from torchlock.matrix.model import Variant
    from torchlock.matrix.request import (
        parse_build_with_torch,
        parse_family,
        parse_policy,
        parse_torch_spec,
    )
    from torchlock.target import ComputeCapability, DriverVersion, PythonVersion

    def driver(text: str) -> object:
        return text if text.strip().lower() in ("auto", "none") else DriverVersion.parse(text)

    def torch_index(text: str) -> object:
        if text not in ("auto", "pytorch", "default"):
            raise InputError(
                f"unknown torch-index {text!r}", hint="use auto (the default), pytorch or default"
            )
        return text

    def mirror(name: str) -> object:
        from torchlock.matrix.mirrors import mirror_by_name  # its catalog only when named

        return mirror_by_name(name)

    def url(text: str) -> object:
        scheme = text.partition("://")[0].lower() if "://" in text else ""
        if scheme not in ("http", "https"):
            raise InputError(f"{text!r} is not an http(s) URL")
        return text

    def index_url(text: str) -> object:  # a file: simple index too, as pip takes one
        return text if text[:5].lower() == "file:" else url(text)

    checks: dict[str, Any] = {
        "python": PythonVersion.parse,
        "torch": parse_torch_spec,
        "variant": Variant.parse,
        "policy": parse_policy,
        "driver": driver,
        "mirror": mirror,
        "torch_index": torch_index,
        "index_url": index_url,
        "pytorch_index_url": url,
        "family": parse_family,
        "build_with_torch": parse_build_with_torch,
    }
    each: dict[str, Any] = {"gpu_cc": ComputeCapability.parse, "extra_index_urls": index_url}
    for key, value in values.items():
        items: list[tuple[int | None, Any]]
        if key in checks:
            items = [(None, value)]
            check = checks[key]
        elif key in each:
            items = list(enumerate(value))
            check = each[key]
        else:
            continue
        for i, item in items:
            try:
                check(item)
            except InputError as exc:
                place = _place(where, key.replace("_", "-"))
                raise LockfileError(
                    path,
                    exc.message,
                    place=place if i is None else f"{place}[{i}]",
                    hint=exc.hint,
                ) from None


def render(spec: ProjectSpec) -> str:
    """A ``torchlock.toml`` holding ``spec``."""
    import tomlkit

    doc = tomlkit.document()
    doc.add(
        tomlkit.comment("The torchlock project spec: `torchlock solve` locks what it asks for.")
    )
    for key, value in spec.table().items():
        doc[key] = value
    return tomlkit.dumps(doc)


def merge_into_pyproject(text: str, spec: ProjectSpec, path: str) -> str:
    """``pyproject.toml`` text with its ``[tool.torchlock]`` set to ``spec``, the rest kept."""
    import tomlkit
    from tomlkit.exceptions import ParseError

    try:
        doc = tomlkit.parse(text)
    except ParseError as exc:
        raise LockfileError(
            path, f"not valid TOML: {exc}", place=f"line {exc.line}, column {exc.col}"
        ) from None
    tool = doc.get("tool")
    if tool is None:
        tool = tomlkit.table(is_super_table=True)
        doc["tool"] = tool
    table = tomlkit.table()
    for key, value in spec.table().items():
        table[key] = value
    if "torchlock" in tool:
        del tool["torchlock"]
    tool["torchlock"] = table
    result = tomlkit.dumps(doc)
    return result if result.endswith("\n") else result + "\n"


def find_spec(directory: Path) -> Path | None:
    """``torchlock.toml`` in ``directory``, else its ``pyproject.toml`` when that has
    ``[tool.torchlock]``; None when neither."""
    standalone = directory / SPEC_FILE
    if standalone.is_file():
        return standalone
    pyproject = directory / PYPROJECT
    if pyproject.is_file():
        try:
            text = pyproject.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            return pyproject  # reading it again reports the problem
        if "torchlock" in text and parse(text, str(pyproject)) is not None:
            return pyproject
    return None


def load(path: Path) -> LoadedSpec:
    """The spec in ``path`` (a LockfileError when it has none or is malformed)."""
    from torchlock.lockfiles.files import read_text

    text = read_text(path, what="project spec", hint="write one with `torchlock init`")
    loaded = parse(text, str(path))
    if loaded is None:
        raise LockfileError(
            str(path), "has no [tool.torchlock] table", hint="write one with `torchlock init`"
        )
    return loaded


def merge(spec: ProjectSpec | None, flags: ProjectSpec) -> ProjectSpec:
    """The spec with every value the flags set put over it (lists replace, not extend)."""
    if spec is None:
        return flags
    from msgspec.structs import replace

    changes: dict[str, Any] = {}
    for name in ProjectSpec.__struct_fields__:
        value = getattr(flags, name)
        if value not in (None, (), False):
            changes[name] = value
    if flags.requirements:
        changes["project_dependencies"] = False
    if flags.conda_channels and not flags.no_conda:
        changes["no_conda"] = False
    return replace(spec, **changes)


def lock_inputs(
    spec: ProjectSpec,
    requirements: tuple[Requirement, ...],
    *,
    python: str,
    platform: str,
    driver: str,
) -> LockInputs:
    """The inputs a lock records (and its digest covers): the spec's values, the given
    defaults for what it leaves to the host."""
    from torchlock.lockfiles.model import LockInputs

    platforms = spec.platforms or (platform,)
    return LockInputs(
        python=spec.python or python,
        platforms=tuple(Platform.parse(p).conda_subdir for p in platforms),
        torch=spec.torch,
        variant=spec.variant,
        policy=spec.policy or "compat",
        driver=spec.driver or driver,
        gpu_cc=spec.gpu_cc,
        family=spec.family,
        build_with_torch=spec.build_with_torch,
        requirements=requirements,
        index_url=spec.index_url,
        extra_index_urls=spec.extra_index_urls,
        mirror=spec.mirror,
        torch_index=spec.torch_index or "auto",
        pytorch_index_url=spec.pytorch_index_url,
        conda_channels=() if spec.no_conda else spec.conda_channels,
        no_conda=spec.no_conda,
    )
