"""``torchlock doctor``: what is wrong with a host, and the fix for each finding.

:func:`gather` reads the host through the seams it is given (runner, file reader,
program finder, disk usage) into :class:`DoctorInputs`; :func:`run_checks` is pure
and turns those into pass / warn / fail findings.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable
from typing import Any

from msgspec import Struct

from torchlock.system import vendor
from torchlock.system.files import ReadText, Which
from torchlock.system.model import DriverStatus, HostReport
from torchlock.system.runner import Completed, Runner
from torchlock.target import OS

DiskFree = Callable[[str], int | None]  # free bytes at a path, None when it cannot be read

GIB = 1024**3
DISK_WARN_BYTES = 20 * GIB  # a CUDA build of torch with its nvidia-* wheels takes 5-10 GiB
DISK_FAIL_BYTES = 5 * GIB


class Status(enum.Enum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


class Finding(Struct, frozen=True, kw_only=True):
    id: str
    title: str
    status: Status
    detail: str
    fix: str | None = None


class DoctorInputs(Struct, frozen=True, kw_only=True):
    report: HostReport
    lspci: str | None  # lspci's output; None when lspci is not there
    proc_modules: str | None  # /proc/modules (what lsmod prints)
    nginx: str | None  # what `nginx -v` printed (stderr); None when not installed
    git: str | None  # `git --version`; None when not installed
    disk_path: str
    disk_free: int | None


# -- parsers ------------------------------------------------------------------------------------

_PCI_CLASSES = ("vga compatible controller", "3d controller", "display controller")


def parse_lspci_nvidia(text: str) -> tuple[str, ...]:
    """The NVIDIA display devices in ``lspci`` output (its audio and USB functions left out)."""
    found = []
    for line in text.splitlines():
        lowered = line.lower()
        if ("nvidia" in lowered or "10de:" in lowered) and any(c in lowered for c in _PCI_CLASSES):
            found.append(line.strip())
    return tuple(found)


def loaded_modules(text: str) -> frozenset[str]:
    """Module names from /proc/modules (or lsmod output: its header line is no module)."""
    names = set()
    for line in text.splitlines():
        name = line.split(" ", 1)[0].strip()
        if name and name != "Module":
            names.add(name)
    return frozenset(names)


_NGINX_RE = re.compile(r"nginx/(\d+)\.(\d+)\.(\d+)")


def parse_nginx_version(text: str) -> tuple[int, int, int] | None:
    """The version from ``nginx -v`` ("nginx version: nginx/1.18.0 (Ubuntu)")."""
    match = _NGINX_RE.search(text)
    if match is None:
        return None
    return (int(match.group(1)), int(match.group(2)), int(match.group(3)))


def nginx_advisories(version: tuple[int, int, int]) -> tuple[vendor.Advisory, ...]:
    """The advisories of :data:`vendor.NGINX_ADVISORIES` that affect ``version``."""
    hits = []
    for advisory in vendor.NGINX_ADVISORIES:
        same_branch = [fix for fix in advisory.fixed_in if fix[:2] == version[:2]]
        affected = version < (same_branch[0] if same_branch else min(advisory.fixed_in))
        if affected:
            hits.append(advisory)
    return tuple(hits)


def _major_minor(text: str) -> tuple[int, int] | None:
    match = re.match(r"^(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else None


# -- checks -------------------------------------------------------------------------------------


def _pci(inputs: DoctorInputs) -> Finding:
    title = "NVIDIA device on the PCI bus"
    if inputs.lspci is None:
        return Finding(
            id="pci-device",
            title=title,
            status=Status.WARN,
            detail="lspci is not installed; the PCI bus was not looked at",
            fix="install pciutils (apt-get install pciutils / dnf install pciutils)",
        )
    devices = parse_lspci_nvidia(inputs.lspci)
    if devices:
        return Finding(id="pci-device", title=title, status=Status.PASS, detail="; ".join(devices))
    return Finding(
        id="pci-device",
        title=title,
        status=Status.WARN,
        detail="lspci shows no NVIDIA device: PyTorch will run on the CPU only",
        fix="if a card is fitted: seat it, connect its power and keep it cool (a passive "
        "data-center card without airflow disappears from the bus)",
    )


def _has_device(inputs: DoctorInputs) -> bool | None:
    if inputs.lspci is None:
        return None
    return bool(parse_lspci_nvidia(inputs.lspci))


def _nouveau(inputs: DoctorInputs) -> Finding:
    title = "nouveau not loaded"
    if inputs.proc_modules is None:
        return Finding(
            id="nouveau",
            title=title,
            status=Status.PASS,
            detail="no /proc/modules to read (not Linux?)",
        )
    if "nouveau" in loaded_modules(inputs.proc_modules):
        return Finding(
            id="nouveau",
            title=title,
            status=Status.FAIL,
            detail="the nouveau driver is loaded and holds the GPU; the NVIDIA driver "
            "cannot be installed or loaded next to it",
            fix=f"blacklist it in {vendor.NOUVEAU_BLACKLIST_FILE}, rebuild the initramfs and "
            "reboot: `torchlock system apply driver --yes` does these steps",
        )
    return Finding(id="nouveau", title=title, status=Status.PASS, detail="not in /proc/modules")


def _driver(inputs: DoctorInputs) -> Finding:
    title = "NVIDIA driver loaded and answering (nvidia-smi)"
    driver = inputs.report.driver
    device = _has_device(inputs)
    if driver.status is DriverStatus.OK:
        if not inputs.report.gpus:
            return Finding(
                id="driver",
                title=title,
                status=Status.FAIL,
                detail=f"driver {driver.version} is loaded but nvidia-smi lists no GPU"
                + (f" ({driver.detail})" if driver.detail else ""),
                fix="check that the card is seated, powered and cool (`lspci -d 10de:`), read "
                "`dmesg | grep NVRM`, and that this driver supports the card",
            )
        gpus = ", ".join(gpu.name for gpu in inputs.report.gpus) or "no GPU"
        cuda = f", CUDA {driver.cuda}" if driver.cuda else ""
        return Finding(
            id="driver",
            title=title,
            status=Status.PASS,
            detail=f"driver {driver.version}{cuda}; {gpus}",
        )
    if driver.status is DriverStatus.BROKEN:
        detail = driver.detail or "nvidia-smi fails"
        if "no devices were found" in detail.lower():
            fix = (
                "the driver answers but sees no GPU: check the card (`lspci -d 10de:`), "
                "`dmesg | grep NVRM`, and that this driver supports it"
            )
        else:
            fix = (
                "the driver is installed but not loaded (a kernel update without a rebuilt "
                "module, or nouveau in the way): reinstall it with `torchlock system apply "
                "driver --yes`, or rebuild it with dkms, then reboot"
            )
        return Finding(id="driver", title=title, status=Status.FAIL, detail=detail, fix=fix)
    if device:
        return Finding(
            id="driver",
            title=title,
            status=Status.FAIL,
            detail="an NVIDIA device is on the PCI bus but no NVIDIA driver is installed",
            fix="`torchlock system plan driver` shows the steps; `torchlock system apply "
            "driver --yes` runs them",
        )
    return Finding(
        id="driver",
        title=title,
        status=Status.WARN,
        detail=driver.detail or "no NVIDIA driver",
        fix="install one only if the host has an NVIDIA GPU: `torchlock system apply driver --yes`",
    )


def _nvcc(inputs: DoctorInputs) -> Finding:
    title = "CUDA toolkit (nvcc) against the driver's CUDA"
    toolkit = inputs.report.toolkit
    driver = inputs.report.driver
    if toolkit is None:
        return Finding(
            id="nvcc",
            title=title,
            status=Status.PASS,
            detail="no nvcc: not needed by pip-installed PyTorch (it brings its own CUDA "
            "libraries); only to compile CUDA code",
        )
    if driver.cuda is None:
        return Finding(
            id="nvcc",
            title=title,
            status=Status.WARN,
            detail=f"nvcc {toolkit.version} at {toolkit.path}; the driver's CUDA is unknown",
            fix="install or repair the NVIDIA driver so nvidia-smi reports its CUDA version",
        )
    tk, dr = _major_minor(toolkit.version), _major_minor(driver.cuda)
    if tk is not None and dr is not None and tk > dr:
        if tk[0] == dr[0]:
            detail = (
                f"nvcc {toolkit.version} is newer than the driver's CUDA {driver.cuda}: it "
                "works only through minor version compatibility (PTX JIT and features "
                "beyond the driver fail)"
            )
            status = Status.WARN
        else:
            detail = (
                f"nvcc {toolkit.version} is newer than the driver's CUDA {driver.cuda}: "
                "programs it builds will not run"
            )
            status = Status.FAIL
        return Finding(
            id="nvcc",
            title=title,
            status=status,
            detail=detail,
            fix=f"install a toolkit no newer than CUDA {driver.cuda} "
            "(`torchlock system apply cuda --version X --yes`), or upgrade the driver",
        )
    return Finding(
        id="nvcc",
        title=title,
        status=Status.PASS,
        detail=f"nvcc {toolkit.version}, driver supports CUDA {driver.cuda}",
    )


def _ld_library_path(inputs: DoctorInputs) -> Finding:
    title = "LD_LIBRARY_PATH without CUDA libraries"
    paths = inputs.report.cuda_library_paths
    if not paths:
        return Finding(id="ld-library-path", title=title, status=Status.PASS, detail="none")
    return Finding(
        id="ld-library-path",
        title=title,
        status=Status.WARN,
        detail="LD_LIBRARY_PATH holds CUDA libraries: "
        + ", ".join(paths)
        + "; they outrank the ones pip-installed PyTorch carries (the `undefined symbol: "
        "__nvJitLinkAddData_12_1` error)",
        fix="remove those entries from ~/.bashrc (keep the toolkit's bin on PATH); set "
        "LD_LIBRARY_PATH only in the activation script of an environment that needs it",
    )


def _disk(inputs: DoctorInputs) -> Finding:
    title = "free disk for environments"
    free = inputs.disk_free
    if free is None:
        return Finding(
            id="disk",
            title=title,
            status=Status.WARN,
            detail=f"could not read the free space at {inputs.disk_path}",
            fix="check the path exists and is readable",
        )
    gib = free / GIB
    detail = f"{gib:.1f} GiB free at {inputs.disk_path}"
    if free < DISK_FAIL_BYTES:
        status = Status.FAIL
    elif free < DISK_WARN_BYTES:
        status = Status.WARN
    else:
        return Finding(id="disk", title=title, status=Status.PASS, detail=detail)
    return Finding(
        id="disk",
        title=title,
        status=status,
        detail=detail + "; a CUDA build of PyTorch needs 5-10 GiB per environment",
        fix="free space (`conda clean --all`, `pip cache purge`) or put environments on a "
        "larger disk",
    )


def _conda(inputs: DoctorInputs) -> Finding:
    title = "conda present"
    tools = [t for t in inputs.report.tools if t.name in ("conda", "mamba", "micromamba")]
    if tools:
        detail = ", ".join(f"{t.name} {t.version or '?'} at {t.path}" for t in tools)
        return Finding(id="conda", title=title, status=Status.PASS, detail=detail)
    return Finding(
        id="conda",
        title=title,
        status=Status.WARN,
        detail="no conda, mamba or micromamba on PATH",
        fix="`torchlock system apply conda --yes` installs Miniforge for this user",
    )


def _nginx(inputs: DoctorInputs) -> Finding:
    title = "nginx not a known-vulnerable version"
    if inputs.nginx is None:
        return Finding(id="nginx", title=title, status=Status.PASS, detail="not installed")
    version = parse_nginx_version(inputs.nginx)
    if version is None:
        return Finding(
            id="nginx",
            title=title,
            status=Status.WARN,
            detail=f"could not read the version from {inputs.nginx.strip()[:80]!r}",
            fix="run `nginx -v` and compare it with " + vendor.NGINX_SECURITY_PAGE,
        )
    text = ".".join(str(p) for p in version)
    advisories = nginx_advisories(version)
    fix = (
        "install a maintained release from nginx.org: `torchlock system apply nginx --yes` "
        f"(nginx {vendor.NGINX_DEFAULT})"
    )
    if version < vendor.NGINX_FAIL_BELOW:
        cves = ", ".join(a.cve for a in advisories)
        return Finding(
            id="nginx",
            title=title,
            status=Status.FAIL,
            detail=f"nginx {text} is known to be vulnerable ({cves})",
            fix=fix,
        )
    if advisories:
        cves = ", ".join(f"{a.cve} ({a.summary})" for a in advisories)
        return Finding(
            id="nginx",
            title=title,
            status=Status.WARN,
            detail=f"nginx {text} predates the fixes of {cves}; a distribution build may "
            "have them backported",
            fix=fix,
        )
    return Finding(id="nginx", title=title, status=Status.PASS, detail=f"nginx {text}")


def _git(inputs: DoctorInputs) -> Finding:
    title = "Git present"
    if inputs.git is None:
        return Finding(
            id="git",
            title=title,
            status=Status.WARN,
            detail="git is not on PATH",
            fix="`torchlock system apply git --yes`",
        )
    return Finding(id="git", title=title, status=Status.PASS, detail=inputs.git.strip())


def run_checks(inputs: DoctorInputs) -> tuple[Finding, ...]:
    """Every finding, in a fixed order; Linux-only checks are left out on Windows."""
    linux = inputs.report.os.os is OS.LINUX
    checks: list[Callable[[DoctorInputs], Finding]] = []
    if linux:
        checks.extend([_pci, _nouveau])
    checks.extend([_driver, _nvcc])
    if linux:
        checks.append(_ld_library_path)
    checks.extend([_disk, _conda, _nginx, _git])
    return tuple(check(inputs) for check in checks)


def exit_code(findings: tuple[Finding, ...]) -> int:
    return 1 if any(f.status is Status.FAIL for f in findings) else 0


def findings_to_json(findings: tuple[Finding, ...]) -> str:
    counts = {status.value: 0 for status in Status}
    for finding in findings:
        counts[finding.status.value] += 1
    document: dict[str, Any] = {
        "checks": [
            {
                "id": f.id,
                "title": f.title,
                "status": f.status.value,
                "detail": f.detail,
                "fix": f.fix,
            }
            for f in findings
        ],
        "summary": counts,
        "ok": exit_code(findings) == 0,
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


# -- gathering ----------------------------------------------------------------------------------

_TIMEOUT = 10.0


def _output(runner: Runner, argv: list[str]) -> str | None:
    result = runner.run(argv, timeout=_TIMEOUT)
    if not isinstance(result, Completed):
        return None
    return result.output


def gather(
    *,
    report: HostReport,
    runner: Runner,
    read_text: ReadText,
    which: Which,
    disk_free: DiskFree,
    disk_path: str,
) -> DoctorInputs:
    """What the checks need beyond detection: lspci, /proc/modules, nginx, git, free disk."""
    linux = report.os.os is OS.LINUX
    lspci = None
    proc_modules = None
    if linux:
        program = which("lspci") or which("/usr/bin/lspci") or which("/sbin/lspci")
        lspci = _output(runner, [program]) if program else None
        proc_modules = read_text("/proc/modules")
    nginx_program = which("nginx") or (which("/usr/sbin/nginx") if linux else None)
    nginx = _output(runner, [nginx_program, "-v"]) if nginx_program else None
    git_program = which("git")
    git = _output(runner, [git_program, "--version"]) if git_program else None
    return DoctorInputs(
        report=report,
        lspci=lspci,
        proc_modules=proc_modules,
        nginx=nginx,
        git=git,
        disk_path=disk_path,
        disk_free=disk_free(disk_path),
    )
