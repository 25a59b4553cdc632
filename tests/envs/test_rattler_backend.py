"""The ``rattler`` backend against a local conda channel that the tests build: solving
the conda base of a lock, and installing a locked one."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path

import msgspec
import pytest

from tests.support.conda_channel import CondaSpec, base_channel, build_channel, locked
from tests.support.index_server import serve
from torchlock.envs.conda_rattler import channel_of, channel_url, install_conda_base, solve_base
from torchlock.envs.install import BuildError
from torchlock.errors import InputError, PackageIndexError, ResolutionError
from torchlock.lockfiles import pylock
from torchlock.lockfiles.model import CondaPackage

pytest.importorskip("rattler")

SPECS = (
    CondaSpec(name="alpha", version="1.0", files={"share/alpha/where.txt": "alpha\n"}),
    CondaSpec(name="beta", version="2.1", build="py_0", depends=("alpha >=1",)),
    CondaSpec(name="beta", version="2.2", build="py_0", depends=("alpha >=1",)),  # not locked
)


@pytest.fixture(scope="module")
def channel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_channel(tmp_path_factory.mktemp("channel"), SPECS)


def _install_linux(packages: list[CondaPackage], tmp_path: Path) -> tuple[str, ...]:
    """The locked ``packages`` linked for linux-64 into tmp_path/s (prefix tmp_path/f)."""
    return install_conda_base(
        packages=packages,
        python="3.11",
        channels=(),
        staging=tmp_path / "s",
        final=tmp_path / "f",
        platform="linux-64",
        cache_dir=tmp_path / "cache",
    )


def test_the_channel_is_indexed_by_rattler(channel: Path) -> None:
    repodata = json.loads((channel / "noarch" / "repodata.json").read_text())
    assert sorted(repodata["packages"]) == [
        "alpha-1.0-0.tar.bz2",
        "beta-2.1-py_0.tar.bz2",
        "beta-2.2-py_0.tar.bz2",
    ]


def test_locked_packages_land_in_the_prefix_with_their_records(
    channel: Path, tmp_path: Path
) -> None:
    packages = [locked(channel, SPECS[0]), locked(channel, SPECS[1])]
    assert channel_of(packages[0].url) == channel.resolve().as_uri()
    staging, final = tmp_path / ".env.torchlock-x", tmp_path / "env"
    names = install_conda_base(
        packages=packages,
        python="3.11",
        channels=(),
        staging=staging,
        final=final,
        platform="linux-64",
        cache_dir=tmp_path / "cache",
    )
    assert names == ("alpha", "beta")
    assert not final.exists()  # linked into the staging folder, for the final prefix
    assert (staging / "share" / "alpha" / "where.txt").read_text() == "alpha\n"
    assert (staging / "share" / "beta" / "README.txt").read_text() == "beta 2.1\n"
    records = {p.name: json.loads(p.read_text()) for p in (staging / "conda-meta").glob("*.json")}
    assert sorted(records) == ["alpha-1.0-0.json", "beta-2.1-py_0.json"]  # 2.1, as locked
    beta = records["beta-2.1-py_0.json"]
    assert beta["sha256"] == packages[1].sha256
    assert beta["md5"] == packages[1].md5
    assert beta["depends"] == ["alpha >=1"]


def test_a_package_whose_hash_differs_from_the_lock_is_refused(
    channel: Path, tmp_path: Path
) -> None:
    bad = msgspec.structs.replace(locked(channel, SPECS[0]), sha256="0" * 64)
    with pytest.raises(BuildError, match="alpha: sha256 on its channel does not match the lock"):
        _install_linux([bad], tmp_path)
    assert not (tmp_path / "s").exists()


def test_an_unreachable_locked_channel_is_an_index_failure(channel: Path, tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    package = locked(channel, SPECS[0])
    gone = f"http://127.0.0.1:{port}/conda-forge"
    moved = msgspec.structs.replace(package, url=f"{gone}/noarch/{package.url.rsplit('/', 1)[1]}")
    with pytest.raises(PackageIndexError) as caught:
        _install_linux([moved], tmp_path)
    assert caught.value.exit_code == 6
    assert caught.value.message.startswith(f"conda channel {gone} could not be read")
    assert not (tmp_path / "s").exists()


def test_an_incomplete_lock_is_refused(channel: Path, tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="not complete: the solve added alpha"):
        _install_linux([locked(channel, SPECS[1])], tmp_path)


# --- solving the conda base of a lock ---------------------------------------------------


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return base_channel(tmp_path_factory.mktemp("base"))


def test_channel_names_and_urls() -> None:
    assert channel_url("conda-forge") == "https://conda.anaconda.org/conda-forge"
    assert channel_url("https://mirror.example/conda-forge/") == (
        "https://mirror.example/conda-forge"
    )
    assert channel_url("file:///srv/channel") == "file:///srv/channel"
    with pytest.raises(InputError, match="neither a channel name nor a URL"):
        channel_url("some folder")


def test_plain_http_channels_only_on_loopback_or_a_trusted_host() -> None:
    assert channel_url("http://127.0.0.1:8000/c/") == "http://127.0.0.1:8000/c"
    assert channel_url("http://localhost/c") == "http://localhost/c"
    assert channel_url("http://mirror.lan/c", ["mirror.lan"]) == "http://mirror.lan/c"
    assert channel_url("http://mirror.lan:8080/c", ["mirror.lan:8080"])
    for refused, trusted in [
        ("http://mirror.lan/c", []),
        ("http://mirror.lan:8080/c", ["other.lan"]),
        ("http://u:secret@mirror.lan/c", []),
    ]:
        with pytest.raises(PackageIndexError, match="refusing the plain-http conda channel") as e:
            channel_url(refused, trusted)
        assert "secret" not in str(e.value)


def test_the_base_is_python_and_pip_per_platform_with_hashes(base: Path) -> None:
    linux = solve_base(channels=[base.as_uri()], python="3.10", subdir="linux-64")
    assert [(r.name, r.version, r.build, r.subdir) for r in linux] == [
        ("libzlib", "1.3.1", "h0_0", "linux-64"),  # not h0_1: it needs a glibc no target has
        ("pip", "24.0", "pyhd8ed1ab_0", "noarch"),
        ("python", "3.10.14", "hlinux_0_cpython", "linux-64"),
    ]
    windows = solve_base(channels=[base.as_uri()], python="3.11", subdir="win-64")
    assert [(r.name, r.version) for r in windows] == [
        ("pip", "24.0"),
        ("python", "3.11.9"),
        ("ucrt", "10.0.22621.0"),
    ]
    for record in (*linux, *windows):
        data = (base / record.subdir / record.url.rsplit("/", 1)[1]).read_bytes()
        assert record.sha256 == hashlib.sha256(data).hexdigest()
        assert record.md5 == hashlib.md5(data).hexdigest()
        assert record.size == len(data)
        assert record.channel == base.resolve().as_uri()
        assert record.url == f"{record.channel}/{record.subdir}/{record.name}-" + (
            f"{record.version}-{record.build}.tar.bz2"
        )
    python = next(r for r in linux if r.name == "python")
    assert python.depends == ("__glibc >=2.17,<3.0.a0", "libzlib >=1.3.1,<2.0a0")


def test_the_base_is_solved_over_http_and_the_same_twice(tmp_path: Path, base: Path) -> None:
    server = serve(base)
    url = server.url
    try:
        first = solve_base(
            channels=[server.url], python="3.10", subdir="linux-64", cache_dir=tmp_path / "c1"
        )
        second = solve_base(
            channels=[server.url + "/"], python="3.10", subdir="linux-64", cache_dir=tmp_path / "c2"
        )
    finally:
        server.stop()
    assert first == second
    assert all(r.url.startswith(url + "/") for r in first)


def test_no_python_of_that_version_is_a_resolution_error(base: Path) -> None:
    with pytest.raises(ResolutionError) as caught:
        solve_base(channels=[base.as_uri()], python="3.9", subdir="linux-64")
    assert "no python 3.9.* with pip for linux-64" in caught.value.message
    assert "--no-conda" in str(caught.value)


def test_an_unreachable_channel_is_one_error_naming_it() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/conda-forge"
    with pytest.raises(PackageIndexError) as caught:
        solve_base(channels=[url], python="3.10", subdir="linux-64")
    text = str(caught.value)
    assert caught.value.message.startswith(f"conda channel {url} could not be read")
    assert "--channel https://mirrors.tuna.tsinghua.edu.cn/anaconda/cloud/conda-forge" in text
    assert "--no-conda" in text


def test_a_solved_and_locked_base_installs_only_its_platform(base: Path, tmp_path: Path) -> None:
    """solve_base → the lock (rendered and parsed) → the rattler backend: the fields line up."""
    from tests.lockfiles.sample import sample_lock

    records = {
        subdir: solve_base(channels=[base.as_uri()], python="3.10", subdir=subdir)
        for subdir in ("linux-64", "win-64")
    }
    from torchlock.lockfiles.build import conda_package

    conda = [conda_package(r, subdir) for subdir, found in records.items() for r in found]
    lock = msgspec.structs.replace(sample_lock(), conda=tuple(conda))
    lock = pylock.parse(pylock.render(lock), "pylock.toml")
    staging, final = tmp_path / ".env.torchlock-x", tmp_path / "env"
    names = install_conda_base(
        packages=lock.conda,
        python=lock.python,
        channels=lock.inputs.conda_channels,
        staging=staging,
        final=final,
        platform="linux-64",
        cache_dir=tmp_path / "cache",
    )
    assert names == ("libzlib", "pip", "python")
    assert (staging / "share" / "python" / "linux-64.txt").read_text() == (
        "python 3.10.14 for linux-64\n"
    )
    meta = json.loads((staging / "conda-meta" / "python-3.10.14-hlinux_0_cpython.json").read_text())
    assert meta["sha256"] == next(
        c.sha256 for c in lock.conda_for("linux-64") if c.name == "python"
    )
