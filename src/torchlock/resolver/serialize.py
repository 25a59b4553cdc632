"""A Resolution as plain JSON-able data and back, exactly (for the solve result cache)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from packaging.specifiers import SpecifierSet
from packaging.tags import parse_tag
from packaging.utils import NormalizedName
from packaging.version import Version

from torchlock.artifacts import Artifact, ArtifactKind
from torchlock.resolver.result import Pin, Resolution

if TYPE_CHECKING:
    from packaging.markers import Marker


def artifact_to_dict(artifact: Artifact) -> dict[str, Any]:
    return {
        "project": artifact.project,
        "version": str(artifact.version),
        "filename": artifact.filename,
        "url": artifact.url,
        "index": artifact.index,
        "kind": artifact.kind.value,
        "tags": sorted(str(t) for t in artifact.tags),
        "build": list(artifact.build),
        "sha256": artifact.sha256,
        "size": artifact.size,
        "requires_python": _text(artifact.requires_python),
        "yanked": artifact.yanked,
        "metadata_sha256": artifact.metadata_sha256,
        "has_metadata": artifact.has_metadata,
        "upload_time": artifact.upload_time,
    }


def artifact_from_dict(doc: dict[str, Any]) -> Artifact:
    build = doc["build"]
    return Artifact(
        project=NormalizedName(doc["project"]),
        version=Version(doc["version"]),
        filename=doc["filename"],
        url=doc["url"],
        index=doc["index"],
        kind=ArtifactKind(doc["kind"]),
        tags=frozenset(tag for text in doc["tags"] for tag in parse_tag(text)),
        build=(int(build[0]), str(build[1])) if build else (),
        sha256=doc["sha256"],
        size=doc["size"],
        requires_python=_specifier(doc["requires_python"]),
        yanked=doc["yanked"],
        metadata_sha256=doc["metadata_sha256"],
        has_metadata=doc["has_metadata"],
        upload_time=doc["upload_time"],
    )


def resolution_to_dict(resolution: Resolution) -> dict[str, Any]:
    return {
        "roots": list(resolution.roots),
        "pins": [
            {
                "name": pin.name,
                "version": str(pin.version),
                "artifacts": [artifact_to_dict(a) for a in pin.artifacts],
                "index": pin.index,
                "requires_python": _text(pin.requires_python),
                "dependencies": list(pin.dependencies),
                "required_by": list(pin.required_by),
                "extras": sorted(pin.extras),
                "markers": None if pin.markers is None else str(pin.markers),
            }
            for pin in resolution.pins
        ],
    }


def resolution_from_dict(doc: dict[str, Any]) -> Resolution:
    """The Resolution ``resolution_to_dict`` gave; KeyError/ValueError/TypeError if damaged."""
    pins = []
    for item in doc["pins"]:
        artifacts = tuple(artifact_from_dict(a) for a in item["artifacts"])
        pins.append(
            Pin(
                name=NormalizedName(item["name"]),
                version=Version(item["version"]),
                artifact=artifacts[0],
                artifacts=artifacts,
                index=item["index"],
                requires_python=_specifier(item["requires_python"]),
                dependencies=tuple(NormalizedName(n) for n in item["dependencies"]),
                required_by=tuple(NormalizedName(n) for n in item["required_by"]),
                extras=frozenset(NormalizedName(e) for e in item["extras"]),
                markers=None if item["markers"] is None else _marker(item["markers"]),
            )
        )
    return Resolution(pins=tuple(pins), roots=tuple(NormalizedName(r) for r in doc["roots"]))


def _text(specifier: SpecifierSet | None) -> str | None:
    return None if specifier is None else str(specifier)


def _specifier(text: str | None) -> SpecifierSet | None:
    return None if text is None else SpecifierSet(text)


def _marker(text: str) -> Marker:
    from packaging.markers import Marker  # rarely needed: keep its regexes off the warm path

    return Marker(text)
