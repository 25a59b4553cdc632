"""`torchlock export`: the lock in the formats other installers read."""

from __future__ import annotations

from pathlib import Path

import click

from torchlock.cli.lockopts import lock_location, read_lock
from torchlock.errors import LockfileError
from torchlock.target import Platform

FORMATS = ("requirements", "conda-lock", "environment", "pylock")
# the file names people type for the same formats
ALIASES = {
    "requirements.txt": "requirements",
    "conda-lock.yml": "conda-lock",
    "environment.yml": "environment",
    "pylock.toml": "pylock",
}


@click.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice([*FORMATS, *ALIASES]),
    callback=lambda ctx, param, value: ALIASES.get(value, value),
    required=True,
    help="requirements (pip, with --hash), conda-lock (conda-lock.yml v1), environment "
    "(conda environment.yml with a pip section), pylock (the PEP 751 file alone); the "
    "file names requirements.txt, conda-lock.yml, environment.yml and pylock.toml work too.",
)
@click.option("-o", "--output", metavar="FILE", help="Write to FILE (atomically). Default: stdout.")
@click.option("--lock", "lock_file", metavar="FILE", help="The lock. Default: the spec's lock.")
@click.option("--spec", "spec_file", metavar="FILE", help="The project spec. Default: ./")
@click.option(
    "--platform",
    metavar="linux-64|linux-aarch64|win-64|osx-arm64|osx-64",
    help="Only this target of the lock (no markers). Default: every target, with markers.",
)
@click.option(
    "--name",
    default="torchlock",
    show_default=True,
    callback=lambda ctx, param, value: _env_name(value),
    help="environment.yml's name.",
)
def export(
    fmt: str,
    output: str | None,
    lock_file: str | None,
    spec_file: str | None,
    platform: str | None,
    name: str,
) -> None:
    """Export the lock as pip requirements, conda-lock.yml, environment.yml or PEP 751.

    Every file is pinned by name and sha256, so the export installs the same bytes from
    any mirror of the indexes it was resolved against.
    """
    if fmt == "pylock" and output is not None:
        from torchlock.lockfiles.pylock import check_output_name

        check_output_name(output, "e.g. -o pylock.toml or -o pylock.cu121.toml")
    path, _ = lock_location(lock_file, spec_file)
    lock = read_lock(path)
    subdir = None
    if platform is not None:
        subdir = Platform.parse(platform).conda_subdir
        if subdir not in lock.platforms:
            raise LockfileError(
                str(path),
                f"the lock is not for {subdir}: its targets are {', '.join(lock.platforms)}",
                place="tool.torchlock.targets",
                hint=f"add {subdir} to the spec's platforms (or --platform) and solve again",
            )
    source = path.name
    if fmt == "requirements":
        from torchlock.lockfiles import requirements

        text = requirements.render(lock, source=source, platform=subdir)
    elif fmt == "conda-lock":
        from torchlock.lockfiles import condalock

        text = condalock.render(lock, source=source, platform=subdir)
    elif fmt == "environment":
        from torchlock.lockfiles import environment

        text = environment.render(lock, source=source, name=name, platform=subdir)
    else:
        if subdir is not None:
            raise click.UsageError("--platform does not apply to --format pylock")
        from torchlock.lockfiles import pylock

        text = pylock.render(lock)
    if output is None:
        click.echo(text, nl=False)
        return
    from torchlock.lockfiles.files import write_atomic

    write_atomic(Path(output), text)
    click.echo(f"wrote {output} ({fmt} from {source})", err=True)


def _env_name(value: str) -> str:
    """A name conda accepts for an environment: not empty, no space, / : or #."""
    if not value.strip() or any(c in value for c in " /:#\t\n"):
        raise click.BadParameter(f"{value!r} is not a conda environment name (no spaces, / : #)")
    return value
