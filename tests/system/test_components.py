"""Plans per component and OS: golden renderings, invariants, and refused inputs.

The goldens under tests/fixtures/plans/ were rendered once and reviewed against the
vendors' documented steps (NVIDIA's CUDA installation guides and archive pages,
nginx.org's linux_packages page, Miniforge's releases and conda's silent-mode page,
git-scm.com). To re-render after a deliberate change:
TORCHLOCK_UPDATE_GOLDENS=1 pytest tests/system/test_components.py, then review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from torchlock.errors import InputError
from torchlock.system import vendor
from torchlock.system.components import COMPONENTS, plan
from torchlock.system.render import render_json, render_text
from torchlock.system.steps import Shell, TargetOs, target_os_for

PLANS = Path(__file__).resolve().parent.parent / "fixtures" / "plans"
UPDATE = os.environ.get("TORCHLOCK_UPDATE_GOLDENS") == "1"

CASES: list[tuple[str, TargetOs, str | None]] = [
    (component, target, None) for component in COMPONENTS for target in TargetOs
]
CASES += [
    ("conda", TargetOs.UBUNTU_2204, "anaconda"),
    ("conda", TargetOs.WINDOWS, "anaconda"),
    ("nginx", TargetOs.DEBIAN_12, "distro"),
    ("nginx", TargetOs.RHEL_9, "distro"),
]


def _name(component: str, target: TargetOs, source: str | None) -> str:
    return f"{component}-{target.value}" + (f"-{source}" if source else "")


def _golden(name: str, text: str) -> None:
    path = PLANS / name
    if UPDATE:
        PLANS.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
    assert path.read_text(encoding="utf-8") == text, f"{name} differs from its golden"


@pytest.mark.parametrize(
    ("component", "target", "source"), CASES, ids=[_name(*case) for case in CASES]
)
def test_golden_plan(component: str, target: TargetOs, source: str | None) -> None:
    _golden(
        _name(component, target, source) + ".txt",
        render_text(plan(component, target, source=source)),
    )


def test_golden_json() -> None:
    text = render_json(plan("cuda", TargetOs.UBUNTU_2204))
    _golden("cuda-ubuntu-22.04.json", text)
    document = json.loads(text)
    assert [step["id"] for step in document["steps"]] == [
        "driver-present",
        "download-cuda",
        "install-cuda",
        "cuda-path",
        "nvcc",
    ]


@pytest.mark.parametrize(("component", "target", "source"), CASES)
def test_invariants(component: str, target: TargetOs, source: str | None) -> None:
    built = plan(component, target, source=source)
    assert built.steps
    assert built.sources
    ids = [step.id for step in built.steps]
    assert len(ids) == len(set(ids))
    for step in built.steps:
        # Every step can tell whether it is already done, so a re-run skips it.
        assert step.check is not None
        assert step.commands
        assert step.shell is (Shell.POWERSHELL if target is TargetOs.WINDOWS else Shell.BASH)
        for command in step.commands:
            assert "sudo" not in command  # elevation is apply's business, by needs_root
        for download in step.downloads:
            assert download.url.startswith("https://")
            assert download.published
            assert any(download.url in command for command in step.commands)
        for edit in step.edits:
            assert any(edit.content.splitlines()[0] in command for command in step.commands)


def test_driver_linux_covers_the_book() -> None:
    text = render_text(plan("driver", TargetOs.RHEL_9))
    assert "lspci -d 10de:" in text
    assert "kernel-devel-$(uname -r)" in text
    assert "blacklist nouveau\n" in text.replace("      | ", "")
    assert "options nouveau modeset=0" in text
    assert "dracut --force" in text  # RHEL; Ubuntu uses update-initramfs
    assert "systemctl isolate multi-user.target" in text
    assert (
        "https://us.download.nvidia.com/XFree86/Linux-x86_64/525.85.05/"
        "NVIDIA-Linux-x86_64-525.85.05.run" in text
    )
    assert "--silent" in text
    assert "reboot after: yes" in text
    ubuntu = render_text(plan("driver", TargetOs.UBUNTU_2204))
    assert "update-initramfs -u" in ubuntu
    assert "dracut" not in ubuntu


def test_cuda_deselects_the_driver_and_explains_ld_library_path() -> None:
    built = plan("cuda", TargetOs.UBUNTU_2204, "12.0.1")
    text = render_text(built)
    assert (
        "https://developer.download.nvidia.com/compute/cuda/12.0.1/local_installers/"
        "cuda_12.0.1_525.85.12_linux.run" in text
    )
    assert "--silent --toolkit" in text
    assert "md5sum.txt" in text
    path_step = next(step for step in built.steps if step.id == "cuda-path")
    assert "__nvJitLinkAddData_12_1" in path_step.why
    assert "activate.d" in path_step.why
    assert all("LD_LIBRARY_PATH" not in edit.content for edit in path_step.edits)
    assert "export PATH=/usr/local/cuda-12.0/bin" in path_step.edits[0].content


def test_nginx_never_the_vulnerable_one() -> None:
    ubuntu = render_text(plan("nginx", TargetOs.UBUNTU_2204))
    assert "nginx=1.30.4-1~jammy" in ubuntu
    assert vendor.NGINX_KEY_FINGERPRINT in ubuntu
    assert "signed-by=/usr/share/keyrings/nginx-archive-keyring.gpg" in ubuntu
    assert "https://nginx.org/packages/ubuntu jammy nginx" in ubuntu
    assert "Pin: origin nginx.org" in ubuntu
    mainline = render_text(plan("nginx", TargetOs.DEBIAN_12, "1.29.0"))
    assert "https://nginx.org/packages/mainline/debian bookworm nginx" in mainline
    rhel = render_text(plan("nginx", TargetOs.RHEL_9))
    assert "baseurl=https://nginx.org/packages/centos/$releasever/$basearch/" in rhel
    with pytest.raises(InputError, match="vulnerable"):
        plan("nginx", TargetOs.UBUNTU_2204, "1.18.0")
    with pytest.raises(InputError, match=r"1\.18"):
        plan("nginx", TargetOs.UBUNTU_2204, source="distro")


def test_conda_is_per_user_batch_mode() -> None:
    built = plan("conda", TargetOs.RHEL_8)
    assert not any(step.needs_root for step in built.steps)
    text = render_text(built)
    assert '-b -p "$HOME/miniforge3"' in text
    # Only the versioned installer has a .sha256 next to it.
    assert "releases/download/26.3.2-3/Miniforge3-26.3.2-3-Linux-x86_64.sh.sha256" in text
    assert "latest/download" not in text
    tagged = render_text(plan("conda", TargetOs.UBUNTU_2204, "24.11.3-0"))
    assert "releases/download/24.11.3-0/Miniforge3-24.11.3-0-Linux-x86_64.sh" in tagged
    anaconda = render_text(plan("conda", TargetOs.UBUNTU_2204, source="anaconda"))
    assert "https://repo.anaconda.com/archive/Anaconda3-2023.09-0-Linux-x86_64.sh" in anaconda
    windows = render_text(plan("conda", TargetOs.WINDOWS))
    assert "'/InstallationType=JustMe','/RegisterPython=0','/S'" in windows


def test_windows_names_installers_and_powershell_commands() -> None:
    assert "winget install --id Git.Git -e" in render_text(plan("git", TargetOs.WINDOWS))
    cuda = render_text(plan("cuda", TargetOs.WINDOWS))
    assert "cuda_12.0.1_528.33_windows.exe" in cuda
    assert "'-s','nvcc_12.0'" in cuda
    assert "'thrust_12.0'" in cuda
    assert "'nvjitlink_12.0'" in cuda
    cuda11 = render_text(plan("cuda", TargetOs.WINDOWS, "11.8.0"))
    assert "'thrust_11.8'" in cuda11
    assert "nvjitlink" not in cuda11
    assert "Display.Driver" in cuda
    assert "nginx-1.30.4.zip" in render_text(plan("nginx", TargetOs.WINDOWS))
    assert "'-s','-noreboot'" in render_text(plan("driver", TargetOs.WINDOWS))


@pytest.mark.parametrize(
    ("component", "version", "source", "match"),
    [
        ("gpu", None, None, "unknown component 'gpu'"),
        ("driver", "525", None, "malformed NVIDIA driver version"),
        ("driver", "abc", None, "malformed NVIDIA driver version"),
        ("cuda", "12.0", None, "malformed CUDA version"),
        ("cuda", "10.2.89", None, "no installer known for CUDA 10.2.89"),
        ("conda", "latest", None, "malformed Miniforge version"),
        ("conda", "2023.09", "anaconda", "malformed Anaconda version"),
        ("conda", None, "miniconda", "unknown source 'miniconda' for conda"),
        ("nginx", "1.28", None, "malformed nginx version"),
        ("nginx", "1.20.0", None, "known to be vulnerable"),
        ("nginx", "1.26.2", "distro", "takes no --version"),
        ("git", "2.43.0", None, "takes no --version"),
    ],
)
def test_bad_inputs(component: str, version: str | None, source: str | None, match: str) -> None:
    with pytest.raises(InputError, match=match) as caught:
        plan(component, TargetOs.UBUNTU_2204, version, source=source)
    assert caught.value.exit_code == 2


def test_target_os() -> None:
    with pytest.raises(InputError, match=r"unknown target OS 'ubuntu-24\.04'"):
        TargetOs.parse("ubuntu-24.04")
    assert target_os_for("ubuntu", "22.04", windows=False) is TargetOs.UBUNTU_2204
    assert target_os_for("rocky", "9.3", windows=False) is TargetOs.RHEL_9
    assert target_os_for("debian", "12", windows=False) is TargetOs.DEBIAN_12
    assert target_os_for("debian", "13", windows=False) is None
    assert target_os_for(None, None, windows=True) is TargetOs.WINDOWS
