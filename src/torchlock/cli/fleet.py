"""``torchlock fleet``: torchlock across an Ansible inventory."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from torchlock.workflows.fleet import FleetDetection

INVENTORY_HELP = "An Ansible inventory (a file or folder, INI or YAML), as ansible-playbook -i."


@click.group("fleet")
def fleet() -> None:
    """Run torchlock on many hosts at once, through Ansible (ansible-core).

    Ansible connects to the hosts, runs them in parallel (--forks) and applies its
    privilege rules; torchlock runs on each host and brings the results back.
    """


@fleet.command("detect")
@click.option("-i", "--inventory", required=True, metavar="INVENTORY", help=INVENTORY_HELP)
@click.option("--limit", metavar="PATTERN", help="Only these hosts (Ansible's --limit).")
@click.option(
    "--forks",
    type=click.IntRange(min=1, max=500),
    default=5,
    show_default=True,
    help="Hosts at once (Ansible's --forks).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def detect(inventory: str, limit: str | None, forks: int, as_json: bool) -> int:
    """Run `torchlock detect` on every host of the inventory and report each.

    A host var torchlock_driver states the host's driver instead of detecting it;
    torchlock_command names the torchlock program on the host (default: torchlock).
    Exits 0 when every host answered, 1 when some could not be reached or failed.
    """
    from torchlock.system.runner import SubprocessRunner
    from torchlock.workflows.fleet import detect_fleet

    # ansible-playbook and ansible-inventory beside the Python that runs torchlock (its
    # [fleet] extra), else on PATH
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    result = detect_fleet(
        inventory, runner=SubprocessRunner(), env=os.environ, path=path, limit=limit, forks=forks
    )
    if as_json:
        doc = {
            "hosts": [
                {"host": h.host, "stated": h.stated, "detect": h.report} for h in result.hosts
            ],
            "unreachable": list(result.unreachable),
            "failed": list(result.failed),
        }
        click.echo(json.dumps(doc, indent=2, sort_keys=True))
    else:
        _print(result)
    return 1 if result.unreachable or result.failed else 0


def _print(result: FleetDetection) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for column in ("host", "driver", "CUDA", "GPUs", "OS", "Python"):
        table.add_column(column)
    for facts in result.hosts:
        report = facts.report
        driver = report.get("driver") or {}
        gpus = report.get("gpus") or []
        names = ", ".join(
            f"{g.get('name', '?')} ({g.get('compute_capability') or '?'})" for g in gpus
        )
        system = report.get("os") or {}
        pythons = sorted({str(p.get("version")) for p in report.get("pythons") or []})
        table.add_row(
            facts.host,
            str(driver.get("version") or driver.get("status") or "-"),
            str(driver.get("cuda") or "-"),
            names or "none",
            f"{system.get('distro') or system.get('os') or '?'} {system.get('version') or ''}"
            f" {system.get('arch') or ''}".strip(),
            ", ".join(pythons) or "-",
        )
    Console().print(table)
    for host in result.unreachable:
        click.echo(f"unreachable: {host}", err=True)
    for host in result.failed:
        click.echo(f"failed: {host} (torchlock detect did not answer there)", err=True)
