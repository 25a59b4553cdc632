"""Pure parsers for /etc/os-release and /proc/version."""

from __future__ import annotations

import shlex

from msgspec import Struct


class OsRelease(Struct, frozen=True, kw_only=True):
    id: str | None  # "ubuntu", "rhel", "debian"
    version_id: str | None  # "22.04", "9.3", "12"
    pretty_name: str | None  # "Ubuntu 22.04.3 LTS"


def parse_os_release_fields(text: str) -> dict[str, str]:
    """Every KEY=value of an os-release file, unquoted as a POSIX shell would.

    Comments, blank lines and lines that are not assignments are skipped.
    """
    fields: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip()
        if not key.isidentifier():
            continue
        try:
            words = shlex.split(value, comments=False, posix=True)
        except ValueError:  # an unbalanced quote: keep the text as it stands
            words = [value.strip().strip("\"'")]
        fields[key] = " ".join(words)
    return fields


def parse_os_release(text: str) -> OsRelease:
    fields = parse_os_release_fields(text)
    return OsRelease(
        id=fields.get("ID") or None,
        version_id=fields.get("VERSION_ID") or None,
        pretty_name=fields.get("PRETTY_NAME") or None,
    )


def is_wsl(proc_version: str) -> bool:
    """Whether /proc/version is that of a WSL kernel ("...-microsoft-standard-WSL2")."""
    return "microsoft" in proc_version.lower()
