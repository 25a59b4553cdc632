"""The host components torchlock plans: driver, cuda, conda, nginx, git.

:func:`plan` turns (component, target OS, version, source) into a :class:`Plan`, pure
data that follows the vendors' documented steps (see :mod:`torchlock.system.vendor`
for every fact and where it is published). Where the book this automates differs
from the vendor (it writes the nouveau blacklist into blacklist.conf and swaps
dracut and update-initramfs), the vendor wins.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from torchlock.errors import InputError
from torchlock.system import vendor
from torchlock.system.steps import (
    Check,
    Checksum,
    Download,
    Edit,
    Plan,
    Shell,
    Step,
    TargetOs,
    download_commands,
    edit_commands,
    ps_quote,
    sh_quote,
)
from torchlock.target import DriverVersion

COMPONENTS = ("driver", "cuda", "conda", "nginx", "git")
SOURCES: dict[str, tuple[str, ...]] = {  # the first is the default
    "driver": ("nvidia",),
    "cuda": ("nvidia",),
    "conda": ("miniforge", "anaconda"),
    "nginx": ("nginx.org", "distro"),
    "git": ("distro",),
}
LINUX_DOWNLOADS = "/var/tmp/torchlock"  # survives the reboot the driver plan may need
WINDOWS_DOWNLOADS = "$env:TEMP\\torchlock"
NGINX_WINDOWS_ROOT = "$env:SystemDrive\\nginx"


def plan(
    component: str,
    target_os: TargetOs,
    version: str | None = None,
    *,
    source: str | None = None,
) -> Plan:
    """The ordered steps that install ``component`` on ``target_os``.

    ``version`` None means the default of the component (driver 525.85.05, CUDA
    12.0.1, Miniforge 26.3.2-3, nginx 1.30.4, the distribution's Git). A component,
    version or source that is not known is an :class:`InputError`.
    """
    name = component.strip().lower()
    if name not in COMPONENTS:
        raise InputError(
            f"unknown component {component!r}", hint="use one of: " + ", ".join(COMPONENTS)
        )
    chosen = (source or SOURCES[name][0]).strip().lower()
    if chosen not in SOURCES[name]:
        raise InputError(
            f"unknown source {source!r} for {name}",
            hint="use one of: " + ", ".join(SOURCES[name]),
        )
    builders: dict[str, Callable[[TargetOs, str | None, str], Plan]] = {
        "driver": _driver,
        "cuda": _cuda,
        "conda": _conda,
        "nginx": _nginx,
        "git": _git,
    }
    return builders[name](target_os, version.strip() if version else None, chosen)


# -- helpers ------------------------------------------------------------------------------------


def _bash(
    id: str,
    title: str,
    why: str,
    commands: tuple[str, ...],
    check: Check | None,
    *,
    edits: tuple[Edit, ...] = (),
    downloads: tuple[Download, ...] = (),
    needs_root: bool = False,
    reboot_after: bool = False,
    shell: Shell = Shell.BASH,
) -> Step:
    written: list[str] = []
    for download in downloads:
        written.extend(download_commands(download, shell=shell))
    for edit in edits:
        written.extend(edit_commands(edit, shell=shell, step_id=id))
    return Step(
        id=id,
        title=title,
        why=why,
        shell=shell,
        commands=(*written, *commands),
        check=check,
        edits=edits,
        downloads=downloads,
        needs_root=needs_root,
        reboot_after=reboot_after,
    )


def _ps(
    id: str,
    title: str,
    why: str,
    commands: tuple[str, ...],
    check: Check | None,
    *,
    edits: tuple[Edit, ...] = (),
    downloads: tuple[Download, ...] = (),
    needs_root: bool = False,
) -> Step:
    return _bash(
        id,
        title,
        why,
        commands,
        check,
        edits=edits,
        downloads=downloads,
        needs_root=needs_root,
        shell=Shell.POWERSHELL,
    )


def download_step(
    id: str,
    title: str,
    download: Download,
    *,
    shell: Shell,
    done_if: str | None = None,
    extra: tuple[str, ...] = (),
) -> Step:
    """A step that fetches one file and verifies it; satisfied when the file (or ``done_if``) is.

    ``done_if`` is a test of the installed result, so a download is skipped once
    what it installs is there.
    """
    if shell is Shell.BASH:
        test = f"test -s {sh_quote(download.dest)}"
        command = f"{done_if} || {test}" if done_if else test
    else:
        test = f"Test-Path {ps_quote(download.dest)}"
        inner = f"({done_if}) -or ({test})" if done_if else test
        command = f"if (-not ({inner})) {{ exit 1 }}"
    return _bash(
        id,
        title,
        f"Fetch {download.url.rsplit('/', 1)[-1]} from its vendor and verify it before use.",
        extra,
        Check(
            command=command,
            means=(
                f"what it installs is there, or {download.dest} is"
                if done_if
                else f"{download.dest} is there"
            ),
        ),
        downloads=(download,),
        shell=shell,
    )


def _guard(id: str, title: str, why: str, test: str, means: str, failure: str) -> Step:
    """A step that changes nothing: it passes when ``test`` does, else stops with ``failure``."""
    return _bash(
        id,
        title,
        why,
        (f"echo {sh_quote(failure)} >&2; exit 1",),
        Check(command=test, means=means),
    )


def _apt_or_dnf(target_os: TargetOs, packages: tuple[str, ...]) -> tuple[str, ...]:
    joined = " ".join(packages)
    if target_os.apt:
        return ("apt-get update", f"DEBIAN_FRONTEND=noninteractive apt-get install -y {joined}")
    return (f"dnf install -y {joined}",)


def _installed(target_os: TargetOs, packages: tuple[str, ...]) -> str:
    joined = " ".join(packages)
    if target_os.apt:
        return f"dpkg -s {joined} >/dev/null 2>&1"
    return f"rpm -q {joined} >/dev/null 2>&1"


def _ps_start(file: str, arguments: tuple[str, ...]) -> str:
    """Run a Windows installer, wait for it and pass its exit code on."""
    args = ",".join(ps_quote(a) for a in arguments)
    return (
        f"$p = Start-Process -Wait -PassThru -FilePath {ps_quote(file)} -ArgumentList {args}; "
        "if ($p.ExitCode -ne 0) { exit $p.ExitCode }"
    )


def _ps_test(condition: str) -> str:
    return f"if (-not ({condition})) {{ exit 1 }}"


def _no_version(name: str, version: str | None, what: str) -> None:
    if version is not None:
        raise InputError(
            f"{name} takes no --version here: {what}",
            hint="leave out --version",
        )


# -- driver -------------------------------------------------------------------------------------


def _driver_version(text: str | None, target_os: TargetOs) -> str:
    default = (
        vendor.DRIVER_DEFAULT_WINDOWS
        if target_os is TargetOs.WINDOWS
        else vendor.DRIVER_DEFAULT_LINUX
    )
    if text is None:
        return default
    parsed = DriverVersion.parse(text)
    if len(parsed.parts) < 2:
        raise InputError(
            f"malformed NVIDIA driver version {text!r}",
            hint=f"give the full version of the installer, e.g. {default}",
        )
    return parsed.text


def _driver(target_os: TargetOs, version: str | None, source: str) -> Plan:
    ver = _driver_version(version, target_os)
    if target_os is TargetOs.WINDOWS:
        return _driver_windows(ver)
    runfile = f"{LINUX_DOWNLOADS}/NVIDIA-Linux-x86_64-{ver}.run"
    loaded = f'test "$(cat /sys/module/nvidia/version 2>/dev/null)" = {ver}'
    if target_os.apt:
        tools: tuple[str, ...] = (
            "build-essential",
            "pciutils",
            "curl",
            '"linux-headers-$(uname -r)"',
        )
        initramfs = "update-initramfs -u"
    else:
        tools = ("gcc", "make", "pciutils", "curl", '"kernel-devel-$(uname -r)"', "kernel-headers")
        initramfs = "dracut --force"
    steps = (
        _bash(
            "build-tools",
            "Install the compiler, make, pciutils, curl and this kernel's headers",
            "The runfile builds the nvidia kernel module against the running kernel: it needs "
            "gcc, make and the headers of exactly that kernel"
            + (
                " (RHEL ships them as kernel-devel-$(uname -r) and kernel-headers)."
                if target_os.rhel
                else "."
            ),
            _apt_or_dnf(target_os, tools),
            Check(command=_installed(target_os, tools), means="those packages are installed"),
            needs_root=True,
        ),
        _guard(
            "pci-device",
            "Find the NVIDIA card on the PCI bus",
            "Nothing can be installed for a card the system does not see; a card that "
            "overheats or lacks power disappears from lspci.",
            f"lspci -d {vendor.NVIDIA_PCI_VENDOR}: | grep -q .",
            "lspci lists a device of vendor 10de (NVIDIA)",
            "no NVIDIA device on the PCI bus (lspci -d 10de:): seat the card, connect its "
            "power and cooling, then run apply again",
        ),
        _bash(
            "blacklist-nouveau",
            "Blacklist the nouveau driver and rebuild the initramfs",
            "nouveau, the open-source driver most distributions load by default, holds the "
            "GPU and makes the NVIDIA installer fail; it must not load at boot.",
            (initramfs,),
            Check(
                command=f"grep -qs '^blacklist nouveau' {vendor.NOUVEAU_BLACKLIST_FILE}",
                means=f"{vendor.NOUVEAU_BLACKLIST_FILE} blacklists nouveau",
            ),
            edits=(
                Edit(
                    file=vendor.NOUVEAU_BLACKLIST_FILE,
                    content=vendor.NOUVEAU_BLACKLIST,
                    why="keeps nouveau from loading (and from setting a mode) at boot",
                ),
            ),
            needs_root=True,
            reboot_after=True,
        ),
        _guard(
            "nouveau-unloaded",
            "Make sure nouveau is not loaded",
            "The blacklist takes effect at the next boot.",
            "! grep -q '^nouveau ' /proc/modules",
            "nouveau is not in /proc/modules",
            "nouveau is still loaded: reboot, then run apply again",
        ),
        _bash(
            "stop-display",
            "Stop the display manager (text mode)",
            "The installer refuses to replace a driver an X server is using; "
            "multi-user.target is what `telinit 3` selects and stops gdm3 on Ubuntu.",
            ("systemctl isolate multi-user.target",),
            Check(
                command="! systemctl is-active --quiet display-manager.service",
                means="no display manager is running",
            ),
            needs_root=True,
        ),
        download_step(
            "download-driver",
            f"Download the NVIDIA {ver} runfile",
            Download(
                url=vendor.DRIVER_RUNFILE_URL.format(v=ver),
                dest=runfile,
                checksum=None,
                published="NVIDIA publishes no checksum for driver runfiles; the runfile "
                "checks its embedded checksum (`--check` below, and again when it unpacks)",
            ),
            shell=Shell.BASH,
            done_if=loaded,
            extra=(f"sh {runfile} --check",),
        ),
        _bash(
            "install-driver",
            f"Install the NVIDIA {ver} driver",
            "--silent answers every question with its default and accepts the license "
            "(the book's 'choose the defaults').",
            (f"sh {runfile} --silent",),
            Check(command=loaded, means=f"the loaded nvidia module is {ver}"),
            needs_root=True,
        ),
        _bash(
            "nvidia-smi",
            "Check that nvidia-smi answers",
            "nvidia-smi talks to the loaded driver: its table shows the driver version, the "
            "newest CUDA it supports and every GPU.",
            ("nvidia-smi",),
            Check(command="nvidia-smi >/dev/null 2>&1", means="nvidia-smi answers"),
        ),
    )
    return Plan(
        component="driver",
        os=target_os,
        version=ver,
        source=source,
        steps=steps,
        notes=(
            "Run the plan from a text console or SSH: stop-display ends the graphical session.",
            "After blacklist-nouveau the machine must reboot; run apply again afterwards and "
            "it continues with the next step.",
        ),
        sources=(vendor.CUDA_LINUX_GUIDE, vendor.DRIVER_DOWNLOAD_PAGE),
    )


def _driver_windows(ver: str) -> Plan:
    installer = WINDOWS_DOWNLOADS + "\\" + vendor.DRIVER_WINDOWS_URL.format(v=ver).rsplit("/", 1)[1]
    answers = (
        "(nvidia-smi --query-gpu=driver_version --format=csv,noheader | "
        f"Select-Object -First 1) -eq {ps_quote(ver)}"
    )
    steps = (
        download_step(
            "download-driver",
            f"Download the NVIDIA {ver} driver installer",
            Download(
                url=vendor.DRIVER_WINDOWS_URL.format(v=ver),
                dest=installer,
                checksum=None,
                published="NVIDIA publishes no checksum for driver installers; they are "
                "Authenticode-signed by NVIDIA",
            ),
            shell=Shell.POWERSHELL,
            done_if=answers,
        ),
        _ps(
            "install-driver",
            f"Install the NVIDIA {ver} driver silently",
            "-s installs without questions (license accepted), -noreboot leaves the restart "
            "to you.",
            (_ps_start(installer, ("-s", "-noreboot")),),
            Check(command=_ps_test(answers), means=f"nvidia-smi reports driver {ver}"),
            needs_root=True,
        ),
        _ps(
            "nvidia-smi",
            "Check that nvidia-smi answers",
            "nvidia-smi shows the driver version, the newest CUDA it supports and every GPU.",
            ("nvidia-smi",),
            Check(command="nvidia-smi | Out-Null; exit $LASTEXITCODE", means="nvidia-smi answers"),
        ),
    )
    return Plan(
        component="driver",
        os=TargetOs.WINDOWS,
        version=ver,
        source="nvidia",
        steps=steps,
        notes=(
            "Run from an Administrator PowerShell.",
            "This is the data-center (Tesla) installer; for a GeForce or RTX card pick its "
            f"installer on {vendor.DRIVER_DOWNLOAD_PAGE} and run it with the same -s -noreboot.",
        ),
        sources=(vendor.DRIVER_DOWNLOAD_PAGE,),
    )


# -- CUDA toolkit -------------------------------------------------------------------------------

_CUDA_VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")

LD_LIBRARY_PATH_WHY = (
    "Only PATH is set, for nvcc. Do not add /usr/local/cuda-{mm}/lib64 to LD_LIBRARY_PATH: "
    "it outranks the CUDA libraries pip-installed PyTorch carries (nvidia-* wheels found "
    "through its RUNPATH), so torch loads this toolkit's older libnvJitLink and fails with "
    "`undefined symbol: __nvJitLinkAddData_12_1, version libnvJitLink.so.12`. A program built "
    "against this toolkit that needs its libraries at run time should get LD_LIBRARY_PATH "
    "from its own environment's activation script ($CONDA_PREFIX/etc/conda/activate.d/), "
    "not from ~/.bashrc."
)


def _cuda_release(version: str | None) -> vendor.CudaRelease:
    text = version or vendor.CUDA_DEFAULT
    if not _CUDA_VERSION_RE.match(text):
        raise InputError(
            f"malformed CUDA version {text!r}",
            hint="give MAJOR.MINOR.PATCH as NVIDIA's archive names it, e.g. 12.0.1",
        )
    release = vendor.CUDA_RELEASES.get(text)
    if release is None:
        raise InputError(
            f"no installer known for CUDA {text}",
            hint="torchlock knows: " + ", ".join(vendor.CUDA_RELEASES),
        )
    return release


def _cuda(target_os: TargetOs, version: str | None, source: str) -> Plan:
    release = _cuda_release(version)
    major = release.version.split(".")[0]
    linux_min, windows_min = vendor.CUDA_FAMILY_MIN_DRIVER[major]
    if target_os is TargetOs.WINDOWS:
        return _cuda_windows(release, windows_min)
    mm = release.major_minor
    root = f"/usr/local/cuda-{mm}"
    runfile = f"{LINUX_DOWNLOADS}/{release.linux_file}"
    installed = f"test -x {root}/bin/nvcc"
    driver_ok = (
        "v=$(cat /sys/module/nvidia/version 2>/dev/null) && "
        f'[ "$(printf \'%s\\n\' {linux_min} "$v" | sort -V | head -n1)" = {linux_min} ]'
    )
    bashrc = "$HOME/.bashrc"
    steps = (
        _guard(
            "driver-present",
            f"Make sure an NVIDIA driver >= {linux_min} is loaded",
            f"The toolkit is installed without its bundled driver; CUDA {major}.x runs on any "
            f"driver from {linux_min} on (minor version compatibility).",
            driver_ok,
            f"the loaded nvidia module is {linux_min} or newer",
            f"CUDA {release.version} needs an NVIDIA driver >= {linux_min}: run "
            "`torchlock system apply driver --yes` first",
        ),
        download_step(
            "download-cuda",
            f"Download the CUDA {release.version} runfile",
            Download(
                url=f"{release.base}/local_installers/{release.linux_file}",
                dest=runfile,
                checksum=Checksum(algorithm="md5", list_url=release.md5_list),
                published=f"NVIDIA publishes the installers' md5 in {release.md5_list}",
            ),
            shell=Shell.BASH,
            done_if=installed,
        ),
        _bash(
            "install-cuda",
            f"Install the CUDA {release.version} toolkit (without the driver)",
            "--silent accepts the license and asks nothing; --toolkit installs only the "
            "toolkit, the same as deselecting 'Driver' in the interactive installer.",
            (f"sh {runfile} --silent --toolkit",),
            Check(command=installed, means=f"{root}/bin/nvcc exists"),
            needs_root=True,
        ),
        _bash(
            "cuda-path",
            f"Put {root}/bin on PATH (and not lib64 on LD_LIBRARY_PATH)",
            LD_LIBRARY_PATH_WHY.format(mm=mm),
            (),
            Check(
                command=f"grep -qsF '# torchlock: cuda-path' {sh_quote(bashrc)}",
                means="~/.bashrc already has the block",
            ),
            edits=(
                Edit(
                    file=bashrc,
                    content=f"export PATH={root}/bin${{PATH:+:${{PATH}}}}\n",
                    why="nvcc on PATH for new shells; no LD_LIBRARY_PATH (see why)",
                    append=True,
                ),
            ),
        ),
        _bash(
            "nvcc",
            "Check that nvcc reports the toolkit",
            f"`nvcc --version` must say release {mm}.",
            (f"{root}/bin/nvcc --version",),
            Check(
                command=f"{root}/bin/nvcc --version | grep -q 'release {mm}'",
                means=f"nvcc says release {mm}",
            ),
        ),
    )
    return Plan(
        component="cuda",
        os=target_os,
        version=release.version,
        source=source,
        steps=steps,
        notes=(
            "pip-installed PyTorch brings its own CUDA libraries: the toolkit is only needed "
            "to compile CUDA code (extensions, nvcc).",
            "Open a new shell (or `source ~/.bashrc`) for PATH to take effect.",
        ),
        sources=(release.archive_page, vendor.CUDA_LINUX_GUIDE, release.md5_list),
    )


def _cuda_windows(release: vendor.CudaRelease, windows_min: str) -> Plan:
    mm = release.major_minor
    installer = f"{WINDOWS_DOWNLOADS}\\{release.windows_file}"
    nvcc = f"$env:ProgramFiles\\NVIDIA GPU Computing Toolkit\\CUDA\\v{mm}\\bin\\nvcc.exe"
    installed = f"Test-Path {ps_quote(nvcc)}"
    names = vendor.CUDA_WINDOWS_SUBPACKAGES + vendor.CUDA_WINDOWS_SUBPACKAGES_BY_MAJOR.get(
        release.version.split(".")[0], ()
    )
    subpackages = tuple(f"{name}_{mm}" for name in names)
    driver_ok = (
        "[version](nvidia-smi --query-gpu=driver_version --format=csv,noheader | "
        f"Select-Object -First 1) -ge [version]{ps_quote(windows_min)}"
    )
    steps = (
        _ps(
            "driver-present",
            f"Make sure an NVIDIA driver >= {windows_min} is installed",
            "The toolkit is installed without its bundled display driver.",
            (
                f"Write-Error 'CUDA {release.version} needs an NVIDIA driver >= {windows_min}: "
                "run torchlock system apply driver --yes first'; exit 1",
            ),
            Check(command=_ps_test(driver_ok), means=f"nvidia-smi reports {windows_min} or newer"),
        ),
        download_step(
            "download-cuda",
            f"Download the CUDA {release.version} installer",
            Download(
                url=f"{release.base}/local_installers/{release.windows_file}",
                dest=installer,
                checksum=Checksum(algorithm="md5", list_url=release.md5_list),
                published=f"NVIDIA publishes the installers' md5 in {release.md5_list}",
            ),
            shell=Shell.POWERSHELL,
            done_if=installed,
        ),
        _ps(
            "install-cuda",
            f"Install the CUDA {release.version} toolkit silently, without the driver",
            "-s installs silently; naming the toolkit subpackages leaves out Display.Driver. "
            "The installer sets CUDA_PATH and puts the toolkit's bin on PATH.",
            (_ps_start(installer, ("-s", *subpackages)),),
            Check(command=_ps_test(installed), means="nvcc.exe exists"),
            needs_root=True,
        ),
        _ps(
            "nvcc",
            "Check that nvcc reports the toolkit",
            f"`nvcc -V` must say release {mm}.",
            (f"& {ps_quote(nvcc)} --version",),
            Check(
                command=_ps_test(f"(& {ps_quote(nvcc)} --version) -match 'release {mm}'"),
                means=f"nvcc says release {mm}",
            ),
        ),
    )
    return Plan(
        component="cuda",
        os=TargetOs.WINDOWS,
        version=release.version,
        source="nvidia",
        steps=steps,
        notes=("Run from an Administrator PowerShell; open a new one afterwards for PATH.",),
        sources=(release.archive_page, vendor.CUDA_WINDOWS_GUIDE, release.md5_list),
    )


# -- conda --------------------------------------------------------------------------------------

_MINIFORGE_RE = re.compile(r"^\d+\.\d+\.\d+-\d+$")
_ANACONDA_RE = re.compile(r"^\d{4}\.\d{2}(?:\.\d+)?-\d+$")


def _conda(target_os: TargetOs, version: str | None, source: str) -> Plan:
    windows = target_os is TargetOs.WINDOWS
    if source == "miniforge":
        version = version or vendor.MINIFORGE_DEFAULT
        if not _MINIFORGE_RE.match(version):
            raise InputError(
                f"malformed Miniforge version {version!r}",
                hint=f"give a release tag of {vendor.MINIFORGE_PAGE}, e.g. "
                + vendor.MINIFORGE_DEFAULT,
            )
        # Only the versioned installer has a .sha256 next to it (see vendor.py).
        file = f"Miniforge3-{version}-" + ("Windows-x86_64.exe" if windows else "Linux-x86_64.sh")
        url = vendor.MINIFORGE_TAGGED.format(version=version, file=file)
        checksum: Checksum | None = Checksum(
            algorithm="sha256", list_url=url + ".sha256", single=True
        )
        published = f"conda-forge publishes {file}.sha256 next to the installer"
        prefix_name = "miniforge3"
        label = f"Miniforge {version}"
    else:
        version = version or vendor.ANACONDA_DEFAULT
        if not _ANACONDA_RE.match(version):
            raise InputError(
                f"malformed Anaconda version {version!r}",
                hint=f"give a release of {vendor.ANACONDA_ARCHIVE}, e.g. 2023.09-0",
            )
        file = f"Anaconda3-{version}-{'Windows' if windows else 'Linux'}-x86_64.exe"
        if not windows:
            file = file.removesuffix(".exe") + ".sh"
        url = vendor.ANACONDA_URL.format(file=file)
        checksum = None
        published = (
            f"Anaconda lists each installer's SHA-256 on {vendor.ANACONDA_ARCHIVE} "
            "(an HTML page, not a checksum file): compare it by hand"
        )
        prefix_name = "anaconda3"
        label = f"Anaconda {version}"
    if windows:
        return _conda_windows(source, version, file, url, checksum, published, prefix_name, label)
    prefix = f"$HOME/{prefix_name}"
    conda = f"{prefix}/bin/conda"
    installer = f"{LINUX_DOWNLOADS}/{file}"
    installed = f"test -x {sh_quote(conda)}"
    steps = (
        download_step(
            "download-conda",
            f"Download the {label} installer",
            Download(url=url, dest=installer, checksum=checksum, published=published),
            shell=Shell.BASH,
            done_if=installed,
        ),
        _bash(
            "install-conda",
            f"Install {label} into ~/{prefix_name}, for this user, without sudo",
            "-b is batch mode (no license pager, no prompts; the license is accepted by using "
            "it), -p chooses the prefix; conda belongs to the user, never to root.",
            (f"bash {installer} -b -p {sh_quote(prefix)}",),
            Check(command=installed, means=f"~/{prefix_name}/bin/conda exists"),
        ),
        _bash(
            "conda-init",
            "Let new bash shells find conda (conda init)",
            "What the installer's last question ('initialize conda?') does: a block in "
            "~/.bashrc; open a new shell or reconnect afterwards.",
            (f"{sh_quote(conda)} init bash",),
            Check(
                command="grep -qs '>>> conda initialize >>>' \"$HOME/.bashrc\"",
                means="~/.bashrc has conda's initialize block",
            ),
        ),
    )
    return Plan(
        component="conda",
        os=target_os,
        version=version,
        source=source,
        steps=steps,
        notes=("Check with `conda -V` in a new shell.",),
        sources=(
            vendor.MINIFORGE_PAGE if source == "miniforge" else vendor.ANACONDA_ARCHIVE,
            "https://docs.anaconda.com/anaconda/install/silent-mode/",
        ),
    )


def _conda_windows(
    source: str,
    version: str | None,
    file: str,
    url: str,
    checksum: Checksum | None,
    published: str,
    prefix_name: str,
    label: str,
) -> Plan:
    prefix = f"$env:UserProfile\\{prefix_name}"
    conda = f"{prefix}\\Scripts\\conda.exe"
    installer = f"{WINDOWS_DOWNLOADS}\\{file}"
    installed = f"Test-Path {ps_quote(conda)}"
    steps = (
        download_step(
            "download-conda",
            f"Download the {label} installer",
            Download(url=url, dest=installer, checksum=checksum, published=published),
            shell=Shell.POWERSHELL,
            done_if=installed,
        ),
        _ps(
            "install-conda",
            f"Install {label} for this user, silently",
            "/S is silent mode, /InstallationType=JustMe installs for this user only, "
            "/RegisterPython=0 leaves the system's default Python alone, /D= (last) is the "
            "prefix.",
            (
                _ps_start(
                    installer,
                    ("/InstallationType=JustMe", "/RegisterPython=0", "/S", f"/D={prefix}"),
                ),
            ),
            Check(command=_ps_test(installed), means=f"{prefix_name}\\Scripts\\conda.exe exists"),
        ),
        _ps(
            "conda-init",
            "Let new PowerShell sessions find conda (conda init)",
            "Instead of adding the install folder and its Scripts to PATH by hand.",
            (f"& {ps_quote(conda)} init powershell",),
            Check(
                command=_ps_test(
                    "Select-String -Quiet -SimpleMatch -Path $PROFILE "
                    "-Pattern 'conda initialize' -ErrorAction SilentlyContinue"
                ),
                means="the PowerShell profile has conda's initialize block",
            ),
        ),
    )
    return Plan(
        component="conda",
        os=TargetOs.WINDOWS,
        version=version,
        source=source,
        steps=steps,
        notes=("Check with `conda --version` and `conda info --envs` in a new PowerShell.",),
        sources=(
            vendor.MINIFORGE_PAGE if source == "miniforge" else vendor.ANACONDA_ARCHIVE,
            "https://docs.anaconda.com/anaconda/install/silent-mode/",
        ),
    )


# -- nginx --------------------------------------------------------------------------------------

_NGINX_VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


def _nginx_version(
    text: str | None, default: str = vendor.NGINX_DEFAULT
) -> tuple[str, tuple[int, int, int]]:
    value = text or default
    match = _NGINX_VERSION_RE.match(value)
    if match is None:
        raise InputError(
            f"malformed nginx version {value!r}",
            hint=f"give MAJOR.MINOR.PATCH, e.g. {vendor.NGINX_DEFAULT}",
        )
    parts = (int(match.group(1)), int(match.group(2)), int(match.group(3)))
    if parts < vendor.NGINX_FAIL_BELOW:
        raise InputError(
            f"nginx {value} is known to be vulnerable (CVE-2021-23017)",
            hint=f"use a maintained release, e.g. {vendor.NGINX_DEFAULT}; see "
            + vendor.NGINX_SECURITY_PAGE,
        )
    return value, parts


def nginx_check(version: str | None) -> str:
    """A bash test: nginx is installed (and is ``version`` when given)."""
    if version is None:
        return "test -x /usr/sbin/nginx"
    return f"/usr/sbin/nginx -v 2>&1 | grep -qF 'nginx/{version}'"


def _nginx(target_os: TargetOs, version: str | None, source: str) -> Plan:
    if source == "distro":
        return _nginx_distro(target_os, version)
    ver, parts = _nginx_version(
        version,
        vendor.NGINX_LAST_FOCAL if target_os is TargetOs.UBUNTU_2004 else vendor.NGINX_DEFAULT,
    )
    mainline = parts[1] % 2 == 1  # odd minor versions are nginx's mainline branch
    if target_os is TargetOs.WINDOWS:
        return _nginx_windows(ver)
    installed = nginx_check(ver)
    if target_os.apt:
        distro = "ubuntu" if target_os.ubuntu else "debian"
        keyring_pkg = "ubuntu-keyring" if target_os.ubuntu else "debian-archive-keyring"
        prereqs = ("curl", "gnupg2", "ca-certificates", "lsb-release", keyring_pkg)
        path = f"mainline/{distro}" if mainline else distro
        key_part = vendor.NGINX_KEYRING + ".part"
        steps: tuple[Step, ...] = (
            _bash(
                "prerequisites",
                "Install curl, gnupg2, ca-certificates, lsb-release and the archive keyring",
                "What nginx.org's instructions need to fetch and check its signing key.",
                _apt_or_dnf(target_os, prereqs),
                Check(command=_installed(target_os, prereqs), means="they are installed"),
                needs_root=True,
            ),
            _bash(
                "signing-key",
                "Import nginx.org's signing key and check its fingerprint",
                "apt accepts packages from nginx.org only when signed with this key; the "
                f"fingerprint must be {vendor.NGINX_KEY_FINGERPRINT}.",
                (
                    f"curl -fsSL {vendor.NGINX_SIGNING_KEY} | gpg --dearmor > {key_part}",
                    f"gpg --dry-run --quiet --no-keyring --import --import-options import-show "
                    f"{key_part} | grep -q {vendor.NGINX_KEY_FINGERPRINT}",
                    f"mv -f {key_part} {vendor.NGINX_KEYRING}",
                ),
                Check(command=f"test -s {vendor.NGINX_KEYRING}", means="the keyring is there"),
                downloads=(),
                needs_root=True,
            ),
            _bash(
                "repository",
                f"Add nginx.org's {'mainline' if mainline else 'stable'} apt repository and "
                "prefer it",
                f"The distribution's nginx is older ({target_os.value} ships "
                + ("1.18, vulnerable" if target_os.ubuntu else "its own build")
                + "); the pin makes apt take nginx.org's packages over it.",
                (),
                Check(
                    command="grep -qsF nginx.org/packages /etc/apt/sources.list.d/nginx.list "
                    "&& test -f /etc/apt/preferences.d/99nginx",
                    means="the source list and the pin are there",
                ),
                edits=(
                    Edit(
                        file="/etc/apt/sources.list.d/nginx.list",
                        content=f"deb [signed-by={vendor.NGINX_KEYRING}] "
                        f"{vendor.NGINX_PACKAGES}/{path} {target_os.codename} nginx\n",
                        why="nginx.org's repository, trusted only with its own key",
                    ),
                    Edit(
                        file="/etc/apt/preferences.d/99nginx",
                        content="Package: *\nPin: origin nginx.org\nPin: release o=nginx\n"
                        "Pin-Priority: 900\n",
                        why="prefer nginx.org's packages over the distribution's",
                    ),
                ),
                needs_root=True,
            ),
            _bash(
                "install-nginx",
                f"Install nginx {ver} from nginx.org",
                "Pinned to the exact release so a later upgrade is a decision, not an accident.",
                (
                    "apt-get update",
                    "DEBIAN_FRONTEND=noninteractive apt-get install -y "
                    f"nginx={ver}-1~{target_os.codename}",
                ),
                Check(command=installed, means=f"nginx -v says {ver}"),
                needs_root=True,
            ),
        )
    else:
        key = f"{LINUX_DOWNLOADS}/nginx_signing.key"
        stable = "nginx-mainline" if mainline else "nginx-stable"
        base = "mainline/centos" if mainline else "centos"
        steps = (
            _bash(
                "prerequisites",
                "Install yum-utils",
                "nginx.org's instructions for RHEL and derivatives start with it.",
                ("dnf install -y yum-utils",),
                Check(command=_installed(target_os, ("yum-utils",)), means="it is installed"),
                needs_root=True,
            ),
            _bash(
                "signing-key",
                "Import nginx.org's signing key after checking its fingerprint",
                "dnf would import the key without showing it; checking the fingerprint "
                f"({vendor.NGINX_KEY_FINGERPRINT}) first is what the prompt asks a person to do.",
                (
                    f"mkdir -p {LINUX_DOWNLOADS}",
                    f"curl -fsSL -o {key} {vendor.NGINX_SIGNING_KEY}",
                    f"gpg --show-keys --with-colons {key} | "
                    f"grep -q ':{vendor.NGINX_KEY_FINGERPRINT}:'",
                    f"rpm --import {key}",
                ),
                Check(
                    command="rpm -q gpg-pubkey --qf '%{VERSION}\\n' | grep -qi "
                    + vendor.NGINX_KEY_FINGERPRINT[-8:].lower(),
                    means="rpm knows the key",
                ),
                needs_root=True,
            ),
            _bash(
                "repository",
                f"Add nginx.org's {'mainline' if mainline else 'stable'} yum repository",
                "module_hotfixes=true lets these packages replace the AppStream nginx module.",
                (),
                Check(
                    command="grep -qsF nginx.org/packages /etc/yum.repos.d/nginx.repo",
                    means="the repository file is there",
                ),
                edits=(
                    Edit(
                        file="/etc/yum.repos.d/nginx.repo",
                        content=f"[{stable}]\nname=nginx {stable.split('-')[1]} repo\n"
                        f"baseurl={vendor.NGINX_PACKAGES}/{base}/$releasever/$basearch/\n"
                        "gpgcheck=1\nenabled=1\n"
                        f"gpgkey={vendor.NGINX_SIGNING_KEY}\nmodule_hotfixes=true\n",
                        why="nginx.org's repository with signature checks",
                    ),
                ),
                needs_root=True,
            ),
            _bash(
                "install-nginx",
                f"Install nginx {ver} from nginx.org",
                "Pinned to the exact release.",
                (f"dnf install -y nginx-{ver}",),
                Check(command=installed, means=f"nginx -v says {ver}"),
                needs_root=True,
            ),
        )
    return Plan(
        component="nginx",
        os=target_os,
        version=ver,
        source="nginx.org",
        steps=steps,
        notes=(
            "Start it with `systemctl enable --now nginx` once configured.",
            f"Security advisories: {vendor.NGINX_SECURITY_PAGE}",
            *(
                (
                    "nginx.org dropped Ubuntu 20.04 in June 2025: its focal repository ends at "
                    f"{vendor.NGINX_LAST_FOCAL}, so a later --version has no build there, and "
                    "that build is affected by the 2026 advisories (CVE-2026-1642, "
                    "CVE-2026-27654): move the host to Ubuntu 22.04 or newer.",
                )
                if target_os is TargetOs.UBUNTU_2004
                else ()
            ),
        ),
        sources=(vendor.NGINX_PACKAGES_PAGE, vendor.NGINX_SECURITY_PAGE),
    )


def _nginx_distro(target_os: TargetOs, version: str | None) -> Plan:
    _no_version("nginx --source distro", version, "the distribution decides the version")
    if target_os.ubuntu:
        raise InputError(
            f"{target_os.value}'s own nginx is 1.18, known to be vulnerable",
            hint="use --source nginx.org (the default)",
        )
    if target_os is TargetOs.WINDOWS:
        raise InputError(
            "Windows has no distribution nginx", hint="use --source nginx.org (the default)"
        )
    steps = (
        _bash(
            "install-nginx",
            "Install the distribution's nginx",
            "The distribution backports security fixes into its own version.",
            _apt_or_dnf(target_os, ("nginx",)),
            Check(
                command=_installed(target_os, ("nginx",)), means="the nginx package is installed"
            ),
            needs_root=True,
        ),
    )
    return Plan(
        component="nginx",
        os=target_os,
        version=None,
        source="distro",
        steps=steps,
        notes=("Check with `nginx -v`.",),
        sources=(vendor.NGINX_PACKAGES_PAGE,),
    )


def _nginx_windows(ver: str) -> Plan:
    archive = f"{WINDOWS_DOWNLOADS}\\nginx-{ver}.zip"
    exe = f"{NGINX_WINDOWS_ROOT}\\nginx-{ver}\\nginx.exe"
    installed = f"Test-Path {ps_quote(exe)}"
    steps = (
        download_step(
            "download-nginx",
            f"Download nginx/Windows-{ver}",
            Download(
                url=vendor.NGINX_ZIP_URL.format(v=ver),
                dest=archive,
                checksum=None,
                published=f"nginx.org publishes a PGP signature (nginx-{ver}.zip.asc) on "
                f"{vendor.NGINX_DOWNLOAD_PAGE}, no checksum",
            ),
            shell=Shell.POWERSHELL,
            done_if=installed,
        ),
        _ps(
            "install-nginx",
            f"Unpack nginx {ver} into C:\\nginx",
            "nginx for Windows is a zip archive: unpacking it is the installation.",
            (
                f"Expand-Archive -Force -Path {ps_quote(archive)} "
                f"-DestinationPath {ps_quote(NGINX_WINDOWS_ROOT)}",
            ),
            Check(command=_ps_test(installed), means="nginx.exe is there"),
        ),
    )
    return Plan(
        component="nginx",
        os=TargetOs.WINDOWS,
        version=ver,
        source="nginx.org",
        steps=steps,
        notes=(f"Start it with `start nginx` in C:\\nginx\\nginx-{ver}.",),
        sources=(vendor.NGINX_DOWNLOAD_PAGE, "https://nginx.org/en/docs/windows.html"),
    )


# -- Git ----------------------------------------------------------------------------------------


def _git(target_os: TargetOs, version: str | None, source: str) -> Plan:
    _no_version("git", version, "Git comes from the distribution (winget on Windows)")
    if target_os is TargetOs.WINDOWS:
        steps: tuple[Step, ...] = (
            _ps(
                "install-git",
                "Install Git for Windows with winget",
                "winget installs the Git for Windows release git-scm.com links to; the "
                "agreement flags replace its prompts.",
                (
                    "winget install --id Git.Git -e --source winget "
                    "--accept-package-agreements --accept-source-agreements",
                ),
                Check(
                    command=_ps_test("Get-Command git -ErrorAction SilentlyContinue"),
                    means="git is on PATH",
                ),
            ),
        )
        return Plan(
            component="git",
            os=target_os,
            version=None,
            source="winget",
            steps=steps,
            notes=("Open a new PowerShell and check with `git --version`.",),
            sources=(vendor.GIT_WINDOWS_PAGE,),
        )
    steps = (
        _bash(
            "install-git",
            "Install Git from the distribution",
            "Most installations have it already; then this step is skipped.",
            _apt_or_dnf(target_os, ("git",)),
            Check(command="command -v git >/dev/null", means="git is on PATH"),
            needs_root=True,
        ),
    )
    return Plan(
        component="git",
        os=target_os,
        version=None,
        source=source,
        steps=steps,
        notes=("Check with `git --version`.",),
        sources=(vendor.GIT_LINUX_PAGE,),
    )
