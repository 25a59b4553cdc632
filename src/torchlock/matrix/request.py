"""Turn what a user typed into a validated :class:`~torchlock.matrix.select.Request`.

Checks each value against the matrix, so that a typo fails with the value named
and what is accepted, instead of an empty answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from torchlock.errors import InputError
from torchlock.matrix.model import Matrix, Variant
from torchlock.matrix.select import Policy, Request
from torchlock.target import ComputeCapability, DriverVersion, Platform, PythonVersion

_BARE_VERSION = re.compile(r"^\d+(\.\d+)*$")


def parse_torch_spec(text: str) -> SpecifierSet:
    """``2.1.2`` means ``==2.1.2``, ``2.1`` means ``==2.1.*``; anything else is a PEP 440 range."""
    value = text.strip()
    if value.startswith("torch"):
        value = value[len("torch") :].strip()
    if _BARE_VERSION.match(value):
        value = f"=={value}" if value.count(".") >= 2 else f"=={value}.*"
    try:
        return SpecifierSet(value)
    except InvalidSpecifier:
        raise InputError(
            f"malformed torch requirement {text!r}",
            hint="give a version (2.1.2, 2.1) or a range such as '>=2.1,<2.4'",
        ) from None


FAMILY = ("torch", "torchvision", "torchaudio")


def parse_family(names: str | Sequence[str]) -> tuple[str, ...]:
    """The torch family members to lock, in FAMILY order; ``torch`` must be one of them.

    ``names`` is a comma-separated text (``torch,torchvision``) or a sequence of names.
    Empty means the whole family the matrix pairs with the release.
    """
    items = names.split(",") if isinstance(names, str) else list(names)
    wanted = [item.strip().lower() for item in items if item.strip()]
    unknown = [name for name in wanted if name not in FAMILY]
    if unknown:
        raise InputError(
            f"unknown torch family member {unknown[0]!r}",
            hint="give torch, torchvision and/or torchaudio, e.g. torch,torchvision",
        )
    if wanted and "torch" not in wanted:
        raise InputError(
            f"the torch family {','.join(wanted)!r} leaves out torch",
            hint="torch is always locked: give torch, torch,torchvision or torch,torchaudio",
        )
    return tuple(name for name in FAMILY if name in wanted)


def parse_build_with_torch(names: Sequence[str]) -> tuple[str, ...]:
    """Projects whose sdist builds against the target's torch: canonical names, sorted.

    A torch family member is refused: torch itself is what such a build gets.
    """
    from packaging.utils import InvalidName, canonicalize_name

    found = set()
    for name in names:
        try:
            canonical = canonicalize_name(name.strip(), validate=True)
        except InvalidName:
            raise InputError(
                f"{name!r} is not a project name",
                hint="give the name of a project on the index, e.g. flash-attn",
            ) from None
        if canonical in FAMILY:
            raise InputError(
                f"{canonical} cannot build against torch: it is of the torch family",
                hint="name a project whose build imports torch, e.g. flash-attn or deepspeed",
            )
        found.add(canonical)
    return tuple(sorted(found))


def parse_policy(text: str) -> Policy:
    try:
        return Policy(text.strip().lower())
    except ValueError:
        raise InputError(
            f"unknown policy {text!r}", hint="use compat (the default) or strict"
        ) from None


def build_request(
    matrix: Matrix,
    *,
    platform: Platform,
    python: str,
    driver: DriverVersion | None,
    gpu_cc: Sequence[str] = (),
    torch: str | None = None,
    variant: str | None = None,
    policy: str = "compat",
) -> Request:
    """Validate every value against the matrix and build the request."""
    py = PythonVersion.parse(python)
    known = matrix.known_pythons()
    if py not in known:
        plain = [p for p in known if not p.freethreaded]
        raise InputError(
            f"no torch release has wheels for Python {py}",
            hint=f"torch wheels exist for Python {plain[0]} to {plain[-1]}",
        )
    spec = parse_torch_spec(torch) if torch is not None else None
    if spec is not None and not any(
        spec.contains(r.torch, prereleases=True) for r in matrix.releases
    ):
        first, last = matrix.releases[0].torch, matrix.releases[-1].torch
        raise InputError(
            f"no torch release matches {torch!r}",
            hint=f"the matrix knows torch {first} to {last}; check the version or range",
        )
    chosen_variant = None
    if variant is not None:
        chosen_variant = Variant.parse(variant).name
        if chosen_variant not in matrix.known_variants():
            raise InputError(
                f"unknown build variant {variant!r}",
                hint="known variants: " + ", ".join(_variant_order(matrix.known_variants())),
            )
    return Request(
        platform=platform,
        python=py,
        driver=driver,
        gpus=tuple(ComputeCapability.parse(cc) for cc in gpu_cc),
        torch=spec,
        variant=chosen_variant,
        policy=parse_policy(policy),
    )


def _variant_order(names: Sequence[str]) -> list[str]:
    return [v.name for v in sorted((Variant.parse(n) for n in names), key=Variant.sort_key)]
