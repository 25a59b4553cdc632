"""Install plans as plain data: ordered steps, each with its commands, edits, downloads and check.

A :class:`Plan` is what ``torchlock system plan`` prints and ``torchlock system apply``
runs. Nothing here runs anything: the commands of a step are complete shell
commands (each one run on its own, so a failure names exactly one), and the
commands that write a step's edits and fetch its downloads are part of them, made
by :func:`edit_commands` and :func:`download_commands`, so what is printed is what runs.
"""

from __future__ import annotations

import enum
import re

from msgspec import Struct

from torchlock.errors import InputError


class Shell(enum.Enum):
    BASH = "bash"
    POWERSHELL = "powershell"


class TargetOs(enum.Enum):
    """The operating systems torchlock plans host steps for."""

    UBUNTU_2204 = "ubuntu-22.04"
    UBUNTU_2004 = "ubuntu-20.04"
    DEBIAN_12 = "debian-12"
    RHEL_9 = "rhel-9"
    RHEL_8 = "rhel-8"
    WINDOWS = "windows"

    @classmethod
    def parse(cls, text: str) -> TargetOs:
        key = text.strip().lower()
        for member in cls:
            if member.value == key:
                return member
        raise InputError(
            f"unknown target OS {text!r}",
            hint="use one of: " + ", ".join(m.value for m in cls),
        )

    @property
    def shell(self) -> Shell:
        return Shell.POWERSHELL if self is TargetOs.WINDOWS else Shell.BASH

    @property
    def apt(self) -> bool:
        return self in (TargetOs.UBUNTU_2204, TargetOs.UBUNTU_2004, TargetOs.DEBIAN_12)

    @property
    def rhel(self) -> bool:
        return self in (TargetOs.RHEL_9, TargetOs.RHEL_8)

    @property
    def ubuntu(self) -> bool:
        return self in (TargetOs.UBUNTU_2204, TargetOs.UBUNTU_2004)

    @property
    def codename(self) -> str | None:
        """The release codename apt repositories are keyed by."""
        return {
            TargetOs.UBUNTU_2204: "jammy",
            TargetOs.UBUNTU_2004: "focal",
            TargetOs.DEBIAN_12: "bookworm",
        }.get(self)


def target_os_for(distro: str | None, version: str | None, *, windows: bool) -> TargetOs | None:
    """The :class:`TargetOs` of a detected host (os-release ID and VERSION_ID), None if unknown."""
    if windows:
        return TargetOs.WINDOWS
    if distro is None or version is None:
        return None
    major = version.split(".")[0]
    if distro == "ubuntu":
        return {"22.04": TargetOs.UBUNTU_2204, "20.04": TargetOs.UBUNTU_2004}.get(version)
    if distro == "debian" and major == "12":
        return TargetOs.DEBIAN_12
    if distro in ("rhel", "rocky", "almalinux", "centos", "ol"):
        return {"9": TargetOs.RHEL_9, "8": TargetOs.RHEL_8}.get(major)
    return None


class Checksum(Struct, frozen=True, kw_only=True):
    """How a download is verified: a pinned value, or the vendor's published file read at apply."""

    algorithm: str  # "sha256" or "md5"
    value: str | None = None  # pinned here
    list_url: str | None = None  # the vendor's checksum file, read at apply time
    single: bool = False  # the file holds one checksum (take its first field), not a list by name


class Download(Struct, frozen=True, kw_only=True):
    url: str
    dest: str  # where it is saved on the host
    checksum: Checksum | None
    published: str  # where the vendor publishes the checksum, or why there is none


class Edit(Struct, frozen=True, kw_only=True):
    file: str
    content: str
    why: str
    append: bool = False  # add the block once (marked) instead of writing the whole file


class Check(Struct, frozen=True, kw_only=True):
    """A command that exits 0 exactly when the step is already satisfied."""

    command: str
    means: str  # in words, e.g. "git is on PATH"


class Step(Struct, frozen=True, kw_only=True):
    id: str
    title: str
    why: str
    shell: Shell
    commands: tuple[str, ...]
    check: Check | None
    edits: tuple[Edit, ...] = ()
    downloads: tuple[Download, ...] = ()
    needs_root: bool = False
    reboot_after: bool = False


class Plan(Struct, frozen=True, kw_only=True):
    component: str
    os: TargetOs
    version: str | None  # what is installed, e.g. "525.85.05"; None for "the distribution's"
    source: str  # where it comes from: "nvidia-runfile", "nginx.org", "distro", "miniforge", ...
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()  # the vendor documents the steps follow


# -- command builders -------------------------------------------------------------------------

_SAFE = re.compile(r"^[A-Za-z0-9_@%+=:,./~$-]+$")


def sh_quote(text: str) -> str:
    """POSIX-shell quoting that leaves plain words (and $HOME-style variables) alone."""
    if text and _SAFE.match(text) and "$" not in text:
        return text
    if "'" not in text and "$" not in text:
        return f"'{text}'"
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`")
    return f'"{escaped}"'


def ps_quote(text: str) -> str:
    """A PowerShell string literal; $env:X stays expandable (double quotes) when present."""
    if "$" in text:
        return '"' + text.replace("`", "``").replace('"', '`"') + '"'
    return "'" + text.replace("'", "''") + "'"


def _marker(step_id: str) -> str:
    return f"# torchlock: {step_id}"


def edit_commands(edit: Edit, *, shell: Shell, step_id: str) -> tuple[str, ...]:
    """The command that writes ``edit`` (whole file, or a marked block appended once)."""
    body = edit.content if edit.content.endswith("\n") else edit.content + "\n"
    if shell is Shell.BASH:
        target = sh_quote(edit.file)
        if edit.append:
            marker = _marker(step_id)
            return (
                f"grep -qsF {sh_quote(marker)} {target} || "
                f"cat >> {target} <<'TORCHLOCK_EOF'\n{marker}\n{body}TORCHLOCK_EOF",
            )
        directory = edit.file.rsplit("/", 1)[0] or "/"
        return (
            f"mkdir -p {sh_quote(directory)} && "
            f"cat > {target} <<'TORCHLOCK_EOF'\n{body}TORCHLOCK_EOF",
        )
    target = ps_quote(edit.file)
    if edit.append:
        marker = _marker(step_id)
        return (
            f"if (-not (Select-String -Quiet -SimpleMatch -Path {target} "
            f"-Pattern {ps_quote(marker)} -ErrorAction SilentlyContinue)) "
            f"{{ Add-Content -Path {target} -Value @'\n{marker}\n{body}'@ }}",
        )
    return (f"Set-Content -Path {target} -Value @'\n{body}'@",)


def download_commands(download: Download, *, shell: Shell) -> tuple[str, ...]:
    """Fetch ``download`` to a partial file, verify its checksum, then move it into place."""
    dest = download.dest
    part = dest + ".part"
    name = dest.replace("\\", "/").rsplit("/", 1)[-1]
    checksum = download.checksum
    if shell is Shell.BASH:
        directory = dest.rsplit("/", 1)[0] or "/"
        commands = [
            f"mkdir -p {sh_quote(directory)}",
            f"curl -fL --retry 3 --connect-timeout 30 -o {sh_quote(part)} {sh_quote(download.url)}",
        ]
        if checksum is not None:
            tool = f"{checksum.algorithm}sum"
            if checksum.value is not None:
                commands.append(f"echo {sh_quote(checksum.value + '  ' + part)} | {tool} -c -")
            elif checksum.list_url is not None:
                # The vendor's list names the file (maybe with a directory): keep its line, point
                # it at the partial file and let the checksum tool verify it.
                pick = (
                    "NR == 1 && NF"
                    if checksum.single
                    else '{n=$NF; sub(/^[*]/, "", n); sub(/^.*\\//, "", n)} n == f'
                )
                commands.append(
                    f"curl -fsSL {sh_quote(checksum.list_url)} | "
                    f"awk -v f={sh_quote(name)} -v p={sh_quote(part)} "
                    f"'{pick} {{print $1 \"  \" p; found=1}} END {{exit !found}}' | "
                    f"{tool} -c -"
                )
        commands.append(f"mv -f {sh_quote(part)} {sh_quote(dest)}")
        return tuple(commands)
    directory = dest.rsplit("\\", 1)[0]
    commands = [
        f"New-Item -ItemType Directory -Force -Path {ps_quote(directory)} | Out-Null",
        f"Invoke-WebRequest -UseBasicParsing -Uri {ps_quote(download.url)} "
        f"-OutFile {ps_quote(part)}",
    ]
    if checksum is not None:
        algorithm = checksum.algorithm.upper()
        actual = f"(Get-FileHash -Algorithm {algorithm} -Path {ps_quote(part)}).Hash"
        if checksum.value is not None:
            commands.append(
                f"if ({actual} -ne {ps_quote(checksum.value.upper())}) "
                f"{{ throw 'checksum mismatch: {name}' }}"
            )
        elif checksum.list_url is not None:
            lines = (
                f"((Invoke-WebRequest -UseBasicParsing -Uri {ps_quote(checksum.list_url)})"
                '.Content -split "`n")'
            )
            pick = (
                "Select-Object -First 1"
                if checksum.single
                else f"Where-Object {{ $_ -match {ps_quote(re.escape(name) + '$')} }} | "
                "Select-Object -First 1"
            )
            commands.append(
                f"$line = {lines} | {pick}; $expected = ([string]$line).Trim() -split '\\s+' | "
                "Select-Object -First 1; "
                f"if (-not $expected -or {actual} -ne $expected.ToUpper()) "
                f"{{ throw 'checksum mismatch: {name}' }}"
            )
    commands.append(f"Move-Item -Force -Path {ps_quote(part)} -Destination {ps_quote(dest)}")
    return tuple(commands)


def shell_argv(shell: Shell, command: str) -> tuple[str, ...]:
    """How one command of a step is started: bash with errexit and pipefail, or PowerShell."""
    if shell is Shell.BASH:
        return ("bash", "-e", "-o", "pipefail", "-c", command)
    return (
        "powershell",
        "-NoProfile",
        "-NonInteractive",
        "-ExecutionPolicy",
        "Bypass",
        "-Command",
        "$ErrorActionPreference = 'Stop'; $ProgressPreference = 'SilentlyContinue'; " + command,
    )
