"""Fleets: torchlock's host detection across an Ansible inventory (``torchlock fleet``).

Ansible connects, runs in parallel and applies its privilege rules; torchlock writes the
playbook and reads what each host answered. ``detect`` runs ``torchlock detect --json``
on every host (``torchlock_command`` in the host's vars names the program there, default
``torchlock``); a host var ``torchlock_driver`` states the driver instead of detecting it,
as ``--driver`` does on one machine. A host that cannot be reached, or whose detection
fails, is reported beside the others, never fatal to them.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from msgspec import Struct

from torchlock.errors import InputError
from torchlock.system.ansible import inventory_hosts, run_playbook
from torchlock.system.runner import Runner

# Each host's answer is copied to the controller as <out>/<host>.json.
DETECT_PLAYBOOK = """\
- name: torchlock detect
  hosts: all
  gather_facts: false
  tasks:
    - name: detect the host
      ansible.builtin.command:
        argv: "{{ [torchlock_command | default('torchlock'), 'detect', '--json']
                  + (['--driver', torchlock_driver | string]
                     if torchlock_driver is defined else []) }}"
      register: torchlock_detected
      changed_when: false
    - name: bring the facts to the controller
      ansible.builtin.copy:
        content: "{{ torchlock_detected.stdout }}"
        dest: "{{ torchlock_out }}/{{ inventory_hostname }}.json"
        mode: "0600"
      delegate_to: localhost
"""


class HostFacts(Struct, frozen=True, kw_only=True):
    """What one host is, as its own `torchlock detect --json` said (``report``)."""

    host: str
    report: dict[str, Any]
    stated: dict[str, str]  # facts the inventory states for the host (torchlock_* vars)


class FleetDetection(Struct, frozen=True, kw_only=True):
    hosts: tuple[HostFacts, ...]
    unreachable: tuple[str, ...]  # hosts Ansible could not connect to
    failed: tuple[str, ...]  # hosts where detection ran and failed


def detect_fleet(
    inventory: str,
    *,
    runner: Runner,
    env: Mapping[str, str],
    path: str | None,
    limit: str | None = None,
    forks: int = 5,
    timeout: float = 1800.0,
) -> FleetDetection:
    """Run torchlock's detection on every host of ``inventory`` (``limit`` kept)."""
    hosts = inventory_hosts(runner, inventory, limit=limit, env=env, path=path)
    if not hosts:  # a mistyped path: Ansible only warns, and would run on nothing
        raise InputError(
            f"the inventory {inventory} holds no host"
            + (f" that --limit {limit} keeps" if limit else ""),
            hint="give an Ansible inventory file or folder (ansible-inventory -i FILE --list)",
        )
    with tempfile.TemporaryDirectory(prefix="torchlock-fleet-") as tmp:
        folder = Path(tmp)
        playbook = folder / "detect.yml"
        playbook.write_text(DETECT_PLAYBOOK, encoding="utf-8")
        out = folder / "facts"
        out.mkdir()
        extra = folder / "vars.json"
        extra.write_text(json.dumps({"torchlock_out": str(out)}), encoding="utf-8")
        outcome = run_playbook(
            runner,
            playbook,
            inventory=inventory,
            extra_vars=extra,
            limit=limit,
            forks=forks,
            env=env,
            path=path,
            timeout=timeout,
        )
        found, failed = [], []
        for host, variables in hosts.items():
            answer = out / f"{host}.json"
            try:
                report = json.loads(answer.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                if outcome.get(host) != "unreachable":
                    failed.append(host)
                continue
            stated = {k: str(v) for k, v in sorted(variables.items()) if k.startswith("torchlock_")}
            stated.pop("torchlock_command", None)
            found.append(HostFacts(host=host, report=report, stated=stated))
    unreachable = tuple(h for h in hosts if outcome.get(h) == "unreachable")
    return FleetDetection(hosts=tuple(found), unreachable=unreachable, failed=tuple(failed))
