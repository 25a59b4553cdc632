"""Wheel tags and marker environments of a target, never of the host."""

from __future__ import annotations

import pytest
from packaging.markers import Marker
from packaging.tags import Tag

from torchlock.errors import InputError
from torchlock.index.tags import marker_environment, supported_tags, tag_priorities


def test_linux_x86_64_cp310() -> None:
    tags = supported_tags("3.10", "linux-x86_64")
    names = [str(t) for t in tags]
    assert names[0] == "cp310-cp310-manylinux_2_39_x86_64"
    for wanted in (
        "cp310-cp310-manylinux_2_17_x86_64",
        "cp310-cp310-manylinux2014_x86_64",
        "cp310-cp310-manylinux2010_x86_64",
        "cp310-cp310-manylinux1_x86_64",
        "cp310-cp310-linux_x86_64",
        "cp310-abi3-manylinux_2_28_x86_64",
        "py3-none-manylinux1_x86_64",
        "py3-none-any",
    ):
        assert wanted in names
    assert not any("win_amd64" in n or "cp311" in n.split("-")[1] for n in names)
    assert names.index("cp310-cp310-manylinux_2_17_x86_64") < names.index("py3-none-any")


def test_linux_aarch64_has_no_old_manylinux() -> None:
    names = {str(t) for t in supported_tags("3.11", "linux-aarch64")}
    assert "cp311-cp311-manylinux2014_aarch64" in names
    assert "cp311-cp311-manylinux1_aarch64" not in names
    assert not any("x86_64" in n for n in names)


def test_windows() -> None:
    tags = supported_tags("3.11", "win-64")
    assert tags[0] == Tag("cp311", "cp311", "win_amd64")
    assert {t.platform for t in tags} == {"win_amd64", "any"}


def test_macos() -> None:
    arm = {str(t) for t in supported_tags("3.12", "macos-aarch64")}
    assert "cp312-cp312-macosx_11_0_arm64" in arm
    assert "cp312-cp312-macosx_14_0_universal2" in arm
    x86 = {str(t) for t in supported_tags("3.12", "osx-64")}
    assert "cp312-cp312-macosx_10_9_x86_64" in x86
    assert "cp312-cp312-macosx_10_8_x86_64" not in x86


def test_priorities_and_cache() -> None:
    ranks = tag_priorities("3.10", "linux-x86_64")
    assert ranks[Tag("cp310", "cp310", "manylinux_2_39_x86_64")] == 0
    assert supported_tags("3.10", "linux-x86_64") is supported_tags("3.10", "linux-x86_64")


def test_bad_target() -> None:
    with pytest.raises(InputError):
        supported_tags("3", "linux-x86_64")
    with pytest.raises(InputError):
        supported_tags("3.10", "solaris-sparc")


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        ("linux-x86_64", {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix"}),
        ("win-64", {"sys_platform": "win32", "platform_machine": "AMD64", "os_name": "nt"}),
        ("macos-aarch64", {"sys_platform": "darwin", "platform_machine": "arm64"}),
    ],
)
def test_marker_environment(platform: str, expected: dict[str, str]) -> None:
    env = marker_environment("3.10", platform)
    assert expected.items() <= env.items()
    assert env["python_version"] == "3.10"
    assert env["python_full_version"] == "3.10.0"
    assert env["implementation_name"] == "cpython"
    assert env["platform_python_implementation"] == "CPython"


def test_torch_marker_on_targets() -> None:
    marker = Marker('platform_system == "Linux" and platform_machine == "x86_64"')
    assert marker.evaluate(marker_environment("3.10", "linux-x86_64"))
    assert not marker.evaluate(marker_environment("3.10", "linux-aarch64"))
    assert not marker.evaluate(marker_environment("3.10", "win-64"))
    full = marker_environment("3.11", "linux-64", full_version="3.11.7")
    assert Marker('python_full_version >= "3.11.5"').evaluate(full)
