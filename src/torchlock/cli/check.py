"""`torchlock check`: does the lock still match the project spec?"""

from __future__ import annotations

import json
from typing import Any

import click

from torchlock.cli.lockopts import lock_location, read_lock
from torchlock.cli.options import default_python, driver_setting, host_platform
from torchlock.errors import InputError


@click.command("check")
@click.option("--spec", "spec_file", metavar="FILE", help="The project spec. Default: ./")
@click.option("--lock", "lock_file", metavar="FILE", help="The lock. Default: the spec's lock.")
def check(spec_file: str | None, lock_file: str | None) -> int:
    """Exit 0 when the lock matches the spec, 1 (with what changed) when it is stale.

    Compares the digest of the spec's inputs with the one the lock records; makes no
    request. A missing or unreadable lock or spec exits 2. For CI and pre-commit.
    """
    from torchlock.lockfiles.spec import lock_inputs

    path, loaded = lock_location(lock_file, spec_file)
    if loaded is None:
        raise InputError(
            "no project spec to check the lock against",
            hint="give --spec FILE, or run `torchlock init`",
        )
    lock = read_lock(path)
    current = lock_inputs(
        loaded.spec,
        loaded.requirements,
        python=default_python(),
        platform=host_platform(None, None).conda_subdir,
        driver=driver_setting(None),
    )
    if current.digest == lock.inputs.digest:
        click.echo(f"{path} is up to date with {loaded.path}")
        return 0
    click.echo(f"{path} is stale: {loaded.path} changed since it was solved")
    for line in diff(lock.inputs.document(), current.document()):
        click.echo(line)
    click.echo("run `torchlock solve` to update it")
    return 1


def diff(locked: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """One ``- key = old`` / ``+ key = new`` pair per input that differs, by key."""
    lines = []
    for key in sorted(set(locked) | set(wanted)):
        old, new = locked.get(key), wanted.get(key)
        if old == new:
            continue
        if isinstance(old, list) and isinstance(new, list):
            for item in old:
                if item not in new:
                    lines.append(f"  - {key}: {json.dumps(item)}")
            for item in new:
                if item not in old:
                    lines.append(f"  + {key}: {json.dumps(item)}")
            if sorted(map(str, old)) == sorted(map(str, new)):
                lines.append(f"  ~ {key}: order {json.dumps(old)} -> {json.dumps(new)}")
            continue
        lines.append(f"  - {key} = {_show(old)}  (lock)")
        lines.append(f"  + {key} = {_show(new)}  (spec)")
    return lines


def _show(value: Any) -> str:
    return "(unset)" if value is None else json.dumps(value)
