"""Host detection: wires the readers and the runner to the pure parsers.

:func:`detect_host` takes every way of looking at the host as a parameter, so
tests can hand it a directory of captured files and fake programs;
:func:`detect_from_environment` builds the real ones. Nothing here raises for
what the host lacks or for a program that fails: those are findings, in the
report's ``notes`` and in :class:`~torchlock.system.model.DriverInfo`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from msgspec import Struct
from msgspec.structs import replace

from torchlock.errors import DataError, DetectionError, InputError
from torchlock.system import gpu_names, nvidia_smi
from torchlock.system.files import ListDir, ReadText, Which
from torchlock.system.host_platform import PlatformInfo
from torchlock.system.model import (
    DriverInfo,
    DriverStatus,
    Gpu,
    HostReport,
    Interpreter,
    OsInfo,
    Tool,
    Toolkit,
)
from torchlock.system.nvcc import parse_nvcc_version
from torchlock.system.nvidia_smi import SmiState
from torchlock.system.os_release import is_wsl, parse_os_release
from torchlock.system.parse import (
    is_cuda_library,
    is_python_name,
    parse_arch,
    parse_proc_driver_version,
    parse_py_launcher,
    parse_python_version,
    parse_sys_module_version,
    parse_tool_version,
    pyenv_cpython_versions,
)
from torchlock.system.runner import Completed, Runner, RunResult, TimedOut
from torchlock.target import OS, ComputeCapability, DriverVersion

if TYPE_CHECKING:
    from torchlock.system.nvml import NvmlReport

DEFAULT_TIMEOUT = 10.0
DRIVER_ENV = "TORCHLOCK_DRIVER"
SYS_MODULE_VERSION = "/sys/module/nvidia/version"
PROC_DRIVER_VERSION = "/proc/driver/nvidia/version"
WSL_NVIDIA_SMI = "/usr/lib/wsl/lib/nvidia-smi"
DEFAULT_NVCC = "/usr/local/cuda/bin/nvcc"
TOOL_NAMES = ("conda", "mamba", "micromamba", "uv")

NvmlQuery = Callable[[OS], "NvmlReport | None"]
NameTable = Callable[[str], ComputeCapability | None]


def real_nvml(os_kind: OS, env: Mapping[str, str] | None = None) -> NvmlReport | None:
    """Ask NVML through ctypes where its library can be loaded; None otherwise."""
    from torchlock.system.nvml import LINUX_LIBRARIES, query_nvml, windows_libraries

    if os_kind is OS.LINUX:
        return query_nvml(LINUX_LIBRARIES)
    if os_kind is OS.WINDOWS:
        env = env or {}
        return query_nvml(
            windows_libraries(
                env.get("ProgramFiles", "C:\\Program Files"), env.get("SystemRoot", "C:\\Windows")
            )
        )
    return None


class _Stated(Struct, frozen=True, kw_only=True):
    """A driver the user stated; ``version`` None when they said there is none."""

    version: DriverVersion | None
    source: str


def _stated(text: str, source: str) -> _Stated | None:
    key = text.strip().lower()
    if key == "auto":
        return None
    if key == "none":
        return _Stated(version=None, source=source)
    return _Stated(version=DriverVersion.parse(text), source=source)


class _Smi(Struct, frozen=True, kw_only=True):
    """What nvidia-smi said: the program, its state and what it could tell."""

    program: str
    state: SmiState
    detail: str | None = None
    header: nvidia_smi.SmiHeader | None = None
    gpus: tuple[Gpu, ...] = ()


class _Probe:
    def __init__(
        self,
        *,
        runner: Runner,
        read_text: ReadText,
        list_dir: ListDir,
        which: Which,
        env: Mapping[str, str],
        platform_info: PlatformInfo,
        nvml: NvmlQuery,
        cc_for_name: NameTable,
        timeout: float,
    ) -> None:
        self.runner = runner
        self.read_text = read_text
        self.list_dir = list_dir
        self.which = which
        self.env = env
        self.platform = platform_info
        self.nvml = nvml
        self.cc_for_name = cc_for_name
        self.timeout = timeout
        self.notes: list[str] = []
        self.os_kind = _os_kind(platform_info.system)
        self.sep = "\\" if self.os_kind is OS.WINDOWS else "/"
        self.pathsep = ";" if self.os_kind is OS.WINDOWS else ":"

    # -- helpers ---------------------------------------------------------------------------

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def run(self, argv: Sequence[str]) -> RunResult:
        return self.runner.run(argv, timeout=self.timeout)

    def join(self, *parts: str) -> str:
        head, *rest = parts
        for part in rest:
            head = head.rstrip("/\\") + self.sep + part
        return head

    def first_program(self, candidates: Sequence[str]) -> str | None:
        for candidate in candidates:
            found = self.which(candidate)
            if found:
                return found
        return None

    # -- OS --------------------------------------------------------------------------------

    def os_info(self) -> OsInfo:
        arch = parse_arch(self.platform.machine)
        if arch is None:
            raise DetectionError(
                f"unsupported machine architecture {self.platform.machine!r}",
                hint="torchlock knows x86_64 (amd64) and aarch64 (arm64) hosts",
            )
        if self.os_kind is OS.WINDOWS:
            return OsInfo(
                os=OS.WINDOWS,
                arch=arch,
                distro=None,
                version=self.platform.version or None,
                pretty=f"Windows {self.platform.release}".strip(),
            )
        if self.os_kind is OS.MACOS:
            version = self.platform.mac_release or None
            return OsInfo(
                os=OS.MACOS,
                arch=arch,
                distro=None,
                version=version,
                pretty=f"macOS {version}" if version else "macOS",
            )
        proc_version = self.read_text("/proc/version")
        wsl = proc_version is not None and is_wsl(proc_version)
        for path in ("/etc/os-release", "/usr/lib/os-release"):
            text = self.read_text(path)
            if text is not None:
                release = parse_os_release(text)
                return OsInfo(
                    os=OS.LINUX,
                    arch=arch,
                    distro=release.id,
                    version=release.version_id,
                    pretty=release.pretty_name,
                    wsl=wsl,
                    source=path,
                )
        self.note("no /etc/os-release: Linux distribution unknown")
        return OsInfo(os=OS.LINUX, arch=arch, distro=None, version=None, pretty=None, wsl=wsl)

    # -- driver and GPUs -------------------------------------------------------------------

    def override(self, explicit: str | None) -> _Stated | None:
        """The driver the user stated: --driver, else TORCHLOCK_DRIVER; None to detect it.

        Like ``torchlock matrix --driver``, "auto" means detect and "none" states
        a host without a driver.
        """
        if explicit is not None:
            return _stated(explicit, "--driver")
        from_env = self.env.get(DRIVER_ENV, "").strip()
        if not from_env:
            return None
        try:
            return _stated(from_env, DRIVER_ENV)
        except InputError as exc:
            raise InputError(
                f"malformed NVIDIA driver version {from_env!r} in {DRIVER_ENV}",
                hint=exc.hint,
            ) from exc

    def driver_files(self) -> tuple[DriverVersion, str] | None:
        readers = (
            (SYS_MODULE_VERSION, parse_sys_module_version),
            (PROC_DRIVER_VERSION, parse_proc_driver_version),
        )
        for path, parse in readers:
            text = self.read_text(path)
            if text is None:
                continue
            version = parse(text)
            if version is not None:
                return version, path
            self.note(f"{path} does not name a driver version: {text.strip()[:80]!r}")
        return None

    def smi_candidates(self) -> list[str]:
        if self.os_kind is OS.WINDOWS:
            system_root = self.env.get("SystemRoot", "C:\\Windows")
            program_files = self.env.get("ProgramFiles", "C:\\Program Files")
            return [
                "nvidia-smi",
                "nvidia-smi.exe",
                f"{system_root}\\System32\\nvidia-smi.exe",
                f"{program_files}\\NVIDIA Corporation\\NVSMI\\nvidia-smi.exe",
            ]
        return ["nvidia-smi", WSL_NVIDIA_SMI]

    def nvidia_smi(self) -> _Smi | None:
        program = self.first_program(self.smi_candidates())
        if program is None:
            self.note("nvidia-smi not found (PATH, " + ", ".join(self.smi_candidates()[1:]) + ")")
            return None
        table = self.run([program])
        if isinstance(table, TimedOut):
            return _Smi(program=program, state=SmiState.BROKEN, detail=table.describe())
        if not isinstance(table, Completed):
            self.note(table.describe())
            return None
        state = nvidia_smi.classify(table.returncode, table.output)
        if state is not SmiState.OK:
            return _Smi(program=program, state=state, detail=nvidia_smi.message(table.output))
        header = nvidia_smi.parse_header(table.output)
        return _Smi(program=program, state=state, header=header, gpus=self.smi_gpus(program))

    def smi_gpus(self, program: str) -> tuple[Gpu, ...]:
        result = self.run(nvidia_smi.query_argv(program))
        with_cc = True
        if isinstance(result, Completed) and (
            nvidia_smi.classify(result.returncode, result.output) is SmiState.UNKNOWN_FIELD
        ):
            self.note(
                "nvidia-smi rejects the compute_cap field (an older driver): "
                "compute capability taken from the GPU name table"
            )
            with_cc = False
            result = self.run(nvidia_smi.query_argv(program, with_cc=False))
        if not isinstance(result, Completed):
            self.note(f"GPU query failed: {result.describe()}")
            return ()
        state = nvidia_smi.classify(result.returncode, result.output)
        if state is SmiState.NO_DEVICES:
            return ()
        if state is not SmiState.OK:
            self.note(f"GPU query failed: {nvidia_smi.message(result.output)}")
            return ()
        query = nvidia_smi.parse_gpu_query(result.stdout, with_cc=with_cc)
        for line in query.unparsed:
            self.note(f"unreadable nvidia-smi GPU line: {line!r}")
        return tuple(self.fill_cc(gpu) for gpu in query.gpus)

    def fill_cc(self, gpu: Gpu) -> Gpu:
        if gpu.compute_capability is not None:
            return gpu
        try:
            cc = self.cc_for_name(gpu.name)
        except DataError as exc:
            self.note(f"GPU name table unavailable: {exc.message}")
            return gpu
        if cc is None:
            self.note(f"compute capability of GPU {gpu.index} ({gpu.name}) unknown")
            return gpu
        return replace(gpu, compute_capability=cc, cc_source=gpu_names.CC_SOURCE)

    def driver_and_gpus(self, explicit: str | None) -> tuple[DriverInfo, tuple[Gpu, ...]]:
        override = self.override(explicit)
        if self.os_kind is OS.MACOS:
            if override is not None and override.version is not None:
                return DriverInfo(
                    status=DriverStatus.OK, version=override.version, source=override.source
                ), ()
            detail = "macOS has no NVIDIA CUDA driver"
            return DriverInfo(
                status=DriverStatus.ABSENT, version=None, source=None, detail=detail
            ), ()
        from_files = self.driver_files() if self.os_kind is OS.LINUX else None
        smi = self.nvidia_smi()
        smi_usable = smi is not None and smi.state is SmiState.OK
        nvml: NvmlReport | None = None
        header_driver = smi.header.driver if smi and smi.header else None
        if not smi_usable or (from_files is None and header_driver is None):
            nvml = self.nvml(self.os_kind)

        # The version: stated > kernel module files > nvidia-smi > NVML.
        version: DriverVersion | None = None
        source: str | None = None
        candidates: list[tuple[DriverVersion | None, str]] = []
        if override is not None:
            candidates.append((override.version, override.source))
        if from_files is not None:
            candidates.append(from_files)
        if smi is not None and header_driver is not None:
            candidates.append((header_driver, smi.program))
        if nvml is not None and nvml.driver:
            candidates.append((_driver_or_none(nvml.driver), f"NVML ({nvml.library})"))
        for candidate, where in candidates:
            if candidate is not None:
                version, source = candidate, where
                break

        cuda: str | None = None
        cuda_source: str | None = None
        if smi is not None and smi.header is not None and smi.header.cuda:
            cuda, cuda_source = smi.header.cuda, smi.program
        elif nvml is not None and nvml.cuda:
            cuda, cuda_source = nvml.cuda, f"NVML ({nvml.library})"

        gpus: tuple[Gpu, ...] = smi.gpus if smi is not None else ()
        if not gpus and nvml is not None and nvml.gpus:
            gpus = tuple(
                Gpu(
                    index=g.index,
                    name=g.name,
                    memory_mib=g.memory_mib,
                    compute_capability=g.compute_capability,
                    cc_source="NVML" if g.compute_capability else None,
                    source="NVML",
                )
                for g in nvml.gpus
            )
            gpus = tuple(self.fill_cc(gpu) for gpu in gpus)

        if smi is not None and smi.state is SmiState.NO_DEVICES:
            self.note(f"nvidia-smi found no NVIDIA GPU ({smi.detail})")

        if override is not None:
            if smi is not None and smi.state is SmiState.BROKEN:
                self.note(f"nvidia-smi failed: {smi.detail}")
            if override.version is None:
                detail = f"stated by {override.source}: no NVIDIA driver"
                return DriverInfo(
                    status=DriverStatus.ABSENT, version=None, source=override.source, detail=detail
                ), gpus
            return DriverInfo(
                status=DriverStatus.OK,
                version=override.version,
                source=override.source,
                cuda=cuda,
                cuda_source=cuda_source,
            ), gpus
        if smi is not None and smi.state is SmiState.BROKEN:
            return DriverInfo(
                status=DriverStatus.BROKEN,
                version=version,
                source=source,
                cuda=cuda,
                cuda_source=cuda_source,
                detail=f"{smi.program}: {smi.detail}",
            ), gpus
        if version is not None:
            return DriverInfo(
                status=DriverStatus.OK,
                version=version,
                source=source,
                cuda=cuda,
                cuda_source=cuda_source,
            ), gpus
        if smi is not None and smi.state is SmiState.NO_DEVICES:
            detail = f"no NVIDIA GPU: {smi.program} says {smi.detail!r}"
        elif self.os_kind is OS.LINUX:
            detail = f"no NVIDIA driver: no {PROC_DRIVER_VERSION}, no nvidia-smi, no NVML library"
        else:
            detail = "no NVIDIA driver: no nvidia-smi, no NVML library"
        return DriverInfo(
            status=DriverStatus.ABSENT, version=None, source=None, detail=detail
        ), gpus

    # -- toolkit, tools, Pythons, libraries ------------------------------------------------

    def toolkit(self) -> Toolkit | None:
        exe = ".exe" if self.os_kind is OS.WINDOWS else ""
        candidates = ["nvcc"]
        for var in ("CUDA_HOME", "CUDA_PATH"):
            root = self.env.get(var)
            if root:
                candidates.append(self.join(root, "bin", f"nvcc{exe}"))
        if self.os_kind is OS.LINUX:
            candidates.append(DEFAULT_NVCC)
        seen: set[str] = set()
        for candidate in candidates:
            program = self.which(candidate)
            if program is None or program in seen:
                continue
            seen.add(program)
            result = self.run([program, "--version"])
            if not isinstance(result, Completed):
                self.note(result.describe())
                continue
            parsed = parse_nvcc_version(result.output)
            if parsed is None:
                self.note(f"{program} --version did not name a CUDA release")
                continue
            return Toolkit(version=parsed.version, build=parsed.build, path=program)
        return None

    def tools(self) -> tuple[Tool, ...]:
        found: list[tuple[str, str]] = []
        for name in TOOL_NAMES:
            program = self.which(name)
            if program:
                found.append((name, program))
        for var, name in (("CONDA_EXE", "conda"), ("MAMBA_EXE", "micromamba")):
            value = self.env.get(var)
            if value:
                program = self.which(value)
                if program and all(path != program for _, path in found):
                    found.append((_tool_name(program, name), program))
        tools: list[Tool] = []
        for name, program in found:
            result = self.run([program, "--version"])
            version = None
            if isinstance(result, Completed) and result.returncode == 0:
                version = parse_tool_version(result.output)
            elif not isinstance(result, Completed):
                self.note(result.describe())
            tools.append(Tool(name=name, path=program, version=version))
        return tuple(tools)

    def pythons(self) -> tuple[Interpreter, ...]:
        found: list[Interpreter] = []
        seen: set[str] = set()

        def add(interpreter: Interpreter) -> None:
            key = _identity(interpreter.path)
            if key not in seen:
                seen.add(key)
                found.append(interpreter)

        if self.platform.python_executable:
            add(
                Interpreter(
                    version=self.platform.python_version,
                    path=self.platform.python_executable,
                    source="running",
                )
            )
        for directory in _split(self.env.get("PATH", ""), self.pathsep):
            if _is_pyenv_shims(directory):
                continue  # shims only forward to the pyenv versions listed below
            for name in self.list_dir(directory) or ():
                if not is_python_name(name):
                    continue
                program = self.which(self.join(directory, name))
                if program is None or _identity(program) in seen:
                    continue
                result = self.run([program, "--version"])
                if not isinstance(result, Completed):
                    self.note(result.describe())
                    continue
                version = parse_python_version(result.output)
                if version is not None:
                    add(Interpreter(version=version, path=program, source="PATH"))
        pyenv_root = self.env.get("PYENV_ROOT") or (
            self.join(self.env["HOME"], ".pyenv") if self.env.get("HOME") else None
        )
        if pyenv_root:
            versions_dir = self.join(pyenv_root, "versions")
            versions = pyenv_cpython_versions(self.list_dir(versions_dir) or ())
            for version in sorted(versions, key=_version_key):
                relative = ("python.exe",) if self.os_kind is OS.WINDOWS else ("bin", "python")
                program = self.which(self.join(versions_dir, version, *relative))
                if program is not None:
                    add(Interpreter(version=version, path=program, source="pyenv"))
        if self.os_kind is OS.WINDOWS:
            launcher = self.which("py")
            if launcher is not None:
                result = self.run([launcher, "-0p"])
                if isinstance(result, Completed):
                    for entry in parse_py_launcher(result.output):
                        add(
                            Interpreter(
                                version=entry.version, path=entry.path, source="py launcher"
                            )
                        )
                else:
                    self.note(result.describe())
        return tuple(found)

    def cuda_library_paths(self) -> tuple[str, ...]:
        paths: list[str] = []
        for entry in _split(self.env.get("LD_LIBRARY_PATH", ""), ":"):
            if entry in paths:
                continue
            if "cuda" in entry.lower() or any(
                is_cuda_library(name) for name in self.list_dir(entry) or ()
            ):
                paths.append(entry)
        return tuple(paths)


def _os_kind(system: str) -> OS:
    try:
        return OS.parse(system)
    except InputError as exc:
        raise DetectionError(
            f"unsupported operating system {system!r}",
            hint="torchlock knows Linux, Windows and macOS hosts",
        ) from exc


def _driver_or_none(text: str) -> DriverVersion | None:
    try:
        return DriverVersion.parse(text)
    except InputError:
        return None


def _split(value: str, separator: str) -> list[str]:
    return [part for part in value.split(separator) if part.strip()]


def _identity(path: str) -> str:
    try:
        return os.path.realpath(path)
    except (OSError, ValueError):
        return path


def _is_pyenv_shims(directory: str) -> bool:
    parts = directory.replace("\\", "/").rstrip("/").lower().split("/")
    return parts[-1] == "shims" and any("pyenv" in part for part in parts)


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def _tool_name(program: str, fallback: str) -> str:
    stem = program.replace("\\", "/").rsplit("/", 1)[-1].lower().removesuffix(".exe")
    return stem if stem in TOOL_NAMES else fallback


def detect_host(
    *,
    runner: Runner,
    read_text: ReadText,
    list_dir: ListDir,
    which: Which,
    env: Mapping[str, str],
    platform_info: PlatformInfo,
    driver_override: str | None = None,
    nvml: NvmlQuery = lambda _os: None,
    cc_for_name: NameTable = gpu_names.compute_capability_for,
    timeout: float = DEFAULT_TIMEOUT,
    gpu_only: bool = False,
) -> HostReport:
    """Everything torchlock needs to know about a host, each fact with its source.

    With ``gpu_only`` only the OS, driver and GPUs are looked at (what variant
    selection needs); toolkit, tools and Pythons are left empty.

    ``driver_override`` is what the user stated with ``--driver``; without it
    ``TORCHLOCK_DRIVER`` in ``env`` is used. A malformed stated version is an
    :class:`InputError`; an unsupported OS or architecture a :class:`DetectionError`.
    Everything else the host lacks or that fails is reported, not raised.
    """
    probe = _Probe(
        runner=runner,
        read_text=read_text,
        list_dir=list_dir,
        which=which,
        env=env,
        platform_info=platform_info,
        nvml=nvml,
        cc_for_name=cc_for_name,
        timeout=timeout,
    )
    os_info = probe.os_info()
    driver, gpus = probe.driver_and_gpus(driver_override)
    if gpu_only:
        return HostReport(
            os=os_info,
            driver=driver,
            gpus=gpus,
            toolkit=None,
            tools=(),
            pythons=(),
            cuda_library_paths=(),
            notes=tuple(probe.notes),
        )
    return HostReport(
        os=os_info,
        driver=driver,
        gpus=gpus,
        toolkit=probe.toolkit(),
        tools=probe.tools(),
        pythons=probe.pythons(),
        cuda_library_paths=probe.cuda_library_paths(),
        notes=tuple(probe.notes),
    )


def detect_from_environment(
    driver_override: str | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    gpu_only: bool = False,
) -> HostReport:
    """:func:`detect_host` on this very host: real programs, files, PATH and environment."""
    from torchlock.system.files import list_dir, read_text, which_in
    from torchlock.system.host_platform import current_platform
    from torchlock.system.runner import SubprocessRunner

    env = os.environ  # a live mapping: on Windows its keys are case-insensitive
    return detect_host(
        runner=SubprocessRunner(),
        read_text=read_text,
        list_dir=list_dir,
        which=which_in(env),
        env=env,
        platform_info=current_platform(),
        driver_override=driver_override,
        nvml=lambda os_kind: real_nvml(os_kind, env),
        timeout=timeout,
        gpu_only=gpu_only,
    )
