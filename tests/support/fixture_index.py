"""Static PEP 503/691 index trees on disk, laid out from wheels the tests build.

A tree under ``root``::

    <index>/index.html                     the PEP 503 root page (project list)
    <index>/<project>/index.json           PEP 691 JSON page (absent for html-only indexes)
    <index>/<project>/index.html           PEP 503 HTML page
    files/<filename>                       the wheels and sdists
    files/<filename>.metadata              PEP 658 metadata, where the file has it

``<index>`` is a path such as ``simple`` or ``whl/cu121``; :class:`IndexServer` (see
index_server.py) serves the tree, choosing JSON or HTML by the Accept header. Two ready-made
trees: :func:`build_pytorch_index` (torch/torchvision/torchaudio per variant under
``whl/<variant>``, HTML only, ``%2B`` in file URLs, like the real PyTorch index) and
:func:`build_pypi_index` (plain torch family and the general packages under ``simple``).
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from packaging.utils import canonicalize_name

from tests.support.wheels import build_sdist, build_wheel, wheel_metadata

LINUX_X86 = 'platform_system == "Linux" and platform_machine == "x86_64"'
WRONG_HASH = "0" * 64


@dataclass(kw_only=True)
class IndexFile:
    """One listed file and how its index presents it."""

    path: Path
    yanked: str | None = None  # None: not yanked; "" yanked without reason
    metadata: bool = True  # advertise and serve <file>.metadata (PEP 658/714)
    wrong_metadata_hash: bool = False  # advertise a hash the .metadata file does not have
    requires_python: str | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


@dataclass(kw_only=True)
class FixtureIndex:
    """Files per (index path, project); :meth:`write` renders the pages."""

    root: Path
    html_only: set[str] = field(default_factory=set)  # index paths without JSON pages
    projects: dict[str, dict[str, list[IndexFile]]] = field(default_factory=dict)

    @property
    def files(self) -> Path:
        return self.root / "files"

    def add_wheel(
        self,
        index: str,
        name: str,
        version: str,
        *,
        tags: str = "py3-none-any",
        requires_dist: Iterable[str] = (),
        requires_python: str | None = None,
        provides_extra: Iterable[str] = (),
        build: str | None = None,
        yanked: str | None = None,
        metadata: bool = True,
        wrong_metadata_hash: bool = False,
        metadata_text: str | None = None,
    ) -> IndexFile:
        path = build_wheel(
            self.files,
            name,
            version,
            requires_dist=requires_dist,
            requires_python=requires_python,
            provides_extra=provides_extra,
            tags=tags,
            build=build,
            metadata=metadata_text,
        )
        return self.add_file(
            index,
            name,
            path,
            yanked=yanked,
            metadata=metadata,
            wrong_metadata_hash=wrong_metadata_hash,
            requires_python=requires_python,
        )

    def add_sdist(
        self,
        index: str,
        name: str,
        version: str,
        *,
        requires_dist: Iterable[str] = (),
        requires_python: str | None = None,
        yanked: str | None = None,
        metadata: bool = False,
        static: bool = True,
        built_requires_dist: Iterable[str] | None = None,
        backend_prelude: str = "",
    ) -> IndexFile:
        path = build_sdist(
            self.files,
            name,
            version,
            requires_dist=requires_dist,
            requires_python=requires_python,
            static=static,
            built_requires_dist=built_requires_dist,
            backend_prelude=backend_prelude,
        )
        return self.add_file(
            index, name, path, yanked=yanked, metadata=metadata, requires_python=requires_python
        )

    def add_file(
        self,
        index: str,
        project: str,
        path: Path,
        *,
        yanked: str | None = None,
        metadata: bool = True,
        wrong_metadata_hash: bool = False,
        requires_python: str | None = None,
    ) -> IndexFile:
        entry = IndexFile(
            path=path,
            yanked=yanked,
            metadata=metadata,
            wrong_metadata_hash=wrong_metadata_hash,
            requires_python=requires_python,
        )
        files = self.projects.setdefault(index, {}).setdefault(canonicalize_name(project), [])
        files.append(entry)
        return entry

    def write(self) -> FixtureIndex:
        """Render every page (and .metadata sibling); safe to call again after more adds."""
        for index, projects in self.projects.items():
            base = self.root / index
            base.mkdir(parents=True, exist_ok=True)
            links = "".join(f'<a href="{p}/">{p}</a><br/>\n' for p in sorted(projects))
            (base / "index.html").write_text(_html_document("Simple index", links))
            for project, files in projects.items():
                self._write_project(index, project, files)
        return self

    def _write_project(self, index: str, project: str, files: Sequence[IndexFile]) -> None:
        folder = self.root / index / project
        folder.mkdir(parents=True, exist_ok=True)
        depth = len(Path(index).parts) + 1
        json_files = []
        anchors = []
        for item in files:
            name = item.path.name
            quoted = quote(name)
            relative = "../" * depth + f"files/{quoted}"
            # the real PyTorch index writes host-relative paths; others relative ones
            href = f"/files/{quoted}" if index.startswith("whl") else relative
            sha256 = item.sha256
            metadata_sha: str | None = None
            if item.metadata:
                data = _metadata_bytes(item.path)
                (self.files / f"{name}.metadata").write_bytes(data)
                metadata_sha = WRONG_HASH if item.wrong_metadata_hash else _sha(data)
            entry: dict[str, object] = {
                "filename": name,
                "url": relative,
                "hashes": {"sha256": sha256},
                "size": item.path.stat().st_size,
                "yanked": False if item.yanked is None else (item.yanked or True),
                "upload-time": UPLOAD_TIME,  # PEP 700: the JSON pages give it
            }
            if item.requires_python:
                entry["requires-python"] = item.requires_python
            meta_value: object = {"sha256": metadata_sha} if metadata_sha else False
            entry["core-metadata"] = meta_value
            entry["dist-info-metadata"] = meta_value
            json_files.append(entry)
            attrs = [f'href="{html.escape(href)}#sha256={sha256}"']
            if item.requires_python:
                attrs.append(f'data-requires-python="{html.escape(item.requires_python)}"')
            if item.yanked is not None:
                attrs.append(f'data-yanked="{html.escape(item.yanked)}"')
            if metadata_sha:
                attrs.append(f'data-dist-info-metadata="sha256={metadata_sha}"')
                attrs.append(f'data-core-metadata="sha256={metadata_sha}"')
            anchors.append(f"<a {' '.join(attrs)}>{html.escape(name)}</a><br/>\n")
        page = {"meta": {"api-version": "1.1"}, "name": project, "files": json_files}
        if index not in self.html_only:
            (folder / "index.json").write_text(json.dumps(page, indent=1, sort_keys=True))
        (folder / "index.html").write_text(_html_document(f"Links for {project}", "".join(anchors)))

    def url(self, server_url: str, index: str = "simple") -> str:
        """The index URL of ``index`` on a server serving this tree."""
        return f"{server_url.rstrip('/')}/{index}"


UPLOAD_TIME = "2024-01-01T12:34:56.789012Z"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _metadata_bytes(path: Path) -> bytes:
    if path.name.endswith(".whl"):
        return wheel_metadata(path)
    import tarfile

    with tarfile.open(path) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith("/PKG-INFO"))
        handle = archive.extractfile(member)
        assert handle is not None
        return handle.read()


def _html_document(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html>\n<head><meta name="pypi:repository-version" content="1.1">'
        f"<title>{html.escape(title)}</title></head>\n<body>\n<h1>{html.escape(title)}</h1>\n"
        f"{body}</body>\n</html>\n"
    )


# --- the PyTorch-like index ------------------------------------------------------------------

PYTHONS = ("cp310", "cp311")


@dataclass(frozen=True, kw_only=True)
class TorchRelease:
    torch: str
    torchvision: str
    torchaudio: str
    triton: str
    variants: tuple[str, ...]
    pypi_cuda: str  # the CUDA set the plain (PyPI) Linux wheel depends on


TORCH_RELEASES = (
    TorchRelease(
        torch="2.0.1",
        torchvision="0.15.2",
        torchaudio="2.0.2",
        triton="2.0.0",
        variants=("cpu", "cu118", "cu121"),
        pypi_cuda="cu118",
    ),
    TorchRelease(
        torch="2.1.2",
        torchvision="0.16.2",
        torchaudio="2.1.2",
        triton="2.1.0",
        variants=("cpu", "cu118", "cu121"),
        pypi_cuda="cu121",
    ),
    TorchRelease(
        torch="2.5.1",
        torchvision="0.20.1",
        torchaudio="2.5.1",
        triton="3.1.0",
        variants=("cpu", "cu118", "cu121", "cu124"),
        pypi_cuda="cu124",
    ),
)

# nvidia-* pins per CUDA variant (a small, realistic subset: runtime, cuBLAS, cuDNN)
NVIDIA_PINS: dict[str, dict[str, str]] = {
    "cu118": {
        "nvidia-cuda-runtime-cu11": "11.8.89",
        "nvidia-cublas-cu11": "11.11.3.6",
        "nvidia-cudnn-cu11": "8.7.0.84",
    },
    "cu121": {
        "nvidia-cuda-runtime-cu12": "12.1.105",
        "nvidia-cublas-cu12": "12.1.3.1",
        "nvidia-cudnn-cu12": "8.9.2.26",
    },
    "cu124": {
        "nvidia-cuda-runtime-cu12": "12.4.127",
        "nvidia-cublas-cu12": "12.4.5.8",
        "nvidia-cudnn-cu12": "9.1.0.70",
    },
}

TORCH_COMMON = ("filelock", "typing-extensions>=4.8.0", "sympy", "networkx", "jinja2", "fsspec")
LINUX_WHEEL_TAG = "linux_x86_64"
PYPI_LINUX_TAG = "manylinux1_x86_64"
AARCH64_TAG = "manylinux2014_aarch64"


def torch_requires(release: TorchRelease, cuda: str | None) -> list[str]:
    """torch's Requires-Dist: the common packages, then nvidia-* and triton (Linux x86_64)."""
    requires = list(TORCH_COMMON)
    if cuda is not None:
        requires.extend(f"{name}=={pin}; {LINUX_X86}" for name, pin in NVIDIA_PINS[cuda].items())
        requires.append(f"triton=={release.triton}; {LINUX_X86}")
    return requires


def _torch_family(
    tree: FixtureIndex,
    index: str,
    release: TorchRelease,
    local: str,
    linux_tag: str,
    more: tuple[str, ...] = (),
) -> None:
    """torch, torchvision, torchaudio of one release, local label ``local`` ("" for none);
    wheels for ``linux_tag``, win_amd64 and the ``more`` platform tags."""
    cuda = None if local == "cpu" else (local or release.pypi_cuda)
    suffix = f"+{local}" if local else ""
    pin = f"torch=={release.torch}"  # the torch family pins the release, not the local label
    for py in PYTHONS:
        for platform in (linux_tag, "win_amd64", *more):
            tags = f"{py}-{py}-{platform}"
            tree.add_wheel(
                index,
                "torch",
                release.torch + suffix,
                tags=tags,
                requires_dist=torch_requires(release, cuda),
                requires_python=">=3.8.0",
                provides_extra=("opt-einsum",),
            )
            tree.add_wheel(
                index,
                "torchvision",
                release.torchvision + suffix,
                tags=tags,
                requires_dist=("numpy", pin, "pillow!=8.3.*,>=5.3.0"),
                requires_python=">=3.8",
            )
            tree.add_wheel(
                index,
                "torchaudio",
                release.torchaudio + suffix,
                tags=tags,
                requires_dist=(pin,),
                # the real index lacks PEP 658 metadata for some files: exercise range reads
                metadata=False,
            )


def build_pytorch_index(root: Path) -> FixtureIndex:
    """A PyTorch-like variant index: ``whl/<variant>/<project>/``, HTML only."""
    tree = FixtureIndex(root=root)
    for release in TORCH_RELEASES:
        for variant in release.variants:
            tree.html_only.add(f"whl/{variant}")
            _torch_family(tree, f"whl/{variant}", release, variant, LINUX_WHEEL_TAG)
    return tree.write()


def pytorch_variants() -> tuple[str, ...]:
    return tuple(sorted({v for release in TORCH_RELEASES for v in release.variants}))


# --- the PyPI-like index ----------------------------------------------------------------------

_MANYLINUX = "manylinux_2_17_x86_64.manylinux2014_x86_64"


def _binary(
    tree: FixtureIndex,
    name: str,
    version: str,
    *,
    requires_python: str | None = None,
    yanked: str | None = None,
    more: tuple[str, ...] = (),
) -> None:
    for py in PYTHONS:
        for platform in (_MANYLINUX, "win_amd64", *more):
            tree.add_wheel(
                "simple",
                name,
                version,
                tags=f"{py}-{py}-{platform}",
                requires_python=requires_python,
                yanked=yanked,
            )


def build_pypi_index(root: Path, *, aarch64: bool = False) -> FixtureIndex:
    """A PyPI-like index under ``simple/``: plain torch family and the general packages.

    Yanked files: requests 2.32.0 ("Yanked due to conflicts with CVE-2024-35195 mitigation")
    and numpy 2.1.0 (no reason). mpmath also has an sdist; markupsafe 3.0.2 is sdist-only.
    ``aarch64`` adds Linux aarch64 wheels of the torch family and the binary packages (the
    real index's aarch64 torch wheels of these releases are CPU builds).
    """
    tree = FixtureIndex(root=root)
    more = (AARCH64_TAG,) if aarch64 else ()
    for release in TORCH_RELEASES:
        _torch_family(tree, "simple", release, "", PYPI_LINUX_TAG, more)
    for pins in NVIDIA_PINS.values():
        for name, version in pins.items():
            requires: tuple[str, ...] = ()
            if "cudnn" in name:
                requires = (name.replace("cudnn", "cublas"),)
            for platform in ("manylinux1_x86_64", "win_amd64"):
                if not _listed(tree, name, version, platform):
                    tree.add_wheel(
                        "simple",
                        name,
                        version,
                        tags=f"py3-none-{platform}",
                        requires_dist=requires,
                        requires_python=">=3",
                    )
    for release in TORCH_RELEASES:
        for py in PYTHONS:
            tree.add_wheel(
                "simple",
                "triton",
                release.triton,
                tags=f"{py}-{py}-{_MANYLINUX}",
                requires_dist=("filelock",),
            )
    _binary(tree, "numpy", "1.24.4", requires_python=">=3.8", more=more)
    _binary(tree, "numpy", "1.26.4", requires_python=">=3.9", more=more)
    _binary(tree, "numpy", "2.1.0", requires_python=">=3.10", yanked="", more=more)
    _binary(tree, "numpy", "2.1.3", requires_python=">=3.10", more=more)
    _binary(tree, "pillow", "10.4.0", requires_python=">=3.8", more=more)
    _binary(tree, "pillow", "11.0.0", requires_python=">=3.9", more=more)
    _binary(tree, "markupsafe", "2.1.5", requires_python=">=3.7", more=more)
    tree.add_sdist("simple", "markupsafe", "3.0.2", requires_python=">=3.9")
    _binary(tree, "charset-normalizer", "3.4.0", requires_python=">=3.7.0", more=more)
    tree.add_wheel("simple", "charset-normalizer", "3.4.0", requires_python=">=3.7.0")
    pure: list[tuple[str, str, tuple[str, ...], str | None]] = [
        ("requests", "2.31.0", _REQUESTS, ">=3.7"),
        ("requests", "2.32.3", _REQUESTS, ">=3.8"),
        ("certifi", "2024.8.30", (), ">=3.6"),
        ("idna", "3.7", (), ">=3.5"),
        ("idna", "3.10", (), ">=3.6"),
        ("urllib3", "1.26.20", (), ">=2.7,!=3.0.*,!=3.1.*,!=3.2.*,!=3.3.*,!=3.4.*,!=3.5.*"),
        ("urllib3", "2.2.3", (), ">=3.8"),
        ("mpmath", "1.3.0", (), None),
        ("filelock", "3.13.1", (), ">=3.8"),
        ("filelock", "3.16.1", (), ">=3.8"),
        ("typing-extensions", "4.9.0", (), ">=3.8"),
        ("typing-extensions", "4.12.2", (), ">=3.8"),
        ("sympy", "1.12", ("mpmath>=0.19",), ">=3.8"),
        ("sympy", "1.13.1", ("mpmath<1.4,>=1.1.0",), ">=3.8"),
        ("networkx", "3.2.1", (), ">=3.9"),
        ("networkx", "3.4.2", (), ">=3.10"),
        ("jinja2", "3.1.3", ("MarkupSafe>=2.0",), ">=3.7"),
        ("jinja2", "3.1.4", ("MarkupSafe>=2.0",), ">=3.7"),
        ("fsspec", "2024.2.0", (), ">=3.8"),
        ("fsspec", "2024.10.0", (), ">=3.8"),
    ]
    for name, version, pure_requires, python in pure:
        tree.add_wheel("simple", name, version, requires_dist=pure_requires, requires_python=python)
    tree.add_wheel(
        "simple",
        "requests",
        "2.32.0",
        requires_dist=_REQUESTS,
        requires_python=">=3.8",
        yanked="Yanked due to conflicts with CVE-2024-35195 mitigation",
    )
    tree.add_sdist("simple", "mpmath", "1.3.0")
    return tree.write()


_REQUESTS = (
    "charset-normalizer<4,>=2",
    "idna<4,>=2.5",
    "urllib3<3,>=1.21.1",
    "certifi>=2017.4.17",
    'PySocks!=1.5.7,>=1.5.6; extra == "socks"',
)


def _listed(tree: FixtureIndex, name: str, version: str, platform: str) -> bool:
    files = tree.projects.get("simple", {}).get(canonicalize_name(name), [])
    return any(f"-{version}-" in f.path.name and platform in f.path.name for f in files)
