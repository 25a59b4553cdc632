"""Ansible as the fleet's engine: its inventory, its parallel runs, its connections.

Thin: ``ansible-inventory --list`` says which hosts an inventory (INI or YAML, groups,
host and group vars) holds, and ``ansible-playbook`` runs a playbook torchlock writes
across them, with Ansible's own ``--forks``, ``--limit``, connection and privilege rules.
What each host answered comes back as files the playbook copies to the controller; the
``PLAY RECAP`` lines say which hosts could not be reached or failed.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from torchlock.errors import InputError, TorchlockError
from torchlock.system.runner import Completed, Runner

INSTALL_HINT = "install it with: pip install 'torchlock[fleet]' (ansible-core)"
# "web1 : ok=2 changed=0 unreachable=1 failed=0 skipped=0 rescued=0 ignored=0"
_RECAP = re.compile(
    r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=\d+\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)"
)


class AnsibleError(TorchlockError):
    """Ansible could not run at all (not installed, a broken inventory)."""

    exit_code = 2


def find_tool(name: str, path: str | None) -> str:
    """The Ansible program ``name`` on ``path``, or an error saying how to get it."""
    found = shutil.which(name, path=path)
    if found is None:
        raise AnsibleError(
            f"{name} not found: the fleet commands run on Ansible", hint=INSTALL_HINT
        )
    return found


def inventory_hosts(
    runner: Runner, inventory: str, *, limit: str | None, env: Mapping[str, str], path: str | None
) -> dict[str, dict[str, Any]]:
    """host name -> its variables, for every host of ``inventory`` that ``limit`` keeps."""
    argv = [find_tool("ansible-inventory", path), "-i", inventory, "--list"]
    if limit:
        argv += ["--limit", limit]
    done = runner.run(argv, timeout=300.0, env=dict(env))
    if not isinstance(done, Completed) or done.returncode != 0:
        tail = done.output.strip().splitlines()[-3:] if isinstance(done, Completed) else []
        raise InputError(f"cannot read the inventory {inventory}", evidence=tail or [str(done)])
    try:
        listing = json.loads(done.stdout)
    except ValueError:
        raise InputError(f"cannot read the inventory {inventory}: not JSON") from None
    hostvars: dict[str, dict[str, Any]] = listing.get("_meta", {}).get("hostvars", {})
    hosts: set[str] = set(hostvars)
    for group in listing.values():
        if isinstance(group, dict):
            hosts.update(h for h in group.get("hosts", []) if isinstance(h, str))
    return {host: dict(hostvars.get(host, {})) for host in sorted(hosts)}


def run_playbook(
    runner: Runner,
    playbook: Path,
    *,
    inventory: str,
    extra_vars: Path,
    limit: str | None,
    forks: int,
    env: Mapping[str, str],
    path: str | None,
    timeout: float,
) -> dict[str, str]:
    """Run ``playbook``; host -> "ok", "unreachable" or "failed", from its recap."""
    argv = [find_tool("ansible-playbook", path), "-i", inventory, str(playbook)]
    argv += ["--forks", str(forks), "-e", f"@{extra_vars}"]
    if limit:
        argv += ["--limit", limit]
    quiet = {"ANSIBLE_NOCOLOR": "1", "ANSIBLE_RETRY_FILES_ENABLED": "0"}
    done = runner.run(argv, timeout=timeout, env={**env, **quiet})
    if not isinstance(done, Completed):
        raise AnsibleError("ansible-playbook did not finish", evidence=[str(done)])
    outcome = recap(done.output)
    if not outcome and done.returncode != 0:
        raise AnsibleError(
            "ansible-playbook failed", evidence=done.output.strip().splitlines()[-5:]
        )
    return outcome


def recap(output: str) -> dict[str, str]:
    """host -> "ok", "unreachable" or "failed", read from the PLAY RECAP section."""
    found: dict[str, str] = {}
    lines: Sequence[str] = output.split("PLAY RECAP", 1)[-1].splitlines()
    for line in lines:
        match = _RECAP.match(line.strip())
        if match is None:
            continue
        if int(match["unreachable"]):
            found[match["host"]] = "unreachable"
        elif int(match["failed"]):
            found[match["host"]] = "failed"
        else:
            found[match["host"]] = "ok"
    return found
